// VL3-SigLIP-NaViT vision tower and the VideoLLaMA3 projector.
// Names: embeddings.patch_embedding.{weight [C,3,p,p], bias}, encoder.layers.{i}.{layer_norm1,layer_norm2,
// self_attn.{q,k,v,out}_proj, mlp.fc1, mlp.fc2}, post_layernorm; projector readout.{0,2}.
#pragma once
#include <torch/torch.h>

#include "model/layers.h"
#include "model/qwen2.h"  // TensorObserver
#include "vl3/config.h"

namespace vl3 {

// One visual item: an image (t = 1) or a video (t frames), gh x gw patches per frame, merge size m.
struct VisualGrid {
  int64_t t = 1, h = 0, w = 0, merge = 1;
  bool video = false;
  int64_t patches() const { return t * h * w; }
  int64_t merged_tokens() const { return t * (h / merge) * (w / merge); }
};

class PatchEmbeddingImpl : public torch::nn::Module {
 public:
  PatchEmbeddingImpl(const VisionConfig& c, const torch::TensorOptions& opt);
  torch::Tensor forward(const torch::Tensor& pixels);  // [N, 3*p*p] -> [N, C]: the stride-p conv as a matmul
  torch::Tensor weight, bias;
};
TORCH_MODULE(PatchEmbedding);

class VisionAttentionImpl : public torch::nn::Module {
 public:
  VisionAttentionImpl(const VisionConfig& c, const torch::TensorOptions& opt);
  // x [N, C]; cos/sin [N, head_dim]; segments: patch counts of each image/frame (sum N).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const std::vector<int64_t>& segments);
  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};
  int64_t n_heads, head_dim;
};
TORCH_MODULE(VisionAttention);

class VisionMLPImpl : public torch::nn::Module {
 public:
  VisionMLPImpl(const VisionConfig& c, const torch::TensorOptions& opt);
  torch::Tensor forward(const torch::Tensor& x);  // fc2(gelu_tanh(fc1(x)))
  Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(VisionMLP);

class VisionLayerImpl : public torch::nn::Module {
 public:
  VisionLayerImpl(const VisionConfig& c, const torch::TensorOptions& opt);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const std::vector<int64_t>& segments);
  LayerNorm layer_norm1{nullptr}, layer_norm2{nullptr};
  VisionAttention self_attn{nullptr};
  VisionMLP mlp{nullptr};
};
TORCH_MODULE(VisionLayer);

class VisionEncoderImpl : public torch::nn::Module {
 public:
  VisionEncoderImpl(const VisionConfig& c, const torch::TensorOptions& opt);

  // pixel_values [N, 3*p*p] in merge-block order (see docs) -> [N, C] after post_layernorm.
  torch::Tensor forward(const torch::Tensor& pixel_values, const std::vector<VisualGrid>& grids,
                        const TensorObserver& observe = nullptr);
  // 2-D rotary cos/sin [N, head_dim] for the patches of `grids`, in pixel_values row order.
  std::pair<torch::Tensor, torch::Tensor> rope(const std::vector<VisualGrid>& grids, torch::Dtype dtype,
                                               torch::Device device) const;

  VisionConfig config;
  std::shared_ptr<torch::nn::Module> embeddings;  // holds patch_embedding
  PatchEmbedding patch_embedding{nullptr};
  std::shared_ptr<torch::nn::Module> encoder;     // holds layers
  torch::nn::ModuleList layers;
  LayerNorm post_layernorm{nullptr};
  torch::Tensor inv_freq;  // [head_dim/4] fp32
};
TORCH_MODULE(VisionEncoder);

// Spatial merge after the encoder: per item, merge-block order -> raster [t, h, w, C], bilinear resize
// to (h/m, w/m) (align_corners=False; for m=2 the 2x2 mean), flattened frame, row, col. [N,C] -> [M,C].
torch::Tensor spatial_merge(const torch::Tensor& features, const std::vector<VisualGrid>& grids);

class ProjectorImpl : public torch::nn::Module {
 public:
  ProjectorImpl(int64_t vision_hidden, int64_t llm_hidden, const torch::TensorOptions& opt);
  torch::Tensor forward(const torch::Tensor& x);  // readout.2(gelu_erf(readout.0(x)))
  torch::nn::Sequential readout{nullptr};
};
TORCH_MODULE(Projector);

}  // namespace vl3
