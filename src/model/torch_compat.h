// Every difference between libtorch 1.13 (Debian, CI) and 2.x (CUDA builds) that vl3 touches lives here.
#pragma once
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/version.h>

namespace vl3::compat {

constexpr bool kTorch2 = TORCH_VERSION_MAJOR >= 2;

// A seeded CPU generator (the factory moved between versions).
inline at::Generator make_cpu_generator(uint64_t seed) {
  return at::detail::createCPUGenerator(seed);
}

// Fused attention where the installed libtorch has one worth using (2.x on CUDA: flash / cuDNN);
// returns an undefined tensor otherwise, and the caller runs its own attention. q/k/v are
// [heads, T, hd] with equal head counts.
inline at::Tensor fused_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                  bool causal, double scale) {
#if TORCH_VERSION_MAJOR >= 2
  if (q.is_cuda())
    return at::scaled_dot_product_attention(q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0), {}, 0.0,
                                            causal, scale)
        .squeeze(0);
#else
  (void)q, (void)k, (void)v, (void)causal, (void)scale;
#endif
  return {};
}

}  // namespace vl3::compat
