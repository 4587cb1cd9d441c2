// The official image processor's arithmetic: resize targets under the visual-token budget, and the
// normalised, patchified pixel rows the vision encoder reads. Pure C++ (no libtorch).
#pragma once
#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "vl3/media.h"

namespace vl3 {

// One visual item as the processor sees it before resizing: source size (first frame for videos), frame
// count (1 for images) and merge size (1 for images at inference, 2 for videos).
struct VisualSize {
  int height = 0, width = 0;
  int frames = 1;
  int merge = 1;
};

// (height, width) targets, multiples of patch*merge, in true (H, W) order (the official inference copy
// swaps them for PIL images; we do not). When every item has the same merge size: the budget
// max_tokens*f^2 is split evenly over all images and frames, rounded to f, shrunk (floor) when over it and
// grown (ceil) to at least min_tokens per item. With mixed merge sizes: one global scale when the total
// exceeds max_tokens, no minimum (as the official batched_resize). A side that would round to 0 (extreme
// aspect ratios, where the official code fails) is clamped to f.
std::vector<std::pair<int, int>> resize_targets(const std::vector<VisualSize>& items, int patch_size,
                                                int min_tokens, int max_tokens);

struct Normalization {
  double rescale_factor = 1.0 / 255.0;
  std::array<float, 3> mean = {0.5f, 0.5f, 0.5f};
  std::array<float, 3> std = {0.5f, 0.5f, 0.5f};
};

// Appends the patch rows of one resized frame (height and width multiples of patch*merge) to `out`:
// (gh/m * gw/m) blocks in raster order, each m*m patches in raster order, each patch 3*p*p values ordered
// (channel, y, x); value = (float32(u8 * rescale) - mean) / std in float32, as transformers computes it.
void patchify(const Image& frame, int patch_size, int merge, const Normalization& norm, std::vector<float>& out);

}  // namespace vl3
