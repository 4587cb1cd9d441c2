// vl3 bench: prefill and decode speed, peak memory, and decode bandwidth against the machine's own
// bandwidth measured in the same run (the ratio is what to compare across machines).
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include "cli.h"
#include "model/videollama3.h"
#include "vl3/generate.h"
#include "vl3/runtime.h"

namespace vl3cli {
namespace {

struct BenchFlags {
  ModelFlags model;
  int prompt_tokens = 128, gen_tokens = 32, reps = 3;
};

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Bytes of weights one decode step reads: every LLM decoder weight, the final norm and the LM head
// (the tied embedding matrix counts once, as the head; the embedding lookup reads one row).
size_t decode_weight_bytes(vl3::VideoLlama3Impl& net) {
  size_t bytes = 0;
  for (const auto& item : net.llm->named_parameters(true)) {
    const auto& n = item.key();
    if (n.rfind("vision_encoder", 0) == 0 || n.rfind("mm_projector", 0) == 0 || n.rfind("embed_tokens", 0) == 0)
      continue;
    bytes += item.value().nbytes();
  }
  return bytes + net.lm_head_weight().nbytes();
}

void run(const BenchFlags& f) {
  const int threads = f.model.threads > 0 ? f.model.threads : int(std::thread::hardware_concurrency());
  double t0 = now_s();
  auto model = load_model(f.model);
  const double load_s = now_s() - t0;
  auto& net = *model->net;
  const size_t rss_after_load = peak_rss_bytes();

  std::printf("model %s | dtype %s | threads %d | BLAS core %s\n", model->dir.c_str(),
              c10::toString(model->dtype), threads, vl3::blas_core_name());
  std::printf("load            %.2f s\n", load_s);

  // Random prompt of ordinary tokens (no specials), fixed seed.
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int> dist(0, 150000);
  vl3::Prompt prompt;
  for (int i = 0; i < f.prompt_tokens; ++i) prompt.ids.push_back(dist(rng));

  vl3::GenerateOptions go;
  go.max_new_tokens = f.gen_tokens;
  go.stop = {-2};  // never stop early
  double best_prefill = 0, best_decode = 0;
  for (int r = 0; r < f.reps; ++r) {
    auto res = vl3::generate(*model, prompt, go);
    best_prefill = std::max(best_prefill, res.stats.prompt_tokens / res.stats.prefill_seconds);
    if (res.stats.generated_tokens > 1)
      best_decode = std::max(best_decode, (res.stats.generated_tokens - 1) / res.stats.decode_seconds);
  }
  const size_t step_bytes = decode_weight_bytes(net);
  const double achieved = best_decode * double(step_bytes);
  const double machine = vl3::measure_read_bandwidth(threads);
  std::printf("prefill         %.1f tok/s (%d-token prompt, best of %d)\n", best_prefill, f.prompt_tokens, f.reps);
  std::printf("decode          %.2f tok/s (%d tokens, best of %d)\n", best_decode, f.gen_tokens, f.reps);
  std::printf("decode traffic  %.3f GB of weights per token -> %.2f GB/s achieved\n", step_bytes / 1e9, achieved / 1e9);
  std::printf("machine         %.2f GB/s DRAM read bandwidth (measured now, %d threads)\n", machine / 1e9, threads);
  std::printf("ratio           %.1f %% of measured bandwidth (target: 80 %%)\n", 100.0 * achieved / machine);
  std::printf("peak memory     %.2f GiB after load, %.2f GiB overall (VmHWM)\n", rss_after_load / 1073741824.0,
              peak_rss_bytes() / 1073741824.0);
}

}  // namespace

void register_bench(CLI::App& app) {
  auto f = std::make_shared<BenchFlags>();
  auto* cmd = app.add_subcommand("bench", "Prefill/decode tokens/s, peak memory, decode bandwidth ratio");
  add_model_flags(cmd, f->model);
  cmd->add_option("--prompt-tokens", f->prompt_tokens, "Prompt length for prefill");
  cmd->add_option("--gen-tokens", f->gen_tokens, "Tokens to decode");
  cmd->add_option("--reps", f->reps, "Repetitions (best is reported)");
  cmd->callback([f] { run(*f); });
}

}  // namespace vl3cli
