// vl3 train: fine-tune a VideoLLaMA3 checkpoint (stage presets 1-4; flags > --config file > stage preset).
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli.h"
#include "train/distributed.h"
#include "vl3/error.h"
#include "vl3/runtime.h"
#include "vl3/train.h"

namespace vl3cli {
namespace {

std::string hms(double s) {
  if (!(s >= 0) || s > 1e7) return "--:--";
  char buf[32];
  const long t = long(s + 0.5);
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%02ld:%02ld", t / 60, t % 60);
  return buf;
}

struct TrainFlags {
  vl3::TrainOptions o;
  int stage = 3;
  std::string config;
  int threads = 0, nproc = 1;
  bool no_prune = false, prune = false, quiet = false;
};

void run(TrainFlags& f, CLI::App* cmd) {
  // Preset, then the config file, then the flags that were given.
  vl3::TrainOptions o;
  vl3::apply_stage_preset(o, f.stage);
  if (!f.config.empty()) {
    auto j = nlohmann::json::parse(read_text_file_or_stdin(f.config), nullptr, false);
    if (j.is_discarded()) throw vl3::Error(f.config + ": not valid JSON");
    vl3::apply_train_config(o, j);
  }
  auto given = [&](const char* flag) { return cmd->count(flag) > 0; };
#define VL3_FLAG(flag, field) \
  if (given(flag)) o.field = f.o.field;
  VL3_FLAG("--model", model_dir) VL3_FLAG("--out", out_dir) VL3_FLAG("--data", data)
  VL3_FLAG("--media-root", media_root) VL3_FLAG("--strict", strict) VL3_FLAG("--lr-llm", lr_llm)
  VL3_FLAG("--lr-projector", lr_projector) VL3_FLAG("--lr-vision", lr_vision)
  VL3_FLAG("--image-merge-size", image_merge_size) VL3_FLAG("--prune-threshold", prune_threshold)
  VL3_FLAG("--train-on-prompt", train_on_prompt)
  VL3_FLAG("--weight-decay", weight_decay) VL3_FLAG("--warmup-ratio", warmup_ratio)
  VL3_FLAG("--lr-scheduler-type", lr_scheduler_type)
  VL3_FLAG("--max-grad-norm", max_grad_norm) VL3_FLAG("--global-batch-size", global_batch_size)
  VL3_FLAG("--micro-batch-size", micro_batch_size) VL3_FLAG("--epochs", epochs)
  VL3_FLAG("--max-steps", max_steps) VL3_FLAG("--seed", seed) VL3_FLAG("--dtype", dtype)
  VL3_FLAG("--gradient-checkpointing", gradient_checkpointing)
  VL3_FLAG("--model-max-length", model_max_length) VL3_FLAG("--mm-max-length", mm_max_length)
  VL3_FLAG("--fps", fps) VL3_FLAG("--max-frames", max_frames) VL3_FLAG("--save-steps", save_steps)
  VL3_FLAG("--save-total-limit", save_total_limit) VL3_FLAG("--resume", resume) VL3_FLAG("--prefetch", prefetch)
#undef VL3_FLAG
  if (f.no_prune) o.frame_pruning = false;
  if (f.prune) o.frame_pruning = true;

  // --nproc N: this process becomes the launcher of N workers (torchrun style) on this machine.
  if (f.nproc > 1 && !std::getenv("WORLD_SIZE")) {
    if (!f.threads && !std::getenv("VL3_THREADS")) {
      const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
      setenv("VL3_THREADS", std::to_string(std::max(1u, hw / unsigned(f.nproc))).c_str(), 1);
    }
    const int rc = vl3::launch_local_workers(f.nproc, program_argv());
    if (rc != 0) throw vl3::Error("a training worker failed (exit status " + std::to_string(rc) + ")");
    return;
  }
  if (f.threads > 0) vl3::init_threads(f.threads);

  const bool tty = isatty(fileno(stderr));
  bool main_rank = true;
  if (const char* r = std::getenv("RANK")) main_rank = std::string(r) == "0";
  auto on_step = [&](const vl3::TrainProgress& p) {
    if (!main_rank || f.quiet) return;
    char line[256];
    std::snprintf(line, sizeof line, "step %lld/%lld  loss %.4f  lr %.3g  grad %.3g  %.0f tok/s  %s<%s%s",
                  (long long)p.step, (long long)p.total_steps, p.loss, p.lr, p.grad_norm, p.tokens_per_second,
                  hms(p.elapsed_seconds).c_str(), hms(p.eta_seconds).c_str(), p.checkpoint_written ? "  [saved]" : "");
    if (tty) {
      const int width = 24, done = int(double(width) * double(p.step) / double(std::max<int64_t>(1, p.total_steps)));
      std::cerr << "\r\033[K[" << std::string(size_t(done), '#') << std::string(size_t(width - done), '.') << "] "
                << line << (p.step == p.total_steps ? "\n" : "") << std::flush;
    } else {
      std::cout << line << "\n";
    }
  };
  auto on_event = [&](const vl3::TrainEvent& e) {
    if (!main_rank) return;
    if (tty) std::cerr << "\r\033[K";
    std::cerr << (e.kind == vl3::TrainEvent::Kind::SkippedRecord ? "skipped: " : "") << e.text << "\n";
  };
  auto s = vl3::train(o, on_step, on_event);
  if (main_rank)
    std::cout << "trained " << (s.steps - s.start_step) << " steps (" << s.samples << " samples, " << s.tokens
              << " tokens, " << s.skipped << " records skipped) in " << hms(s.seconds) << "; final loss "
              << s.final_loss << "; model in " << s.final_dir << "\n";
}

}  // namespace

void register_train(CLI::App& app) {
  auto f = std::make_shared<TrainFlags>();
  auto* cmd = app.add_subcommand("train", "Fine-tune a checkpoint: the four-stage VideoLLaMA3 recipe");
  auto& o = f->o;
  cmd->add_option("-m,--model", o.model_dir, "Checkpoint to start from");
  cmd->add_option("--data", o.data, "Annotation files (.json array or .jsonl), official format")->expected(1, -1);
  cmd->add_option("--out", o.out_dir, "Output directory (checkpoints, final model, metrics.jsonl)");
  cmd->add_option("--media-root", o.media_root, "Base of relative media paths (default: each file's directory)");
  cmd->add_option("--stage", f->stage, "Stage preset 1-4 (trainable modules, learning rates, merge, pruning)");
  cmd->add_option("--config", f->config, "JSON file of training options (TrainOptions field names)");
  cmd->add_flag("--strict", o.strict, "A bad record stops training (default: skipped and counted)");
  cmd->add_option("--lr-llm", o.lr_llm, "LLM learning rate (0: frozen)");
  cmd->add_option("--lr-projector", o.lr_projector, "Projector learning rate (0: frozen)");
  cmd->add_option("--lr-vision", o.lr_vision, "Vision encoder learning rate (0: frozen)");
  cmd->add_option("--image-merge-size", o.image_merge_size, "Image token merge (stage 4: 2)");
  cmd->add_flag("--no-prune", f->no_prune, "No Differential Frame Pruning");
  cmd->add_flag("--prune", f->prune, "Differential Frame Pruning on");
  cmd->add_option("--prune-threshold", o.prune_threshold, "DiffFP threshold");
  cmd->add_flag("--train-on-prompt", o.train_on_prompt, "Also supervise user/system text (language pretraining)");
  cmd->add_option("--weight-decay", o.weight_decay, "AdamW weight decay (default 0)");
  cmd->add_option("--warmup-ratio", o.warmup_ratio, "Warm-up fraction of the steps (default 0.03)");
  cmd->add_option("--lr-scheduler-type", o.lr_scheduler_type, "cosine (default), linear or constant_with_warmup");
  cmd->add_option("--max-grad-norm", o.max_grad_norm, "Gradient clipping (default 1.0; 0: off)");
  cmd->add_option("--global-batch-size", o.global_batch_size, "Samples per optimizer step, all processes");
  cmd->add_option("--micro-batch-size", o.micro_batch_size, "Samples packed per row");
  cmd->add_option("--epochs", o.epochs, "Epochs (default 1)");
  cmd->add_option("--max-steps", o.max_steps, "Stop after this many optimizer steps");
  cmd->add_option("--seed", o.seed, "Data order seed");
  cmd->add_option("--dtype", o.dtype, "Compute dtype: f32 (default) or bf16 (fp32 master weights)");
  cmd->add_flag("--gradient-checkpointing", o.gradient_checkpointing, "Recompute LLM layers in backward");
  cmd->add_option("--model-max-length", o.model_max_length, "Truncate samples to this many tokens");
  cmd->add_option("--mm-max-length", o.mm_max_length, "Visual-token budget per sample");
  cmd->add_option("--fps", o.fps, "Video sampling rate");
  cmd->add_option("--max-frames", o.max_frames, "Most frames per video");
  cmd->add_option("--save-steps", o.save_steps, "Checkpoint every N steps (always at the end)");
  cmd->add_option("--save-total-limit", o.save_total_limit, "Keep only the newest N checkpoints");
  cmd->add_flag("--resume", o.resume, "Continue from the newest OUT/checkpoint-N");
  cmd->add_option("--prefetch", o.prefetch, "Steps prepared ahead by the loader thread");
  cmd->add_option("--threads", f->threads, "CPU threads per process");
  cmd->add_option("--nproc", f->nproc, "Start this many data-parallel worker processes on this machine");
  cmd->add_flag("-q,--quiet", f->quiet, "No per-step output");
  cmd->callback([f, cmd] { run(*f, cmd); });
}

}  // namespace vl3cli
