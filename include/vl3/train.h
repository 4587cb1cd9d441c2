// Training: the four-stage VideoLLaMA3 recipe (stage presets, packed micro-batches, AdamW with a cosine
// schedule, gradient accumulation, atomic checkpoints with exact resume, data parallelism over c10d).
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace vl3 {

struct TrainOptions {
  // What and where.
  std::string model_dir;                 // the checkpoint to start from
  std::string out_dir;                   // checkpoints, final model, metrics.jsonl
  std::vector<std::string> data;         // annotation files (.json / .jsonl)
  std::string media_root;                // base of relative media paths ("": each annotation file's directory)
  bool strict = false;                   // a bad record stops training instead of being skipped

  // Stage preset (stage_preset fills the fields below; flags and a config file override them).
  int stage = 3;
  double lr_llm = 1e-5, lr_projector = 1e-5, lr_vision = 2e-6;  // <= 0: that module is frozen
  int image_merge_size = 1;              // 2 in stage 4
  bool frame_pruning = true;             // DiffFP (stages 3 and 4)
  double prune_threshold = 0.1;
  bool train_on_prompt = false;          // also supervise the text of user/system turns (language pretraining;
                                         // off in the paper's stages: only assistant turns are supervised)

  // Optimisation.
  double weight_decay = 0.0;
  double warmup_ratio = 0.03;
  std::string lr_scheduler_type = "cosine";  // HF names: "cosine", "linear", "constant_with_warmup"
  double max_grad_norm = 1.0;            // <= 0: no clipping
  int global_batch_size = 8;             // samples per optimizer step over all processes
  int micro_batch_size = 2;              // samples packed into one row (per_device_train_batch_size)
  int epochs = 1;
  int64_t max_steps = 0;                 // > 0: stop after this many optimizer steps (overrides epochs)
  uint64_t seed = 42;                    // data order
  std::string dtype = "f32";             // compute dtype: "f32" or "bf16" (bf16 keeps fp32 master weights)
  bool gradient_checkpointing = false;
  int64_t model_max_length = 16384;
  int mm_max_length = 10240;
  double fps = 0;                        // 0: processor_config
  int max_frames = 0;                    // 0: processor_config

  // Checkpoints.
  int save_steps = 0;                    // > 0: a checkpoint every N steps (always one at the end)
  int save_total_limit = 0;              // > 0: keep only the newest N checkpoint-* directories
  bool resume = false;                   // continue from the newest OUT/checkpoint-N
  int prefetch = 2;                      // steps prepared ahead by the loader thread
};

// The paper's stage settings: 1 trains vision encoder (1e-5) and projector (1e-3), LLM frozen, no pruning;
// 2-4 train everything (LLM 1e-5, projector 1e-5, vision 2e-6); 3-4 prune frames; 4 merges images 2x2.
// Throws vl3::Error for a stage outside 1..4.
void apply_stage_preset(TrainOptions& opt, int stage);

// Overrides from a JSON object whose keys are the TrainOptions field names (unknown keys are an error).
void apply_train_config(TrainOptions& opt, const nlohmann::json& j);

struct TrainProgress {
  int64_t step = 0, total_steps = 0;     // step just finished (1-based)
  double loss = 0, lr = 0, grad_norm = 0;
  int64_t tokens = 0, supervised = 0;    // of this step, over all processes
  double step_seconds = 0, tokens_per_second = 0, elapsed_seconds = 0, eta_seconds = 0;
  int64_t skipped = 0;                   // bad records so far
  bool checkpoint_written = false;
};

struct TrainEvent {
  enum class Kind { Info, SkippedRecord };
  Kind kind = Kind::Info;
  std::string text;
};

struct TrainSummary {
  int64_t steps = 0, start_step = 0, samples = 0, skipped = 0, tokens = 0;
  double seconds = 0, final_loss = 0;
  std::string final_dir;
  int rank = 0, world_size = 1;
};

// Runs training (as one worker when RANK/WORLD_SIZE are set). Progress and events go to the callbacks
// (the library never prints); every step is also a line in OUT/metrics.jsonl (rank 0).
TrainSummary train(const TrainOptions& opt, const std::function<void(const TrainProgress&)>& on_step = nullptr,
                   const std::function<void(const TrainEvent&)>& on_event = nullptr);

// vl3 dump --train-sample: one sample's labels, loss and fp32 gradients of every parameter the stage trains
// (no optimizer step). `sample_json` is a record in the annotation format or a messages conversation.
// Returns the tensors by name: input_ids, labels (int64 [1, L]), loss (f32 [1]), num_supervised,
// grad.<HF parameter name>.
struct Model;
std::map<std::string, torch::Tensor> train_sample_dump(Model& model, const nlohmann::json& sample_json,
                                                       const std::string& media_root, int stage);

}  // namespace vl3
