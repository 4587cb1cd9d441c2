// Qwen2 / Qwen2.5 decoder (the VideoLLaMA3 LLM), batch 1, with a preallocated KV cache.
// Module names follow transformers' Qwen2Model: embed_tokens, layers.{i}.self_attn.{q,k,v,o}_proj,
// layers.{i}.mlp.{gate,up,down}_proj, layers.{i}.{input,post_attention}_layernorm, norm.
#pragma once
#include <torch/torch.h>

#include <functional>

#include "model/layers.h"
#include "vl3/config.h"

namespace vl3 {

// Per-layer key/value storage [n_kv_heads, capacity, head_dim]; `length` positions are filled.
struct KVCache {
  std::vector<torch::Tensor> k, v;
  int64_t length = 0;
  int64_t capacity = 0;
  void reset() { length = 0; }
};

// Observer for intermediate tensors (vl3 dump, debugging): (name, layer or -1, tensor).
using TensorObserver = std::function<void(const std::string&, int, const torch::Tensor&)>;

class Qwen2AttentionImpl : public torch::nn::Module {
 public:
  Qwen2AttentionImpl(const Qwen2Config& c, const torch::TensorOptions& opt);
  // x [T, H]; cos/sin [T, head_dim]; keys/values of this call are appended to (k_cache, v_cache) at
  // `pos0` when a cache is given; returns [T, H]. `segments` (packed training rows, no cache): lengths of
  // the samples concatenated in x; attention is causal inside each and never crosses them.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        torch::Tensor* k_cache, torch::Tensor* v_cache, int64_t pos0,
                        const std::vector<int64_t>& segments = {});
  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  int64_t n_heads, n_kv, head_dim;
};
TORCH_MODULE(Qwen2Attention);

class Qwen2MLPImpl : public torch::nn::Module {
 public:
  Qwen2MLPImpl(const Qwen2Config& c, const torch::TensorOptions& opt);
  torch::Tensor forward(const torch::Tensor& x);  // down(silu(gate(x)) * up(x))
  Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(Qwen2MLP);

class Qwen2DecoderLayerImpl : public torch::nn::Module {
 public:
  Qwen2DecoderLayerImpl(const Qwen2Config& c, const torch::TensorOptions& opt);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        torch::Tensor* k_cache, torch::Tensor* v_cache, int64_t pos0,
                        const std::vector<int64_t>& segments = {});
  Qwen2Attention self_attn{nullptr};
  Qwen2MLP mlp{nullptr};
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
};
TORCH_MODULE(Qwen2DecoderLayer);

class Qwen2ModelImpl : public torch::nn::Module {
 public:
  Qwen2ModelImpl(const Qwen2Config& c, const torch::TensorOptions& opt);

  torch::Tensor embed(const torch::Tensor& ids);  // [T] int64 -> [T, H]

  // Runs the decoder over `embeds` [T, H] at positions cache.length .. cache.length+T-1 (or 0..T-1
  // without a cache), appending to the cache. Returns the final-normed hidden states [T, H].
  torch::Tensor forward(const torch::Tensor& embeds, KVCache* cache,
                        const TensorObserver& observe = nullptr);

  // Training forward over a packed row: `embeds` [T, H] holds samples of the given lengths (sum T) back to
  // back; positions restart at 0 for each and attention stays inside each (causal). With `checkpoint`, each
  // decoder layer keeps only its input and is recomputed during backward (gradient checkpointing).
  // Returns the final-normed hidden states [T, H].
  torch::Tensor forward_packed(const torch::Tensor& embeds, const std::vector<int64_t>& segments,
                               bool checkpoint = false);

  KVCache make_cache(int64_t capacity) const;
  // cos, sin [T, head_dim] for integer positions (fp32 math, cast to `dtype`), as transformers does.
  std::pair<torch::Tensor, torch::Tensor> rope(const torch::Tensor& positions, torch::Dtype dtype) const;

  Qwen2Config config;
  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers;
  RMSNorm norm{nullptr};
  torch::Tensor inv_freq;  // [head_dim/2] fp32, not a parameter
};
TORCH_MODULE(Qwen2Model);

}  // namespace vl3
