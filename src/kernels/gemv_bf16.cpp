#include <ATen/Parallel.h>
#include <immintrin.h>

#include "kernels/gemv.h"

namespace vl3::kernels {

bool gemv_bf16_available() {
  static const bool ok = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512bf16");
  }();
  return ok;
}

void gemv_bf16_reference(const uint16_t* W, const uint16_t* x, const uint16_t* bias, float* y32, uint16_t* y16,
                         int64_t M, int64_t N, int64_t K) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      float acc = 0.f;
      for (int64_t k = 0; k < K; ++k) acc += bf16_to_float(W[n * K + k]) * bf16_to_float(x[m * K + k]);
      if (bias) acc += bf16_to_float(bias[n]);
      if (y32) y32[m * N + n] = acc;
      else y16[m * N + n] = float_to_bf16(acc);
    }
}

namespace {

constexpr int kRows = 8;  // weight rows per inner iteration: independent accumulator chains and memory streams

// Dot products of R consecutive weight rows with one activation row, 32 bf16 pairs per instruction.
template <int R>
__attribute__((target("avx512f,avx512bw,avx512bf16"))) inline void dot_rows(const uint16_t* W, const uint16_t* x,
                                                                            int64_t K, float* out) {
  constexpr int rows = R;
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 32 <= K; k += 32) {
    const __m512bh xv = (__m512bh)_mm512_loadu_si512(x + k);
    for (int r = 0; r < rows; ++r) {
      // Fetch the same rows ~1 KB ahead: keeps more DRAM requests in flight than the streamers alone.
      _mm_prefetch(reinterpret_cast<const char*>(W + r * K + k) + 1024, _MM_HINT_T0);
      acc[r] = _mm512_dpbf16_ps(acc[r], (__m512bh)_mm512_loadu_si512(W + r * K + k), xv);
    }
  }
  if (k < K) {
    const __mmask32 mask = (__mmask32)((1ull << (K - k)) - 1);
    const __m512bh xv = (__m512bh)_mm512_maskz_loadu_epi16(mask, x + k);
    for (int r = 0; r < rows; ++r)
      acc[r] = _mm512_dpbf16_ps(acc[r], (__m512bh)_mm512_maskz_loadu_epi16(mask, W + r * K + k), xv);
  }
  for (int r = 0; r < rows; ++r) out[r] = _mm512_reduce_add_ps(acc[r]);
}

}  // namespace

void gemv_bf16(const uint16_t* W, const uint16_t* x, const uint16_t* bias, float* y32, uint16_t* y16, int64_t M,
               int64_t N, int64_t K) {
  if (!gemv_bf16_available()) return gemv_bf16_reference(W, x, bias, y32, y16, M, N, K);
  // ~256 KB of weights per task: enough work to amortise scheduling, small enough to balance 2+ cores.
  const int64_t grain = std::max<int64_t>(kRows, (int64_t(1) << 17) / std::max<int64_t>(K, 1) / kRows * kRows);
  at::parallel_for(0, N, grain, [&](int64_t n0, int64_t n1) {
    float dots[kRows];
    for (int64_t n = n0; n < n1; n += kRows) {
      const int rows = int(std::min<int64_t>(kRows, n1 - n));
      for (int64_t m = 0; m < M; ++m) {
        switch (rows) {
          case 8: dot_rows<8>(W + n * K, x + m * K, K, dots); break;
          case 7: dot_rows<7>(W + n * K, x + m * K, K, dots); break;
          case 6: dot_rows<6>(W + n * K, x + m * K, K, dots); break;
          case 5: dot_rows<5>(W + n * K, x + m * K, K, dots); break;
          case 4: dot_rows<4>(W + n * K, x + m * K, K, dots); break;
          case 3: dot_rows<3>(W + n * K, x + m * K, K, dots); break;
          case 2: dot_rows<2>(W + n * K, x + m * K, K, dots); break;
          default: dot_rows<1>(W + n * K, x + m * K, K, dots); break;
        }
        for (int r = 0; r < rows; ++r) {
          float v = dots[r] + (bias ? bf16_to_float(bias[n + r]) : 0.f);
          if (y32) y32[m * N + n + r] = v;
          else y16[m * N + n + r] = float_to_bf16(v);
        }
      }
    }
  });
}

}  // namespace vl3::kernels
