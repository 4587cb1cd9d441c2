#include "model/layers.h"

#include <cmath>

#include "kernels/attention_bf16.h"
#include "kernels/gemv.h"
#include "model/torch_compat.h"

namespace vl3 {

LinearImpl::LinearImpl(int64_t in, int64_t out, bool has_bias, const torch::TensorOptions& opt) {
  weight = register_parameter("weight", torch::empty({out, in}, opt));
  if (has_bias) bias = register_parameter("bias", torch::empty({out}, opt));
}

bool decode_kernel_applies(const torch::Tensor& x, const torch::Tensor& w) {
  if (!x.device().is_cpu() || x.scalar_type() != torch::kBFloat16 || w.scalar_type() != torch::kBFloat16 ||
      !w.is_contiguous() || !kernels::gemv_bf16_available())
    return false;
  if (torch::GradMode::is_enabled() && (x.requires_grad() || w.requires_grad())) return false;
  return x.numel() / std::max<int64_t>(1, w.size(1)) <= kDecodeRows;
}

torch::Tensor decode_linear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b,
                            torch::Dtype out_dtype) {
  const int64_t K = w.size(1), N = w.size(0);
  auto xc = x.contiguous().view({-1, K});
  auto bc = b.defined() ? b.contiguous() : b;
  auto sizes = x.sizes().vec();
  sizes.back() = N;
  auto y = torch::empty(sizes, x.options().dtype(out_dtype));
  const auto* wp = reinterpret_cast<const uint16_t*>(w.data_ptr());
  const auto* xp = reinterpret_cast<const uint16_t*>(xc.data_ptr());
  const auto* bp = bc.defined() ? reinterpret_cast<const uint16_t*>(bc.data_ptr()) : nullptr;
  if (out_dtype == torch::kFloat32)
    kernels::gemv_bf16(wp, xp, bp, y.data_ptr<float>(), nullptr, xc.size(0), N, K);
  else
    kernels::gemv_bf16(wp, xp, bp, nullptr, reinterpret_cast<uint16_t*>(y.data_ptr()), xc.size(0), N, K);
  return y;
}

torch::Tensor LinearImpl::forward(const torch::Tensor& x) {
  if (decode_kernel_applies(x, weight) && (!bias.defined() || bias.scalar_type() == torch::kBFloat16))
    return decode_linear(x, weight, bias, torch::kBFloat16);
  return torch::nn::functional::linear(x, weight, bias);
}

LayerNormImpl::LayerNormImpl(int64_t dim, double eps_, const torch::TensorOptions& opt) : eps(eps_) {
  weight = register_parameter("weight", torch::empty({dim}, opt));
  bias = register_parameter("bias", torch::empty({dim}, opt));
}

torch::Tensor LayerNormImpl::forward(const torch::Tensor& x) {
  return torch::layer_norm(x, {weight.size(0)}, weight, bias, eps);
}

RMSNormImpl::RMSNormImpl(int64_t dim, double eps_, const torch::TensorOptions& opt) : eps(eps_) {
  weight = register_parameter("weight", torch::empty({dim}, opt));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  auto xf = x.to(torch::kFloat32);
  auto var = xf.pow(2).mean(-1, /*keepdim=*/true);
  xf = xf * torch::rsqrt(var + eps);
  return weight * xf.to(x.scalar_type());
}

torch::Tensor rotate_half(const torch::Tensor& x) {
  int64_t half = x.size(-1) / 2;
  auto x1 = x.narrow(-1, 0, half);
  auto x2 = x.narrow(-1, half, half);
  return torch::cat({-x2, x1}, -1);
}

namespace {

// [B, n, k] x [B, k, m] -> [B, n, m]. On CPU a loop of 2-D matmuls goes straight to BLAS sgemm and is ~3x
// faster than libtorch 1.13's batched matmul for attention shapes; autograd sees ordinary ops either way.
torch::Tensor per_head_matmul(const torch::Tensor& a, const torch::Tensor& b) {
  if (!a.device().is_cpu() || a.size(0) == 1) return torch::matmul(a, b);
  std::vector<torch::Tensor> outs;
  outs.reserve(size_t(a.size(0)));
  for (int64_t h = 0; h < a.size(0); ++h) outs.push_back(torch::mm(a[h], b[h]));
  return torch::stack(outs);
}

}  // namespace

torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        bool causal, int64_t q_offset, double scale, int64_t chunk) {
  const int64_t hq = q.size(0), T = q.size(1), hd = q.size(2);
  const int64_t hkv = k.size(0), S = k.size(1);
  const int64_t group = hq / hkv;
  TORCH_CHECK(hq % hkv == 0, "attention: query heads ", hq, " not a multiple of kv heads ", hkv);

  if (group == 1) {
    auto fused = compat::fused_attention(q, k, v, causal && q_offset == 0 && T == S, scale);
    if (fused.defined()) return fused;
  }
  // CPU bf16 inference, full (non-causal) attention — the vision encoder: oneDNN bf16 products with an fp32
  // softmax between them (src/kernels/attention_bf16.cpp; tested against its reference and this function).
  const bool grad = torch::GradMode::is_enabled() && (q.requires_grad() || k.requires_grad() || v.requires_grad());
  if (!causal && !grad && q.device().is_cpu() && q.scalar_type() == torch::kBFloat16 &&
      k.scalar_type() == torch::kBFloat16 && v.scalar_type() == torch::kBFloat16 && kernels::attention_bf16_available()) {
    auto qc = q.contiguous(), kc = k.contiguous(), vc = v.contiguous();
    auto out = torch::empty_like(qc);  // [H, T, hd]
    kernels::attention_bf16(reinterpret_cast<const uint16_t*>(qc.data_ptr()),
                            reinterpret_cast<const uint16_t*>(kc.data_ptr()),
                            reinterpret_cast<const uint16_t*>(vc.data_ptr()), reinterpret_cast<uint16_t*>(out.data_ptr()),
                            hq, hkv, T, S, hd, float(scale));
    return out;
  }
  // Group the query heads that share a kv head: [Hkv, group*T, hd] against [Hkv, S, hd].
  // On CPU, bf16/fp16 batched matmuls are an order of magnitude slower than fp32 ones (libtorch 1.13):
  // attention is small next to the projections, so it runs in fp32 there.
  if (q.device().is_cpu() && (q.scalar_type() == torch::kBFloat16 || q.scalar_type() == torch::kHalf))
    return attention(q.to(torch::kFloat32), k.to(torch::kFloat32), v.to(torch::kFloat32), causal, q_offset, scale,
                     chunk)
        .to(q.scalar_type());
  // Softmax in at least fp32 (fp64 inputs stay fp64: the reference tests run in double).
  const auto softmax_dtype = at::promote_types(q.scalar_type(), torch::kFloat32);
  auto qg = q.reshape({hkv, group, T, hd});
  auto kt = k.transpose(1, 2);  // [Hkv, hd, S]
  std::vector<torch::Tensor> outs;
  for (int64_t t0 = 0; t0 < T; t0 += chunk) {
    const int64_t tn = std::min(chunk, T - t0);
    // Keys beyond the last query's position are never seen: trim them for causal chunks.
    const int64_t s_end = causal ? std::min(S, q_offset + t0 + tn) : S;
    auto qc = qg.narrow(2, t0, tn).reshape({hkv, group * tn, hd});
    auto scores = (per_head_matmul(qc, kt.narrow(2, 0, s_end)) * scale).to(softmax_dtype);
    scores = scores.view({hkv, group, tn, s_end});
    if (causal) {
      auto qpos = torch::arange(q_offset + t0, q_offset + t0 + tn, torch::kLong).view({tn, 1});
      auto kpos = torch::arange(0, s_end, torch::kLong).view({1, s_end});
      auto mask = (kpos > qpos).to(scores.device());  // [tn, s_end], true = hidden
      scores = scores.masked_fill(mask, -std::numeric_limits<float>::infinity());
    }
    auto probs = torch::softmax(scores, -1).to(v.scalar_type()).view({hkv, group * tn, s_end});
    auto out = per_head_matmul(probs, v.narrow(1, 0, s_end));  // [Hkv, group*tn, hd]
    outs.push_back(out.view({hkv, group, tn, hd}));
  }
  auto out = outs.size() == 1 ? outs[0] : torch::cat(outs, 2);
  return out.reshape({hq, T, hd});
}

torch::Tensor block_diagonal_attention_reference(const torch::Tensor& q, const torch::Tensor& k,
                                                 const torch::Tensor& v, const std::vector<int64_t>& segments,
                                                 double scale) {
  std::vector<torch::Tensor> outs;
  int64_t start = 0;
  for (int64_t len : segments) {
    outs.push_back(attention(q.narrow(1, start, len), k.narrow(1, start, len), v.narrow(1, start, len),
                             /*causal=*/false, 0, scale));
    start += len;
  }
  return outs.size() == 1 ? outs[0] : torch::cat(outs, 1);  // [H, N, hd]
}

torch::Tensor block_diagonal_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                       const std::vector<int64_t>& segments, double scale, int64_t max_score_elems) {
  // On the CPU, bf16 batched products are slow in libtorch 1.13: single segments go through attention()
  // (and its oneDNN bf16 kernel), as in the reference.
  const bool batch_ok = !q.device().is_cpu() || q.scalar_type() == torch::kFloat32 || q.scalar_type() == torch::kFloat64;
  const int64_t H = q.size(0), hd = q.size(2);
  const auto softmax_dtype = at::promote_types(q.scalar_type(), torch::kFloat32);
  std::vector<torch::Tensor> outs;
  int64_t start = 0;
  for (size_t i = 0; i < segments.size();) {
    const int64_t L = segments[i];
    size_t j = i + 1;  // the run of equal lengths [i, j)
    while (j < segments.size() && segments[j] == L) ++j;
    int64_t m = int64_t(j - i);
    if (!batch_ok || m == 1) m = 1;
    else m = std::max<int64_t>(1, std::min<int64_t>(m, max_score_elems / std::max<int64_t>(1, H * L * L)));
    if (m == 1) {
      outs.push_back(attention(q.narrow(1, start, L), k.narrow(1, start, L), v.narrow(1, start, L), false, 0, scale));
    } else {
      // [H, m*L, hd] -> [H*m, L, hd]: one batch entry per (head, segment).
      auto qb = q.narrow(1, start, m * L).reshape({H * m, L, hd});
      auto kb = k.narrow(1, start, m * L).reshape({H * m, L, hd});
      auto vb = v.narrow(1, start, m * L).reshape({H * m, L, hd});
      torch::Tensor ob;
      if (auto fused = compat::fused_attention(qb, kb, vb, false, scale); fused.defined()) {
        ob = fused;
      } else {
        auto scores = (torch::bmm(qb, kb.transpose(1, 2)) * scale).to(softmax_dtype);  // [H*m, L, L]
        ob = torch::bmm(torch::softmax(scores, -1).to(v.scalar_type()), vb);            // [H*m, L, hd]
      }
      outs.push_back(ob.reshape({H, m * L, hd}));
    }
    start += m * L;
    i += size_t(m);
  }
  return outs.size() == 1 ? outs[0] : torch::cat(outs, 1);  // [H, N, hd]
}

}  // namespace vl3
