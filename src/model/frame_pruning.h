// Differential Frame Pruner (DiffFP): drops the merged video tokens whose pixels did not change since the
// previous sampled frame.
#pragma once
#include <torch/torch.h>

#include "model/vision.h"

namespace vl3 {

// pixel_values [N, 3*p*p] (normalised, merge-block order) -> keep mask [M] (bool) over the merged tokens
// of all items, in (item, frame, row, col) order. For a video item with t > 1: token j of frame i >= 1 is
// kept when 255 * mean|P_i[j] - P_{i-1}[j]| > threshold (P_{i-1}: the previous *sampled* frame, whether
// or not its token was kept); frame 0 is kept whole; a frame keeping fewer than `min_tokens` keeps its
// first `min_tokens`. Images and single-frame videos keep everything.
torch::Tensor frame_pruning_mask(const torch::Tensor& pixel_values, const std::vector<VisualGrid>& grids,
                                 double threshold = 0.1, int64_t min_tokens = 1);

// Removes from `ids` the visual placeholders (`visual_token`) whose mask entry is false, in order.
// Throws vl3::Error when the placeholder count differs from the mask length.
std::vector<int64_t> prune_placeholders(const std::vector<int64_t>& ids, int64_t visual_token,
                                        const torch::Tensor& keep);

}  // namespace vl3
