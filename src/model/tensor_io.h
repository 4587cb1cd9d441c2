// safetensors <-> torch tensors (CPU), for dumps, tests and training checkpoints.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>

#include "vl3/safetensors.h"

namespace vl3 {

// A CPU tensor over the view's bytes (shared when aligned, else copied): valid while the file lives.
torch::Tensor tensor_from_view(const TensorView& v);

// Reads every tensor of one file (copied: independent of the mapping).
std::map<std::string, torch::Tensor> read_tensors(const std::string& path);

// Writes tensors (any supported dtype; moved to CPU, made contiguous) atomically.
void write_tensors(const std::string& path, const std::map<std::string, torch::Tensor>& tensors);

DType dtype_from_torch(torch::Dtype d);

}  // namespace vl3
