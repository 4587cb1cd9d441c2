#include "model/qwen2.h"

#include <cmath>

#include "model/checkpointing.h"
#include "vl3/error.h"

namespace vl3 {

Qwen2AttentionImpl::Qwen2AttentionImpl(const Qwen2Config& c, const torch::TensorOptions& opt)
    : n_heads(c.num_attention_heads), n_kv(c.num_key_value_heads), head_dim(c.head_dim()) {
  q_proj = register_module("q_proj", Linear(c.hidden_size, n_heads * head_dim, true, opt));
  k_proj = register_module("k_proj", Linear(c.hidden_size, n_kv * head_dim, true, opt));
  v_proj = register_module("v_proj", Linear(c.hidden_size, n_kv * head_dim, true, opt));
  o_proj = register_module("o_proj", Linear(n_heads * head_dim, c.hidden_size, false, opt));
}

torch::Tensor Qwen2AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                          const torch::Tensor& sin, torch::Tensor* k_cache,
                                          torch::Tensor* v_cache, int64_t pos0,
                                          const std::vector<int64_t>& segments) {
  const int64_t T = x.size(0);
  // Projections with bias, split into heads: [heads, T, head_dim].
  auto q = q_proj(x).view({T, n_heads, head_dim}).transpose(0, 1);
  auto k = k_proj(x).view({T, n_kv, head_dim}).transpose(0, 1);
  auto v = v_proj(x).view({T, n_kv, head_dim}).transpose(0, 1);
  // 1-D rotary positions on q and k (rotate-half over the full head_dim).
  q = q * cos + rotate_half(q) * sin;
  k = k * cos + rotate_half(k) * sin;
  torch::Tensor keys = k, values = v;
  if (k_cache) {
    // Append this call's keys/values; attend over everything cached so far.
    k_cache->narrow(1, pos0, T).copy_(k);
    v_cache->narrow(1, pos0, T).copy_(v);
    keys = k_cache->narrow(1, 0, pos0 + T);
    values = v_cache->narrow(1, 0, pos0 + T);
  }
  const double scale = 1.0 / std::sqrt(double(head_dim));
  torch::Tensor out;
  if (segments.size() > 1) {
    // Packed samples: causal attention inside each segment only (never a [T, T] mask).
    std::vector<torch::Tensor> outs;
    int64_t s0 = 0;
    for (int64_t n : segments) {
      outs.push_back(attention(q.narrow(1, s0, n), keys.narrow(1, s0, n), values.narrow(1, s0, n), true, 0, scale));
      s0 += n;
    }
    out = torch::cat(outs, 1);  // [heads, T, head_dim]
  } else {
    out = attention(q, keys, values, /*causal=*/true, pos0, scale);
  }
  return o_proj(out.transpose(0, 1).reshape({T, n_heads * head_dim}));  // [T, H]
}

Qwen2MLPImpl::Qwen2MLPImpl(const Qwen2Config& c, const torch::TensorOptions& opt) {
  gate_proj = register_module("gate_proj", Linear(c.hidden_size, c.intermediate_size, false, opt));
  up_proj = register_module("up_proj", Linear(c.hidden_size, c.intermediate_size, false, opt));
  down_proj = register_module("down_proj", Linear(c.intermediate_size, c.hidden_size, false, opt));
}

torch::Tensor Qwen2MLPImpl::forward(const torch::Tensor& x) {
  return down_proj(torch::silu(gate_proj(x)) * up_proj(x));
}

Qwen2DecoderLayerImpl::Qwen2DecoderLayerImpl(const Qwen2Config& c, const torch::TensorOptions& opt) {
  self_attn = register_module("self_attn", Qwen2Attention(c, opt));
  mlp = register_module("mlp", Qwen2MLP(c, opt));
  input_layernorm = register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps, opt));
  post_attention_layernorm =
      register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps, opt));
}

torch::Tensor Qwen2DecoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                             const torch::Tensor& sin, torch::Tensor* k_cache,
                                             torch::Tensor* v_cache, int64_t pos0,
                                             const std::vector<int64_t>& segments) {
  auto h = x + self_attn(input_layernorm(x), cos, sin, k_cache, v_cache, pos0, segments);
  return h + mlp(post_attention_layernorm(h));
}

Qwen2ModelImpl::Qwen2ModelImpl(const Qwen2Config& c, const torch::TensorOptions& opt) : config(c) {
  embed_tokens = register_module(
      "embed_tokens", torch::nn::Embedding(torch::nn::EmbeddingOptions(c.vocab_size, c.hidden_size)
                                               ._weight(torch::empty({c.vocab_size, c.hidden_size}, opt))));
  for (int i = 0; i < c.num_hidden_layers; ++i) layers->push_back(Qwen2DecoderLayer(c, opt));
  register_module("layers", layers);
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps, opt));
  // transformers: 1 / theta^(arange(0, d, 2).float() / d), in fp32.
  const int64_t d = c.head_dim();
  inv_freq = 1.0 / torch::pow(torch::tensor(c.rope_theta, torch::kFloat64).to(torch::kFloat32),
                              torch::arange(0, d, 2, torch::kLong).to(torch::kFloat32) / double(d));
}

torch::Tensor Qwen2ModelImpl::embed(const torch::Tensor& ids) {
  auto max_id = ids.numel() ? ids.max().item<int64_t>() : 0;
  auto min_id = ids.numel() ? ids.min().item<int64_t>() : 0;
  if (min_id < 0 || max_id >= config.vocab_size)
    throw Error("token id " + std::to_string(min_id < 0 ? min_id : max_id) +
                " is outside the model's vocabulary of " + std::to_string(config.vocab_size));
  return embed_tokens(ids);
}

std::pair<torch::Tensor, torch::Tensor> Qwen2ModelImpl::rope(const torch::Tensor& positions,
                                                             torch::Dtype dtype) const {
  auto freqs = torch::outer(positions.to(torch::kFloat32), inv_freq.to(positions.device()));  // [T, d/2]
  auto emb = torch::cat({freqs, freqs}, -1);                                                 // [T, d]
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

KVCache Qwen2ModelImpl::make_cache(int64_t capacity) const {
  KVCache cache;
  cache.capacity = capacity;
  auto opt = embed_tokens->weight.options().requires_grad(false);
  // CPU attention runs in fp32 (layers.cpp): a bf16 cache would be converted in every layer at every step,
  // O(context) work per token. bf16 -> fp32 is exact, so an fp32 cache holds the same values.
  const auto dt = embed_tokens->weight.scalar_type();
  if (opt.device().is_cpu() && (dt == torch::kBFloat16 || dt == torch::kHalf)) opt = opt.dtype(torch::kFloat32);
  for (int i = 0; i < config.num_hidden_layers; ++i) {
    cache.k.push_back(torch::empty({config.num_key_value_heads, capacity, config.head_dim()}, opt));
    cache.v.push_back(torch::empty({config.num_key_value_heads, capacity, config.head_dim()}, opt));
  }
  return cache;
}

torch::Tensor Qwen2ModelImpl::forward(const torch::Tensor& embeds, KVCache* cache,
                                      const TensorObserver& observe) {
  const int64_t T = embeds.size(0);
  const int64_t pos0 = cache ? cache->length : 0;
  if (cache && pos0 + T > cache->capacity)
    throw Error("the sequence needs " + std::to_string(pos0 + T) + " positions but the context holds " +
                std::to_string(cache->capacity));
  auto positions = torch::arange(pos0, pos0 + T, torch::TensorOptions(torch::kLong).device(embeds.device()));
  auto [cos, sin] = rope(positions, embeds.scalar_type());  // [T, head_dim]
  auto h = embeds;                                          // [T, H]
  if (observe) observe("hidden_states", 0, h);
  for (size_t i = 0; i < layers->size(); ++i) {
    auto* layer = layers[i]->as<Qwen2DecoderLayerImpl>();
    h = layer->forward(h, cos, sin, cache ? &cache->k[i] : nullptr, cache ? &cache->v[i] : nullptr, pos0);
    if (observe && i + 1 < layers->size()) observe("hidden_states", int(i) + 1, h);
  }
  h = norm(h);  // [T, H]
  if (observe) observe("hidden_states", int(layers->size()), h);
  if (cache) cache->length = pos0 + T;
  return h;
}

torch::Tensor Qwen2ModelImpl::forward_packed(const torch::Tensor& embeds, const std::vector<int64_t>& segments,
                                             bool checkpoint) {
  const int64_t T = embeds.size(0);
  int64_t total = 0;
  std::vector<torch::Tensor> pos;
  for (int64_t n : segments) {
    if (n <= 0) throw Error("packed row: empty segment");
    pos.push_back(torch::arange(n, torch::kLong));
    total += n;
  }
  if (total != T)
    throw Error("packed row: segments cover " + std::to_string(total) + " tokens but the row has " +
                std::to_string(T));
  auto positions = torch::cat(pos).to(embeds.device());    // [T], restarting at 0 per sample
  auto [cos, sin] = rope(positions, embeds.scalar_type());  // [T, head_dim]
  auto h = embeds;                                          // [T, H]
  for (size_t i = 0; i < layers->size(); ++i) {
    auto* layer = layers[i]->as<Qwen2DecoderLayerImpl>();
    auto run = [layer, cos = cos, sin = sin, segments](const torch::Tensor& x) {
      return layer->forward(x, cos, sin, nullptr, nullptr, 0, segments);
    };
    h = checkpoint ? checkpointed(run, h) : run(h);
  }
  return norm(h);  // [T, H]
}

}  // namespace vl3
