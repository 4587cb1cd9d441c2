// Building blocks shared by the vision tower and the LLM, registered under Hugging Face parameter names.
// Parameters are created uninitialised in the requested dtype: they are always filled from a
// checkpoint (or by make-model's initialiser), so no fp32 random init is wasted on 2B weights.
#pragma once
#include <torch/torch.h>

namespace vl3 {

// y = x W^T + b, W [out, in] ("weight"), optional b [out] ("bias").
class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in, int64_t out, bool bias, const torch::TensorOptions& opt);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight, bias;
};
TORCH_MODULE(Linear);

// LayerNorm with weight and bias (the vision tower).
class LayerNormImpl : public torch::nn::Module {
 public:
  LayerNormImpl(int64_t dim, double eps, const torch::TensorOptions& opt);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight, bias;
  double eps;
};
TORCH_MODULE(LayerNorm);

// Qwen2 RMSNorm: computed in fp32, cast back, then scaled (transformers' Qwen2RMSNorm order).
class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps, const torch::TensorOptions& opt);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight;
  double eps;
};
TORCH_MODULE(RMSNorm);

// [.., d] -> [-x2, x1] with x1, x2 the two halves (NeoX "rotate half").
torch::Tensor rotate_half(const torch::Tensor& x);

// Decoding-sized products (at most kDecodeRows activation rows, bf16 CPU, no autograd) go to our own
// memory-bound kernel (src/kernels/gemv.h) instead of libtorch's bf16 GEMM.
constexpr int64_t kDecodeRows = 4;
bool decode_kernel_applies(const torch::Tensor& x, const torch::Tensor& w);
// x [.., K] bf16, w [N, K] bf16, b [N] bf16 or undefined -> [.., N] in out_dtype (bf16 or fp32).
torch::Tensor decode_linear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b,
                            torch::Dtype out_dtype);

// Softmax attention of q [Hq, T, hd] over k, v [Hkv, S, hd] (grouped-query: Hq % Hkv == 0).
// causal: query i (absolute position q_offset + i) sees keys 0..q_offset+i. Scores and softmax in fp32;
// queries are processed in chunks so memory stays O(chunk * S), never O(T * S) for long prompts.
// Returns [Hq, T, hd] in q's dtype. Differentiable (plain torch ops).
torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        bool causal, int64_t q_offset, double scale, int64_t chunk = 512);

// Block-diagonal (non-causal) attention: q, k, v [H, N, hd]; each of `segments` (lengths summing to N: the
// images and video frames of the vision tower) attends to itself only. Consecutive segments of equal length
// (a video's frames, same-size images) run as one batch of [m*H, L, hd] products where that is fast (fp32, or
// any dtype off the CPU), instead of a dozen small ops per segment; a batch holds at most max_score_elems
// scores (64 MB in fp32 by default). Returns [H, N, hd]. Differentiable.
torch::Tensor block_diagonal_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                       const std::vector<int64_t>& segments, double scale,
                                       int64_t max_score_elems = int64_t(1) << 24);
// The reference: attention() on every segment in turn.
torch::Tensor block_diagonal_attention_reference(const torch::Tensor& q, const torch::Tensor& k,
                                                 const torch::Tensor& v, const std::vector<int64_t>& segments,
                                                 double scale);

}  // namespace vl3
