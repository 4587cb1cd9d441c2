// Gradient checkpointing: run a block without keeping its activations and recompute it during backward
// (the reentrant variant of torch.utils.checkpoint).
#pragma once
#include <torch/torch.h>

#include <functional>

namespace vl3 {

using Block = std::function<torch::Tensor(const torch::Tensor&)>;

// fn(x) with the same value and gradients (for x and for every parameter fn uses) as calling fn directly,
// but only x is kept for backward; fn runs a second time there. fn must be deterministic.
torch::Tensor checkpointed(const Block& fn, const torch::Tensor& x);

}  // namespace vl3
