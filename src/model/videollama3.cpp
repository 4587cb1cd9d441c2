#include "model/videollama3.h"

#include "vl3/error.h"

namespace vl3 {

VideoLlama3Impl::VideoLlama3Impl(const VideoLlama3Config& c, const torch::TensorOptions& opt) : config(c) {
  llm = Qwen2Model(c.text, opt);
  vision = VisionEncoder(c.vision, opt);
  projector = Projector(c.vision.hidden_size, c.text.hidden_size, opt);
  if (c.layout == CheckpointLayout::Official) {
    register_module("model", llm);
    llm->register_module("vision_encoder", vision);
    llm->register_module("mm_projector", projector);
  } else {
    auto model = register_module("model", std::make_shared<torch::nn::Module>());
    model->register_module("language_model", llm);
    model->register_module("vision_model", vision);
    model->register_module("projector", projector);
  }
  if (!c.text.tie_word_embeddings)
    lm_head = register_module("lm_head", Linear(c.text.hidden_size, c.text.vocab_size, false, opt));
}

const torch::Tensor& VideoLlama3Impl::lm_head_weight() const {
  return lm_head ? lm_head->weight : llm->embed_tokens->weight;
}

torch::Tensor VideoLlama3Impl::logits(const torch::Tensor& hidden) {
  if (decode_kernel_applies(hidden, lm_head_weight())) return decode_linear(hidden, lm_head_weight(), {}, torch::kFloat32);
  return torch::nn::functional::linear(hidden, lm_head_weight()).to(torch::kFloat32);  // [T, V]
}

torch::Tensor VideoLlama3Impl::encode_visual(const torch::Tensor& pixel_values,
                                             const std::vector<VisualGrid>& grids,
                                             const TensorObserver& observe) {
  int64_t n = 0;
  for (const auto& g : grids) {
    if (g.h % g.merge || g.w % g.merge)
      throw Error("visual grid " + std::to_string(g.h) + "x" + std::to_string(g.w) +
                  " is not divisible by its merge size " + std::to_string(g.merge));
    n += g.patches();
  }
  const int64_t row = int64_t(config.vision.num_channels) * config.vision.patch_size * config.vision.patch_size;
  if (pixel_values.dim() != 2 || pixel_values.size(0) != n || pixel_values.size(1) != row)
    throw Error("pixel_values has shape " + std::string(c10::str(pixel_values.sizes())) + " but the grids need [" +
                std::to_string(n) + ", " + std::to_string(row) + "]");
  auto feats = vision(pixel_values, grids, observe);  // [N, C]
  if (observe) observe("pre_merge", -1, feats);
  auto merged = spatial_merge(feats, grids);           // [M, C]
  if (observe) observe("merged", -1, merged);
  auto projected = projector(merged);                  // [M, H]
  if (observe) observe("projected", -1, projected);
  return projected;
}

torch::Tensor VideoLlama3Impl::embed(const torch::Tensor& ids, const torch::Tensor& visual) {
  auto embeds = llm->embed(ids);  // [L, H]
  auto is_visual = (ids == int64_t(config.image_token_index));
  if (config.video_token() != config.image_token_index) is_visual |= (ids == int64_t(config.video_token()));
  const int64_t n_placeholders = is_visual.sum().item<int64_t>();
  const int64_t n_features = visual.defined() ? visual.size(0) : 0;
  if (n_placeholders != n_features)
    throw Error("the prompt has " + std::to_string(n_placeholders) + " visual placeholder tokens but " +
                std::to_string(n_features) + " visual features were computed");
  if (n_features == 0) return embeds;
  // Replace (not add to) the placeholder rows, in order.
  auto idx = is_visual.nonzero().squeeze(1);
  return embeds.index_copy(0, idx, visual.to(embeds.scalar_type()));
}

}  // namespace vl3
