// The training forward: a packed micro-batch (samples back to back in one row) -> summed cross-entropy.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "train/sample.h"

namespace vl3 {

class VideoLlama3Impl;

struct StepLoss {
  torch::Tensor loss_sum;     // fp32 scalar: sum of token cross-entropies over supervised labels (has grad)
  int64_t supervised = 0;     // number of supervised labels in the row (after packing)
  int64_t tokens = 0;         // row length
  int64_t visual_tokens = 0;  // visual features spliced in
};

// Concatenates the samples (positions restart at 0 for each; attention stays inside each; the first label
// of every sample ignored, as the flattening collator does), runs vision tower + merge + projector on all
// their images and frames, splices the kept features, runs the LLM, and sums the next-token cross-entropy
// (logits[t] against labels[t+1]) over supervised positions. Logits are computed only at those positions.
StepLoss packed_loss(VideoLlama3Impl& net, const std::vector<const TrainSample*>& samples,
                     bool gradient_checkpointing = false);

}  // namespace vl3
