// Matrix-vector products for decoding (a few rows of activations against a large weight matrix): the
// step that is bound by reading the weights from memory once per token.
//
// y[m, n] = sum_k x[m, k] * W[n, k] + bias[n]  for m < M (small), n < N, with W row-major [N, K].
// Accumulation in fp32; outputs are rounded once at the end (bf16 round-to-nearest-even where y is bf16).
#pragma once
#include <cstdint>

namespace vl3::kernels {

// True when the fast path can run on this CPU (AVX-512 F/BW/BF16).
bool gemv_bf16_available();

// W, x, bias (nullable) bf16 as raw uint16 bit patterns; y: fp32 (y32) or bf16 (y16), exactly one non-null.
// Parallel over rows of W with libtorch's thread pool.
void gemv_bf16(const uint16_t* W, const uint16_t* x, const uint16_t* bias, float* y32, uint16_t* y16,
               int64_t M, int64_t N, int64_t K);

// The simple reference the fast kernel is tested against (scalar loops, same rounding).
void gemv_bf16_reference(const uint16_t* W, const uint16_t* x, const uint16_t* bias, float* y32, uint16_t* y16,
                         int64_t M, int64_t N, int64_t K);

inline float bf16_to_float(uint16_t v) {
  uint32_t u = uint32_t(v) << 16;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}
inline uint16_t float_to_bf16(float f) {  // round to nearest even; NaN stays NaN
  uint32_t u;
  __builtin_memcpy(&u, &f, 4);
  if ((u & 0x7fffffff) > 0x7f800000) return uint16_t((u >> 16) | 0x40);
  u += 0x7fff + ((u >> 16) & 1);
  return uint16_t(u >> 16);
}

}  // namespace vl3::kernels
