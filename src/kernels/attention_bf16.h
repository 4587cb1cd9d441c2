// Non-causal bf16 attention on CPU (the vision encoder's full attention over one segment), all heads at once:
// the two products run as oneDNN bf16 matmuls (AVX512-BF16, fp32 accumulation), the softmax in fp32 between them.
//
//   q [H, T, D], k [Hkv, S, D], v [Hkv, S, D], out [H, T, D]: contiguous row-major bf16 (raw uint16 bit patterns).
//   H % Hkv == 0; query head h reads kv head h / (H / Hkv) (grouped-query attention).
//   out = softmax(scale * q k^T) v
//
// Query rows are processed in blocks of at most min(block, 64) rows, so the fp32 scores held at once are one
// such tile x S per thread, never T x S. Scores and softmax are fp32; the probabilities are rounded to
// bf16 for the PV product (as bf16 flash attention does); PV accumulates in fp32 and is rounded once to bf16.
#pragma once
#include <cstdint>

namespace vl3::kernels {

// True when oneDNN was linked, the CPU has AVX-512 BF16 and oneDNN builds its bf16 matmul for it (checked once).
bool attention_bf16_available();

// The fast path. Threads: libtorch's intra-op pool, at::parallel_for over (query head, block of up to 64 query
// rows) items, each running its two oneDNN matmuls single-threaded (on 2 cores 15-40% faster than letting oneDNN
// thread one batched matmul over all heads). `block` caps the rows per item. oneDNN primitives are created once
// per shape and kept; per-thread buffers are kept too. Safe to call from several threads at once.
// Falls back to attention_bf16_reference (slow) when unavailable; throws c10::Error if oneDNN fails.
void attention_bf16(const uint16_t* q, const uint16_t* k, const uint16_t* v, uint16_t* out, int64_t H, int64_t Hkv,
                    int64_t T, int64_t S, int64_t D, float scale, int64_t block = 512);

// The naive reference for tests: fp32 math on the bf16 inputs, exact softmax (std::exp), probabilities not
// rounded, output rounded to bf16 (nearest even). Serial scalar loops: slow.
void attention_bf16_reference(const uint16_t* q, const uint16_t* k, const uint16_t* v, uint16_t* out, int64_t H,
                              int64_t Hkv, int64_t T, int64_t S, int64_t D, float scale, int64_t block = 512);

}  // namespace vl3::kernels
