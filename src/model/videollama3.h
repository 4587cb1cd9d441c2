// The VideoLLaMA3 network: vision tower -> spatial merge -> projector -> spliced into the Qwen2 LLM.
// Module tree per checkpoint layout, so that named_parameters() are the checkpoint's tensor names:
//   official:  model.{embed_tokens,layers,norm} + model.vision_encoder.* + model.mm_projector.* (+ lm_head)
//   HF-native: model.language_model.* + model.vision_model.* + model.projector.* (+ lm_head)
#pragma once
#include <torch/torch.h>

#include "model/qwen2.h"
#include "model/vision.h"
#include "vl3/config.h"

namespace vl3 {

class VideoLlama3Impl : public torch::nn::Module {
 public:
  VideoLlama3Impl(const VideoLlama3Config& c, const torch::TensorOptions& opt);

  // hidden [T, H] -> logits [T, V] (fp32). Tied checkpoints use embed_tokens.weight.
  torch::Tensor logits(const torch::Tensor& hidden);
  const torch::Tensor& lm_head_weight() const;

  // Vision tower + merge + projector: pixel_values [N, 3*p*p] -> projected features [M, H].
  torch::Tensor encode_visual(const torch::Tensor& pixel_values, const std::vector<VisualGrid>& grids,
                              const TensorObserver& observe = nullptr);

  // Token embeddings [L, H] with the rows whose id is an image/video placeholder replaced, in order,
  // by `visual` [M, H]. Throws vl3::Error when the placeholder count differs from M.
  torch::Tensor embed(const torch::Tensor& ids, const torch::Tensor& visual = {});

  VideoLlama3Config config;
  Qwen2Model llm{nullptr};
  VisionEncoder vision{nullptr};
  Projector projector{nullptr};
  Linear lm_head{nullptr};  // only when tie_word_embeddings is false
};
TORCH_MODULE(VideoLlama3);

}  // namespace vl3
