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
  std::string prompt, messages_file, system;
  bool add_system_prompt = false, greedy = false, timing = false, show_prompt = false;
  std::optional<double> temperature, top_p, repetition_penalty;
  std::optional<int> top_k, max_new_tokens;
  uint64_t seed = 0;
  int ctx = 0;
};

std::vector<vl3::Message> build_messages(const RunFlags& f) {
  std::vector<vl3::Message> msgs;
  if (!f.messages_file.empty()) {
    msgs = vl3::messages_from_json_text(read_text_file_or_stdin(f.messages_file), f.messages_file);
  }
  if (!f.system.empty()) {
    if (!msgs.empty() && msgs[0].role == "system")
      throw vl3::Error("--system given but the messages already start with a system message");
    vl3::Message m;
    m.role = "system";
    m.content_is_string = true;
    m.content.push_back({vl3::ContentPart::Type::Text, f.system});
    msgs.insert(msgs.begin(), m);
  }
  if (!f.prompt.empty()) {
    vl3::Message m;
    m.role = "user";
    m.content_is_string = true;
    m.content.push_back({vl3::ContentPart::Type::Text, f.prompt});
    msgs.push_back(m);
  }
  if (msgs.empty() || msgs.back().role == "system") throw vl3::Error("nothing to answer: give -p TEXT or --messages FILE");
  return msgs;
}

void run(const RunFlags& f) {
  auto t0 = std::chrono::steady_clock::now();
  auto msgs = build_messages(f);  // validate the input before the (slow) load
  auto model = load_model(f.model);
  double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  vl3::PromptOptions po;
  po.chat.add_system_prompt = f.add_system_prompt;
  auto prompt = vl3::prepare_prompt(*model, msgs, po);
  if (f.show_prompt) std::cerr << prompt.text << "\n";

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
  add_model_flags(cmd, f->model);
  cmd->add_option("-p,--prompt", f->prompt, "User message text");
  cmd->add_option("--messages", f->messages_file, "Conversation JSON (OpenAI/HF message shape; - = stdin)");
  cmd->add_option("--system", f->system, "System message");
  cmd->add_flag("--add-system-prompt", f->add_system_prompt, "Insert VideoLLaMA3's default system prompt");
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
