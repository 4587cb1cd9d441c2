// A loaded VideoLLaMA3 checkpoint: configs, tokenizer and the network. The entry point of every frontend.
#pragma once
#include <torch/torch.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vl3/config.h"
#include "vl3/tokenizer.h"

namespace vl3 {

class VideoLlama3Impl;
class SafetensorsCheckpoint;

struct LoadOptions {
  // Dtype the weights are held and computed in. Unset: the checkpoint's own dtype (bf16 for the
  // released models; fp32 for the golden checkpoint). torch::kFloat32 for reference numerics.
  std::optional<torch::Dtype> dtype;
  torch::Device device = torch::kCPU;
};

struct Model {
  std::string dir;
  VideoLlama3Config config;
  ProcessorConfig processor;
  GenerationConfig generation;
  Tokenizer tokenizer;
  std::shared_ptr<VideoLlama3Impl> net;
  torch::Dtype dtype = torch::kFloat32;
  torch::Device device = torch::kCPU;

  // Reads DIR/config.json, tokenizer.json, the safetensors weights (single or sharded) and the optional
  // processor/generation configs. Every problem is a vl3::Error naming the file and what is wrong.
  static std::unique_ptr<Model> load(const std::string& dir, const LoadOptions& opt = {});

  // Token ids that end generation: <|im_end|>, config eos and generation_config eos.
  std::vector<TokenId> stop_tokens() const;
};

// Builds the network for `config` with uninitialised parameters (device "meta" gives names and shapes
// without memory).
std::shared_ptr<VideoLlama3Impl> build_network(const VideoLlama3Config& config, const torch::TensorOptions& opt);

// Copies checkpoint tensors into the network's parameters, name for name. Missing, unexpected and
// mis-shaped tensors are collected and reported together in one vl3::Error.
void load_weights(VideoLlama3Impl& net, const SafetensorsCheckpoint& ckpt, const std::string& origin);

// Parameter name -> tensor, in registration order (what a checkpoint of this network holds).
std::vector<std::pair<std::string, torch::Tensor>> named_weights(VideoLlama3Impl& net);

// Writes the network's parameters as DIR/model.safetensors (or shards) in `dtype`.
void save_weights(VideoLlama3Impl& net, const std::string& dir, torch::Dtype dtype,
                  size_t max_shard_bytes = size_t(5) << 30);


}  // namespace vl3
