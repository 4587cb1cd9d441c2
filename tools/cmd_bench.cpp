// vl3 bench: prefill and decode speed, peak memory, and decode bandwidth against the machine's own
// bandwidth measured in the same run (the ratio is what to compare across machines).
#include <chrono>
#include <cmath>
#include <fstream>
#include <cstdio>
#include <random>
#include <thread>

#include "bench_train.h"
#include "cli.h"
#include "model/videollama3.h"
#include "vl3/generate.h"
#include "vl3/runtime.h"

namespace vl3cli {
namespace {

struct BenchFlags {
  ModelFlags model;
  int prompt_tokens = 128, gen_tokens = 32, reps = 3;
  bool image = false;
  std::vector<int64_t> patches = {1024, 4096, 16384};
  std::string video;
  InputFlags input;  // --video options (fps, max frames, budget, pruning)
  bool train = false;
  BenchTrainOptions train_opt;
};

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Resets VmHWM so that the next peak_rss_bytes() is the peak of what follows.
void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

// Matrix-multiply peak of this machine in `dtype`, measured now (2048^3, best of 3).
double matmul_peak_flops(torch::Dtype dtype) {
  torch::NoGradGuard ng;
  auto a = torch::randn({2048, 2048}).to(dtype), b = torch::randn({2048, 2048}).to(dtype);
  torch::matmul(a, b);
  double best = 0;
  for (int i = 0; i < 3; ++i) {
    double t0 = now_s();
    torch::matmul(a, b);
    best = std::max(best, 2.0 * 2048 * 2048 * 2048 / (now_s() - t0));
  }
  return best;
}

// Vision tower + merge + projector FLOPs for one image of n patches (matmuls and attention).
double vision_flops(const vl3::VideoLlama3Config& c, int64_t n) {
  const double C = c.vision.hidden_size, I = c.vision.intermediate_size, H = c.text.hidden_size;
  const double per_layer = 2.0 * n * (4 * C * C + 2 * C * I) + 4.0 * double(n) * n * C;
  const double row = 3.0 * c.vision.patch_size * c.vision.patch_size;
  return c.vision.num_hidden_layers * per_layer + 2.0 * n * row * C + 2.0 * n * (C * H + H * H);
}

void bench_image(vl3::Model& model, const BenchFlags& f) {
  auto& net = *model.net;
  const double peak = matmul_peak_flops(model.dtype);
  std::printf("matmul peak     %.1f GFLOP/s (%s, 2048^3, measured now)\n", peak / 1e9, c10::toString(model.dtype));
  std::printf("%10s %10s %12s %12s %10s %14s\n", "patches", "grid", "vision s", "GFLOP/s", "of peak", "peak RSS GiB");
  torch::NoGradGuard ng;
  for (int64_t n : f.patches) {
    const int64_t side = int64_t(std::lround(std::sqrt(double(n))));
    vl3::VisualGrid g{1, side, n / side, 1, false};
    auto px = torch::rand({g.patches(), 588}).mul_(2).sub_(1).to(model.dtype);
    reset_peak_rss();
    double t0 = now_s();
    net.encode_visual(px, {g});
    const double dt = now_s() - t0;
    const double flops = vision_flops(net.config, g.patches());
    std::printf("%10lld %5lldx%-4lld %12.2f %12.1f %9.1f%% %14.2f\n", (long long)g.patches(), (long long)g.h,
                (long long)g.w, dt, flops / dt / 1e9, 100.0 * flops / dt / peak, peak_rss_bytes() / 1073741824.0);
  }
}

void bench_video(vl3::Model& model, const BenchFlags& f) {
  InputFlags in = f.input;
  in.videos = {f.video};
  in.prompt = "What happens in this video?";
  auto msgs = build_messages(in);
  reset_peak_rss();
  auto prompt = vl3::prepare_prompt(model, msgs, prompt_options(in));
  const auto& s = prompt.stats;
  vl3::GenerateOptions go;
  go.max_new_tokens = 1;
  go.stop = {-2};
  auto res = vl3::generate(model, prompt, go);
  std::printf("video           %s\n", f.video.c_str());
  std::printf("frames          %d sampled\n", s.frames);
  std::printf("visual tokens   %lld before pruning, %lld after (%.1f%% kept)\n", (long long)s.visual_tokens,
              (long long)s.visual_tokens_kept, 100.0 * s.visual_tokens_kept / std::max<int64_t>(1, s.visual_tokens));
  std::printf("decode video    %.2f s\n", s.load_seconds);
  std::printf("preprocess      %.2f s (resize done while decoding is counted under decode)\n", s.preprocess_seconds);
  std::printf("vision encoder  %.2f s\n", s.vision_seconds);
  std::printf("prefill         %.2f s (%lld tokens, %.1f tok/s)\n", res.stats.prefill_seconds,
              (long long)res.stats.prompt_tokens, res.stats.prompt_tokens / res.stats.prefill_seconds);
  std::printf("peak memory     %.2f GiB during the request (VmHWM)\n", peak_rss_bytes() / 1073741824.0);
}


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
  if (f.image) return bench_image(*model, f);
  if (f.train) {
    const double peak = matmul_peak_flops(model->dtype);
    reset_peak_rss();
    bench_train(*model, f.train_opt, peak);
    std::printf("peak memory     %.2f GiB during the steps (VmHWM; weights, gradients, AdamW state, activations)\n",
                peak_rss_bytes() / 1073741824.0);
    return;
  }
  if (!f.video.empty()) return bench_video(*model, f);

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
  cmd->add_flag("--image", f->image, "Vision encoder: time, GFLOP/s and peak memory per image size");
  cmd->add_option("--patches", f->patches, "With --image: patch counts (default 1024 4096 16384)");
  cmd->add_option("--video", f->video, "Video request: decode, preprocess, vision, prefill times; tokens; memory");
  cmd->add_option("--fps", f->input.fps, "With --video: sampling rate");
  cmd->add_option("--max-frames", f->input.max_frames, "With --video: most frames");
  cmd->add_flag("--no-prune", f->input.no_prune, "With --video: no frame pruning");
  cmd->add_flag("--train", f->train, "Training step: time, tokens/s, GFLOP/s against the matmul peak, memory");
  cmd->add_option("--train-tokens", f->train_opt.tokens, "With --train: tokens in the packed row (default 1024)");
  cmd->add_option("--train-patches", f->train_opt.patches, "With --train: image patches in the row (default 256)");
  cmd->add_flag("--gradient-checkpointing", f->train_opt.checkpointing, "With --train: recompute LLM layers");
  cmd->callback([f] {
    BenchFlags g = *f;
    g.train_opt.reps = f->reps;
    run(g);
  });
}

}  // namespace vl3cli
