// Non-causal bf16 attention: oneDNN bf16 matmuls for the two products, an AVX-512 fp32 softmax between them.
// Per (query head, block of n query rows), all transposed: S^T = scale k q^T [S, n] fp32; softmax down the
// columns -> P^T [S, n] bf16 (unnormalised) and 1 / column sums; O^T = v^T P^T [D, n] fp32; out = O / sum.
#include "kernels/attention_bf16.h"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kernels/gemv.h"  // bf16_to_float, float_to_bf16

#ifndef VL3_HAVE_DNNL
#define VL3_HAVE_DNNL 0
#endif
#if VL3_HAVE_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace vl3::kernels {

namespace {

void check_args(int64_t H, int64_t Hkv, int64_t T, int64_t S, int64_t D, int64_t block) {
  TORCH_CHECK(H > 0 && Hkv > 0 && H % Hkv == 0, "attention_bf16: query heads ", H, " not a multiple of kv heads ",
              Hkv);
  TORCH_CHECK(T >= 0 && S > 0 && D > 0, "attention_bf16: bad sizes T=", T, " S=", S, " D=", D);
  TORCH_CHECK(block > 0, "attention_bf16: block must be positive, got ", block);
}

[[maybe_unused]] bool cpu_has_avx512_bf16() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
}

}  // namespace

void attention_bf16_reference(const uint16_t* q, const uint16_t* k, const uint16_t* v, uint16_t* out, int64_t H,
                              int64_t Hkv, int64_t T, int64_t S, int64_t D, float scale, int64_t block) {
  check_args(H, Hkv, T, S, D, block);
  const int64_t group = H / Hkv;
  const size_t kv_size = size_t(Hkv * S * D);
  std::vector<float> kf(kv_size), vf(kv_size), qf(static_cast<size_t>(D)), p(static_cast<size_t>(S)),
      acc(static_cast<size_t>(D));
  for (size_t i = 0; i < kf.size(); ++i) kf[i] = bf16_to_float(k[i]), vf[i] = bf16_to_float(v[i]);
  for (int64_t h = 0; h < H; ++h) {
    const float* kh = kf.data() + (h / group) * S * D;
    const float* vh = vf.data() + (h / group) * S * D;
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t d = 0; d < D; ++d) qf[d] = bf16_to_float(q[(h * T + t) * D + d]);
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t s = 0; s < S; ++s) {
        float dot = 0.f;
        for (int64_t d = 0; d < D; ++d) dot += qf[d] * kh[s * D + d];
        p[s] = dot * scale;
        m = std::max(m, p[s]);
      }
      float sum = 0.f;
      for (int64_t s = 0; s < S; ++s) sum += (p[s] = std::exp(p[s] - m));
      std::fill(acc.begin(), acc.end(), 0.f);
      for (int64_t s = 0; s < S; ++s)
        for (int64_t d = 0; d < D; ++d) acc[d] += p[s] * vh[s * D + d];
      for (int64_t d = 0; d < D; ++d) out[(h * T + t) * D + d] = float_to_bf16(acc[d] / sum);
    }
  }
}

namespace {

#if VL3_HAVE_DNNL
// ---------------------------------------------------------------------------------------------------------------
// Softmax, flash-attention style: the probabilities go to the PV product unnormalised, as bf16
// e = round_bf16(exp(s - max)) in (0, 1], and each output row is divided by the fp32 sum of its e at the end.
// Same rounding as normalising first (bf16 rounding is relative), one pass less over the scores.
//
// Everything runs transposed (see attention_tasks): the scores of a block are S^T [S, n] (one column per query
// row), so the softmax runs down columns, 16 query rows per vector, with no horizontal reductions.

#define VL3_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

// exp(x) for x <= ~88: Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, Cephes' degree-6 polynomial
// (relative error ~1.5e-7 over the range), then p * 2^n with vscalefps (exact, denormals included).
// Very negative x (and -inf) give 0; NaN stays NaN.
VL3_AVX512_BF16 inline __m512 exp512(__m512 x) {
  x = _mm512_max_ps(_mm512_set1_ps(-104.f), x);  // max(c, NaN) returns the NaN
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.f)));
  return _mm512_scalef_ps(p, n);
}

// Columns [0, 16 * NV) of st [S, ld] -> pt [S, ld] bf16 and inv_sum; the last vector holds the lanes in `last`.
template <int NV>
VL3_AVX512_BF16 void softmax_cols(const float* st, uint16_t* pt, float* inv_sum, int64_t S, int64_t ld,
                                  __mmask16 last) {
  auto mask = [&](int v) { return v == NV - 1 ? last : __mmask16(0xffff); };
  __m512 m[NV], acc[NV];
  for (int v = 0; v < NV; ++v) m[v] = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t s = 0; s < S; ++s)
    for (int v = 0; v < NV; ++v)
      m[v] = _mm512_mask_max_ps(m[v], mask(v), m[v], _mm512_maskz_loadu_ps(mask(v), st + s * ld + 16 * v));
  for (int v = 0; v < NV; ++v) acc[v] = _mm512_setzero_ps();
  for (int64_t s = 0; s < S; ++s)
    for (int v = 0; v < NV; ++v) {
      const __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask(v), st + s * ld + 16 * v), m[v]));
      _mm256_mask_storeu_epi16(pt + s * ld + 16 * v, mask(v), (__m256i)_mm512_cvtneps_pbh(e));  // nearest even
      acc[v] = _mm512_mask_add_ps(acc[v], mask(v), acc[v], e);
    }
  for (int v = 0; v < NV; ++v)
    _mm512_mask_storeu_ps(inv_sum + 16 * v, mask(v), _mm512_div_ps(_mm512_set1_ps(1.f), acc[v]));
}

// st [S, n] fp32 (scaled scores, transposed) -> pt [S, n] bf16 exp(s - column max), inv_sum[c] = 1 / column sum.
void softmax_columns_bf16(const float* st, uint16_t* pt, float* inv_sum, int64_t S, int64_t n) {
  for (int64_t c0 = 0; c0 < n; c0 += 64) {
    const int64_t cols = std::min<int64_t>(64, n - c0), nv = (cols + 15) / 16;
    const __mmask16 last = __mmask16((1u << (cols - 16 * (nv - 1))) - 1);
    switch (nv) {
      case 4: softmax_cols<4>(st + c0, pt + c0, inv_sum + c0, S, n, last); break;
      case 3: softmax_cols<3>(st + c0, pt + c0, inv_sum + c0, S, n, last); break;
      case 2: softmax_cols<2>(st + c0, pt + c0, inv_sum + c0, S, n, last); break;
      default: softmax_cols<1>(st + c0, pt + c0, inv_sum + c0, S, n, last); break;
    }
  }
}

// out[r, d] = round_bf16(ot[d, r] * inv_sum[r]) for r < n, d < D.
void normalise_transposed(const float* ot, const float* inv_sum, uint16_t* out, int64_t n, int64_t D) {
  for (int64_t r = 0; r < n; ++r)
    for (int64_t d = 0; d < D; ++d) out[r * D + d] = float_to_bf16(ot[d * n + r] * inv_sum[r]);
}

// ---------------------------------------------------------------------------------------------------------------
// oneDNN matmuls. Primitives are created once per shape (under a mutex, outside any parallel region) and kept;
// executing one primitive from several threads at once is allowed with a user-managed scratchpad, which each
// thread owns. Each thread also owns its stream.

using dnnl::memory;
using dt = memory::data_type;
using dims = memory::dims;

dnnl::engine& cpu_engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

struct Matmul {
  dnnl::matmul prim;
  memory::desc a, b, c, scratch;
  std::string impl;
};

// Sets the OpenMP thread count of the calling thread for a scope (oneDNN sizes its work split at creation).
struct OmpThreads {
  int saved;
  explicit OmpThreads(int n) : saved(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~OmpThreads() { omp_set_num_threads(saved); }
};

// Cache key: which product (0: q k^T, 1: p v), its sizes, the output scale's bits and the oneDNN threads it
// runs with (1: inside our own parallel loop; oneDNN sizes its work split when the primitive is created).
using MatmulKey = std::array<int64_t, 8>;

std::shared_ptr<const Matmul> get_matmul(const MatmulKey& key, const memory::desc& a, const memory::desc& b,
                                         const memory::desc& c, float output_scale = 1.f) {
  static std::mutex mu;
  static std::map<MatmulKey, std::shared_ptr<const Matmul>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  OmpThreads scope{int(key[7])};
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (output_scale != 1.f) attr.set_output_scales(0, {output_scale});
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), attr, cpu_engine());
  auto mm = std::make_shared<Matmul>(Matmul{dnnl::matmul(pd), a, b, c, pd.scratchpad_desc(), pd.impl_info_str()});
  cache.emplace(key, mm);
  return mm;
}

struct ThreadState {
  dnnl::stream stream{cpu_engine()};
  std::vector<float> scores;
  std::vector<uint16_t> probs;
  std::vector<float> acc;
  std::vector<uint8_t> scratch;
};

ThreadState& thread_state() {
  thread_local ThreadState st;
  return st;
}

template <class T>
T* grow(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

void run(const Matmul& mm, ThreadState& st, const void* a, const void* b, void* c) {
  auto& eng = cpu_engine();
  memory am(mm.a, eng, const_cast<void*>(a)), bm(mm.b, eng, const_cast<void*>(b)), cm(mm.c, eng, c);
  memory sm(mm.scratch, eng, grow(st.scratch, std::max<size_t>(mm.scratch.get_size(), 1)));
  mm.prim.execute(st.stream,
                  {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}, {DNNL_ARG_SCRATCHPAD, sm}});
}

// S^T = scale k q^T for n query rows of one head: k [S, D] x q^T [D, n] (q read transposed in place) -> fp32
// [S, n]. This orientation (and the one of pv_matmul) runs 10-90% faster in oneDNN 2.6's brgemm than q k^T and
// p v with D = 72 (N = D = 72 wastes vector lanes; a long K = S with a small M is its weak case).
std::shared_ptr<const Matmul> qk_matmul(int64_t n, int64_t S, int64_t D, float scale) {
  uint32_t bits;
  std::memcpy(&bits, &scale, 4);
  return get_matmul({0, n, S, D, int64_t(bits), 0, 0, 1}, memory::desc({S, D}, dt::bf16, dims{D, 1}),
                    memory::desc({D, n}, dt::bf16, dims{1, D}), memory::desc({S, n}, dt::f32, dims{n, 1}), scale);
}
// O^T = v^T P^T: v^T [D, S] (v read transposed in place) x P^T [S, n] bf16 -> fp32 [D, n].
std::shared_ptr<const Matmul> pv_matmul(int64_t n, int64_t S, int64_t D) {
  return get_matmul({1, n, S, D, 0, 0, 0, 1}, memory::desc({D, S}, dt::bf16, dims{1, D}),
                    memory::desc({S, n}, dt::bf16, dims{n, 1}), memory::desc({D, n}, dt::f32, dims{n, 1}));
}

// Query rows per step: 64 (T = S = 1024 and 4096, D = 72, 2 cores: 128 runs the same, 32 10-15% slower),
// fewer when that would leave threads without work, at most `block`.
int64_t step_rows(int64_t H, int64_t T, int64_t block) {
  int64_t rows = std::min<int64_t>({64, block, T});
  const int64_t threads = at::get_num_threads();
  while (rows > 16 && H * ((T + rows - 1) / rows) < 2 * threads) rows /= 2;
  return std::max<int64_t>(1, rows);
}

// Work items are (query head, block of rows): H * ceil(T / rows) of them over libtorch's pool; each runs its
// two matmuls single-threaded, with its thread's buffers (scores rows x S fp32, probabilities rows x S bf16).
void attention_tasks(const uint16_t* q, const uint16_t* k, const uint16_t* v, uint16_t* out, int64_t H,
                     int64_t Hkv, int64_t T, int64_t S, int64_t D, float scale, int64_t block) {
  const int64_t group = H / Hkv;
  const int64_t rows = step_rows(H, T, block);
  const int64_t nb = (T + rows - 1) / rows, tail = T - (nb - 1) * rows;
  const auto qk = qk_matmul(rows, S, D, scale), pv = pv_matmul(rows, S, D);
  const auto qk_tail = tail == rows ? qk : qk_matmul(tail, S, D, scale);
  const auto pv_tail = tail == rows ? pv : pv_matmul(tail, S, D);
  at::parallel_for(0, H * nb, 1, [&](int64_t i0, int64_t i1) {
    ThreadState& st = thread_state();
    float* scores = grow(st.scores, size_t(rows * S));
    uint16_t* probs = grow(st.probs, size_t(rows * S));
    float* acc = grow(st.acc, size_t(rows * (D + 1)));
    float* inv_sum = acc + rows * D;
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t h = i / nb, b = i % nb, t0 = b * rows, n = b == nb - 1 ? tail : rows;
      const int64_t kvh = h / group;
      run(n == rows ? *qk : *qk_tail, st, k + kvh * S * D, q + (h * T + t0) * D, scores);  // S^T [S, n]
      softmax_columns_bf16(scores, probs, inv_sum, S, n);                                // P^T [S, n]
      run(n == rows ? *pv : *pv_tail, st, v + kvh * S * D, probs, acc);                  // O^T [D, n]
      normalise_transposed(acc, inv_sum, out + (h * T + t0) * D, n, D);
    }
  });
}
#endif  // VL3_HAVE_DNNL

}  // namespace

bool attention_bf16_available() {
#if VL3_HAVE_DNNL
  static const bool ok = [] {
    if (!cpu_has_avx512_bf16()) return false;
    try {
      // oneDNN falls back to reference (scalar) kernels for what it cannot JIT: only its fast kernels count.
      const auto qk = qk_matmul(64, 256, 72, 0.125f), pv = pv_matmul(64, 256, 72);
      return qk->impl.find("ref") == std::string::npos && pv->impl.find("ref") == std::string::npos;
    } catch (const dnnl::error&) {
      return false;
    }
  }();
  return ok;
#else
  return false;
#endif
}

void attention_bf16(const uint16_t* q, const uint16_t* k, const uint16_t* v, uint16_t* out, int64_t H, int64_t Hkv,
                    int64_t T, int64_t S, int64_t D, float scale, int64_t block) {
  check_args(H, Hkv, T, S, D, block);
  if (T == 0) return;
  if (!attention_bf16_available()) return attention_bf16_reference(q, k, v, out, H, Hkv, T, S, D, scale, block);
#if VL3_HAVE_DNNL
  try {
    attention_tasks(q, k, v, out, H, Hkv, T, S, D, scale, block);
  } catch (const dnnl::error& e) {
    TORCH_CHECK(false, "attention_bf16: oneDNN failed for H=", H, " T=", T, " S=", S, " D=", D, ": ", e.what());
  }
#endif
}

}  // namespace vl3::kernels
