// Random-weight checkpoints with the real layouts (and, for 2b/7b, the real shapes), seeded.
#pragma once
#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

#include "vl3/config.h"

namespace vl3 {

// "tiny" (the golden checkpoint's shapes: 64-wide, 2+2 layers, real vocabulary), "small" (the shipped
// self-trained model: 256-wide LLM and 192-wide vision tower, 4+4 layers, own vocabulary), "mid" (512-wide LLM, 8+8
// layers: training benchmarks), "2b", "7b".
VideoLlama3Config preset_config(const std::string& preset);

struct MakeModelOptions {
  std::string preset = "tiny";
  uint64_t seed = 0;
  CheckpointLayout layout = CheckpointLayout::Official;
  std::optional<torch::Dtype> dtype;  // unset: fp32 for tiny, bf16 for 2b/7b
  size_t max_shard_bytes = size_t(5) << 30;
  // A directory with tokenizer.json + tokenizer_config.json (vl3 make-tokenizer) to use instead of the
  // embedded Qwen2.5 tokenizer; vocab_size and the special token ids then come from it.
  std::string tokenizer_dir;
  // "golden" (the golden checkpoint's large scales: every part of a random model matters) or "train" (Hugging
  // Face's from-scratch init: N(0, 0.02) matrices, zero biases, unit norms). Empty: train for "small", else golden.
  std::string init;
  // config.json keys to change after the preset, as "key=value" (value is JSON; nested keys with dots:
  // "vision_encoder_config.num_hidden_layers=6"). A key the written config.json does not have is an error.
  std::vector<std::string> overrides;
};

// Writes config.json, model.safetensors (or shards + index), tokenizer.json, tokenizer_config.json,
// chat_template.json, preprocessor_config.json, processor_config.json and generation_config.json.
// Memory stays bounded by one shard. Same options -> same bytes.
void make_model(const std::string& out_dir, const MakeModelOptions& opt);

}  // namespace vl3
