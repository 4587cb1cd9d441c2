#include "model/vision.h"

#include <cmath>

namespace vl3 {

PatchEmbeddingImpl::PatchEmbeddingImpl(const VisionConfig& c, const torch::TensorOptions& opt) {
  weight = register_parameter(
      "weight", torch::empty({c.hidden_size, c.num_channels, c.patch_size, c.patch_size}, opt));
  bias = register_parameter("bias", torch::empty({c.hidden_size}, opt));
}

torch::Tensor PatchEmbeddingImpl::forward(const torch::Tensor& pixels) {
  // Conv2d(k = stride = p) over one p x p patch == Linear over its (c, y, x) values.
  return torch::nn::functional::linear(pixels, weight.reshape({weight.size(0), -1}), bias);
}

VisionAttentionImpl::VisionAttentionImpl(const VisionConfig& c, const torch::TensorOptions& opt)
    : n_heads(c.num_attention_heads), head_dim(c.head_dim()) {
  q_proj = register_module("q_proj", Linear(c.hidden_size, c.hidden_size, true, opt));
  k_proj = register_module("k_proj", Linear(c.hidden_size, c.hidden_size, true, opt));
  v_proj = register_module("v_proj", Linear(c.hidden_size, c.hidden_size, true, opt));
  out_proj = register_module("out_proj", Linear(c.hidden_size, c.hidden_size, true, opt));
}

torch::Tensor VisionAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                           const torch::Tensor& sin,
                                           const std::vector<int64_t>& segments) {
  const int64_t N = x.size(0);
  auto q = q_proj(x).view({N, n_heads, head_dim});
  auto k = k_proj(x).view({N, n_heads, head_dim});
  auto v = v_proj(x).view({N, n_heads, head_dim}).transpose(0, 1);  // [heads, N, hd]
  // 2-D rotary on q, k in fp32 (cos/sin [N, 1, hd] broadcast over heads), cast back.
  auto c = cos.unsqueeze(1), s = sin.unsqueeze(1);
  auto qf = q.to(torch::kFloat32), kf = k.to(torch::kFloat32);
  q = (qf * c + rotate_half(qf) * s).to(x.scalar_type()).transpose(0, 1);
  k = (kf * c + rotate_half(kf) * s).to(x.scalar_type()).transpose(0, 1);
  // Block-diagonal attention: each image / frame attends to itself only. Never an N x N mask.
  auto out = block_diagonal_attention(q, k, v, segments, 1.0 / std::sqrt(double(head_dim)));  // [heads, N, hd]
  return out_proj(out.transpose(0, 1).reshape({N, n_heads * head_dim}));
}

VisionMLPImpl::VisionMLPImpl(const VisionConfig& c, const torch::TensorOptions& opt) {
  fc1 = register_module("fc1", Linear(c.hidden_size, c.intermediate_size, true, opt));
  fc2 = register_module("fc2", Linear(c.intermediate_size, c.hidden_size, true, opt));
}

torch::Tensor VisionMLPImpl::forward(const torch::Tensor& x) {
  return fc2(torch::gelu(fc1(x), "tanh"));
}

VisionLayerImpl::VisionLayerImpl(const VisionConfig& c, const torch::TensorOptions& opt) {
  layer_norm1 = register_module("layer_norm1", LayerNorm(c.hidden_size, c.layer_norm_eps, opt));
  self_attn = register_module("self_attn", VisionAttention(c, opt));
  layer_norm2 = register_module("layer_norm2", LayerNorm(c.hidden_size, c.layer_norm_eps, opt));
  mlp = register_module("mlp", VisionMLP(c, opt));
}

torch::Tensor VisionLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                       const torch::Tensor& sin, const std::vector<int64_t>& segments) {
  auto h = x + self_attn(layer_norm1(x), cos, sin, segments);  // pre-LN attention
  return h + mlp(layer_norm2(h));                              // pre-LN MLP
}

VisionEncoderImpl::VisionEncoderImpl(const VisionConfig& c, const torch::TensorOptions& opt) : config(c) {
  embeddings = register_module("embeddings", std::make_shared<torch::nn::Module>());
  patch_embedding = embeddings->register_module("patch_embedding", PatchEmbedding(c, opt));
  encoder = register_module("encoder", std::make_shared<torch::nn::Module>());
  for (int i = 0; i < c.num_hidden_layers; ++i) layers->push_back(VisionLayer(c, opt));
  encoder->register_module("layers", layers);
  post_layernorm = register_module("post_layernorm", LayerNorm(c.hidden_size, c.layer_norm_eps, opt));
  // Rotary over head_dim/2 per axis: inv_freq[i] = 10000^(-2i / (head_dim/2)).
  const int64_t dim = c.head_dim() / 2;
  inv_freq = 1.0 / torch::pow(10000.0f, torch::arange(0, dim, 2, torch::kLong).to(torch::kFloat32) / double(dim));
}

std::pair<torch::Tensor, torch::Tensor> VisionEncoderImpl::rope(const std::vector<VisualGrid>& grids,
                                                                torch::Dtype dtype,
                                                                torch::Device device) const {
  // (row, col) of every patch in merge-block order: (frame, by, bx, my, mx) -> y = by*m+my, x = bx*m+mx.
  std::vector<torch::Tensor> pos;
  for (const auto& g : grids) {
    auto ys = torch::arange(g.h, torch::kLong).view({g.h, 1}).expand({g.h, g.w});
    auto xs = torch::arange(g.w, torch::kLong).view({1, g.w}).expand({g.h, g.w});
    auto block = [&](const torch::Tensor& a) {
      return a.reshape({g.h / g.merge, g.merge, g.w / g.merge, g.merge}).permute({0, 2, 1, 3}).flatten();
    };
    pos.push_back(torch::stack({block(ys), block(xs)}, -1).repeat({g.t, 1}));  // [t*h*w, 2]
  }
  auto p = torch::cat(pos, 0).to(torch::kFloat32);                               // [N, 2]
  auto ang_y = torch::outer(p.select(1, 0), inv_freq);                           // [N, hd/4]
  auto ang_x = torch::outer(p.select(1, 1), inv_freq);                           // [N, hd/4]
  auto ang = torch::cat({ang_y, ang_x}, -1);                                     // [N, hd/2]
  auto emb = torch::cat({ang, ang}, -1).to(device);                              // [N, hd]
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

torch::Tensor VisionEncoderImpl::forward(const torch::Tensor& pixel_values,
                                         const std::vector<VisualGrid>& grids,
                                         const TensorObserver& observe) {
  std::vector<int64_t> segments;  // one attention segment per image and per video frame
  for (const auto& g : grids)
    for (int64_t f = 0; f < g.t; ++f) segments.push_back(g.h * g.w);
  auto h = patch_embedding(pixel_values.to(patch_embedding->weight.scalar_type()));  // [N, C]
  if (observe) observe("patch_embeds", -1, h);
  auto [cos, sin] = rope(grids, torch::kFloat32, h.device());  // [N, hd], applied in fp32
  for (size_t i = 0; i < layers->size(); ++i) {
    h = layers[i]->as<VisionLayerImpl>()->forward(h, cos, sin, segments);
    if (observe) observe("encoder_layer_out", int(i), h);
  }
  return post_layernorm(h);  // [N, C]
}

torch::Tensor spatial_merge(const torch::Tensor& features, const std::vector<VisualGrid>& grids) {
  std::vector<torch::Tensor> outs;
  int64_t start = 0;
  const int64_t C = features.size(1);
  for (const auto& g : grids) {
    auto f = features.narrow(0, start, g.patches());
    start += g.patches();
    if (g.merge == 1) {
      outs.push_back(f);
      continue;
    }
    const int64_t m = g.merge;
    // merge-block order [t, h/m, w/m, m, m, C] -> raster [t, C, h, w]
    auto raster = f.view({g.t, g.h / m, g.w / m, m, m, C}).permute({0, 5, 1, 3, 2, 4}).reshape({g.t, C, g.h, g.w});
    auto merged = torch::nn::functional::interpolate(
        raster, torch::nn::functional::InterpolateFuncOptions()
                    .size(std::vector<int64_t>{g.h / m, g.w / m})
                    .mode(torch::kBilinear)
                    .align_corners(false));                                   // [t, C, h/m, w/m]
    outs.push_back(merged.permute({0, 2, 3, 1}).reshape({-1, C}));            // [t*(h/m)*(w/m), C]
  }
  return outs.size() == 1 ? outs[0] : torch::cat(outs, 0);
}

ProjectorImpl::ProjectorImpl(int64_t vision_hidden, int64_t llm_hidden, const torch::TensorOptions& opt) {
  readout = register_module(
      "readout", torch::nn::Sequential(Linear(vision_hidden, llm_hidden, true, opt),
                                       torch::nn::Functional([](const torch::Tensor& x) { return torch::gelu(x); }),
                                       Linear(llm_hidden, llm_hidden, true, opt)));
}

torch::Tensor ProjectorImpl::forward(const torch::Tensor& x) { return readout->forward(x); }

}  // namespace vl3
