// vl3 run: chat with a checkpoint; the answer streams to stdout token by token.
#include <chrono>
#include <cstdio>
#include <iostream>

#include "cli.h"
#include "vl3/chat.h"
#include "vl3/error.h"
#include "vl3/generate.h"

namespace vl3cli {
namespace {

struct RunFlags {
  ModelFlags model;
  InputFlags input;
  bool greedy = false, timing = false, show_prompt = false;
  std::optional<double> temperature, top_p, repetition_penalty;
  std::optional<int> top_k, max_new_tokens;
  uint64_t seed = 0;
  int ctx = 0;
};

void run(const RunFlags& f) {
  auto t0 = std::chrono::steady_clock::now();
  auto msgs = build_messages(f.input);  // validate the input before the (slow) load
  auto model = load_model(f.model);
  double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  auto prompt = vl3::prepare_prompt(*model, msgs, prompt_options(f.input));
  if (f.show_prompt) std::cerr << prompt.text << "\n";
  const auto& ps = prompt.stats;
  if (ps.videos > 0)
    std::fprintf(stderr, "video: %d frames sampled | %lld visual tokens -> %lld after pruning (%.0f%%) | decode %.2f s, "
                 "preprocess %.2f s, vision %.2f s\n", ps.frames, (long long)ps.visual_tokens,
                 (long long)ps.visual_tokens_kept, 100.0 * ps.visual_tokens_kept / std::max<int64_t>(1, ps.visual_tokens),
                 ps.load_seconds, ps.preprocess_seconds, ps.vision_seconds);
  else if (ps.images > 0 && f.timing)
    std::fprintf(stderr, "images: %d | %lld visual tokens | load %.2f s, preprocess %.2f s, vision %.2f s\n", ps.images,
                 (long long)ps.visual_tokens, ps.load_seconds, ps.preprocess_seconds, ps.vision_seconds);

  vl3::GenerateOptions go = vl3::default_generate_options(*model);
  if (f.temperature) {
    go.sampling.temperature = *f.temperature;
    go.sampling.do_sample = *f.temperature > 0;
  }
  if (f.top_p) go.sampling.top_p = *f.top_p;
  if (f.top_k) go.sampling.top_k = *f.top_k;
  if (f.repetition_penalty) go.sampling.repetition_penalty = *f.repetition_penalty;
  if (f.max_new_tokens) go.max_new_tokens = *f.max_new_tokens;
  if (f.greedy) go.sampling.do_sample = false;
  go.sampling.seed = f.seed;
  go.context_length = f.ctx;

  auto res = vl3::generate(*model, prompt, go, [](vl3::TokenId, const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return true;
  });
  std::fputc('\n', stdout);
  std::fflush(stdout);
  if (f.timing) {
    const auto& s = res.stats;
    std::fprintf(stderr, "load %.2f s | prefill %lld tok in %.3f s (%.1f tok/s) | decode %lld tok in %.3f s (%.2f tok/s)%s\n",
                 load_s, (long long)s.prompt_tokens, s.prefill_seconds, s.prompt_tokens / std::max(1e-9, s.prefill_seconds),
                 (long long)s.generated_tokens, s.decode_seconds,
                 s.generated_tokens > 1 ? (s.generated_tokens - 1) / std::max(1e-9, s.decode_seconds) : 0.0,
                 s.stopped_on_eos ? " | stopped at end token" : "");
  }
}

}  // namespace

void register_run(CLI::App& app) {
  auto f = std::make_shared<RunFlags>();
  auto* cmd = app.add_subcommand("run", "Answer a prompt (text streamed to stdout)");
  add_model_flags(cmd, f->model, /*required=*/false);
  add_input_flags(cmd, f->input);
  cmd->add_option("--max-new-tokens", f->max_new_tokens, "Most tokens to generate (default: generation_config or 1024)");
  cmd->add_option("--temperature", f->temperature, "Sampling temperature (0 = greedy)");
  cmd->add_option("--top-k", f->top_k, "Keep the k most likely tokens (0 = off)");
  cmd->add_option("--top-p", f->top_p, "Nucleus sampling mass (1 = off)");
  cmd->add_option("--repetition-penalty", f->repetition_penalty, "Penalty for tokens already seen (1 = off)");
  cmd->add_option("--seed", f->seed, "Sampling seed");
  cmd->add_flag("--greedy", f->greedy, "Greedy decoding, whatever generation_config.json says");
  cmd->add_option("--ctx", f->ctx, "Context length (default: max_position_embeddings)");
  cmd->add_flag("--timing", f->timing, "Print load / prefill / decode timing to stderr");
  cmd->add_flag("--show-prompt", f->show_prompt, "Print the rendered prompt to stderr");
  cmd->callback([f] { run(*f); });
}

}  // namespace vl3cli
