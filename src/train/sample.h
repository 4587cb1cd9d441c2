// One training sample: a conversation -> token ids, labels and the vision input, as the official processor
// (videollama3/model/processor.py, return_labels=True) and collators build them.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "model/vision.h"
#include "vl3/chat.h"
#include "vl3/model.h"

namespace vl3 {

constexpr int64_t kIgnoreIndex = -100;

struct SampleOptions {
  int image_merge_size = 1;        // 2 in stage 4
  int video_merge_size = 0;        // 0: processor_config (2)
  bool prune = false;              // Differential Frame Pruning (stages 3 and 4)
  double prune_threshold = 0.1;
  bool train_on_prompt = false;    // also supervise user/system text (not placeholders, not the role header)
  int64_t model_max_length = 16384;
  int mm_max_length = 10240;       // visual-token budget of the resize (over all items of the sample)
  double fps = 0;                  // 0: processor_config
  int max_frames = 0;              // 0: processor_config
};

struct TrainSample {
  std::string origin;              // where it came from (file:line), for messages
  std::vector<int64_t> ids;        // final ids: placeholders expanded, truncated, pruned ones removed
  std::vector<int64_t> labels;     // same length; kIgnoreIndex where not supervised
  torch::Tensor pixel_values;      // [N, 3*p*p] fp32; undefined for text-only samples
  std::vector<VisualGrid> grids;
  torch::Tensor keep;              // [M] bool over the merged tokens of this sample: which features are used
  int64_t num_supervised = 0;      // labels != kIgnoreIndex (before packing sets the first label to ignore)
  int64_t visual_tokens = 0;       // M (before pruning and truncation)
};

// Labels: every message is rendered alone (no system prompt, no generation prompt) and tokenized alone; in
// assistant messages the tokens after the generation prompt "<|im_start|>assistant\n" up to the final "\n"
// are supervised (the content and <|im_end|>), everything else is kIgnoreIndex. Then ids/labels are cut at
// model_max_length, features past the last kept placeholder are dropped, and pruned placeholders removed.
// With train_on_prompt, user and system turns are supervised the same way (after "<|im_start|>ROLE\n", up to
// the final "\n"), except the visual placeholders.
TrainSample prepare_train_sample(const Model& model, const std::vector<Message>& messages, const SampleOptions& opt,
                                 const std::string& media_root = "");

}  // namespace vl3
