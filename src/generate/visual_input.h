// Media of a conversation -> the vision encoder's input (pixel_values, grids), as the official processor.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "model/vision.h"
#include "vl3/chat.h"
#include "vl3/config.h"
#include "vl3/generate.h"

namespace vl3 {

struct VisualInput {
  std::vector<VisualGrid> grids;            // one per image/video part, in conversation order
  std::vector<VideoFrameInfo> videos;       // per video part: frame count and timestamps (for the template)
  std::vector<size_t> placeholder_counts;   // merged tokens per image and per video frame, in order
  torch::Tensor pixel_values;               // [N, 3*p*p] fp32
  std::map<std::string, torch::Tensor> debug;
};

// Loads, resizes and patchifies every image and video part of `messages`.
VisualInput load_visual_input(const std::vector<Message>& messages, const ProcessorConfig& proc,
                              const PromptOptions& opt, PromptStats& stats);

}  // namespace vl3
