// Non-causal bf16 attention at the VideoLLaMA3-2B vision encoder's shapes (16 heads of 72, one image of T
// patches): the oneDNN kernel vs the libtorch path used before it (vl3::attention's fp32 path: q, k, v to fp32,
// per-head mm, softmax, per-head mm, back to bf16), and vl3::attention on bf16 as the model calls it now.
// Reports GFLOP/s of the two products (4 * H * T * S * D per call).
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cmath>

#include "kernels/attention_bf16.h"
#include "model/layers.h"
#include "vl3/runtime.h"

namespace {

constexpr int64_t kHeads = 16, kHeadDim = 72;

struct Qkv {
  torch::Tensor q, k, v, out;
  explicit Qkv(int64_t T) {
    torch::manual_seed(1);
    q = torch::randn({kHeads, T, kHeadDim}).to(torch::kBFloat16);
    k = torch::randn({kHeads, T, kHeadDim}).to(torch::kBFloat16);
    v = torch::randn({kHeads, T, kHeadDim}).to(torch::kBFloat16);
    out = torch::empty_like(q);
  }
};

const uint16_t* u16(const torch::Tensor& t) { return reinterpret_cast<const uint16_t*>(t.data_ptr()); }

void set_flops(benchmark::State& st, int64_t T) {
  st.counters["GFLOP/s"] = benchmark::Counter(double(st.iterations()) * 4.0 * kHeads * T * T * kHeadDim / 1e9,
                                              benchmark::Counter::kIsRate);
}

// Args: T (= S), block.
void BM_OneDnnBf16(benchmark::State& st) {
  const int64_t T = st.range(0), block = st.range(1);
  if (!vl3::kernels::attention_bf16_available()) return st.SkipWithError("attention_bf16 unavailable");
  Qkv x(T);
  const float scale = 1.f / std::sqrt(float(kHeadDim));
  for (auto _ : st)
    vl3::kernels::attention_bf16(u16(x.q), u16(x.k), u16(x.v), reinterpret_cast<uint16_t*>(x.out.data_ptr()),
                                 kHeads, kHeads, T, T, kHeadDim, scale, block);
  set_flops(st, T);
}

// The baseline: bf16 in and out, the math in fp32 libtorch ops (what vl3::attention did for bf16 on CPU).
void BM_LibtorchFp32(benchmark::State& st) {
  const int64_t T = st.range(0);
  Qkv x(T);
  torch::NoGradGuard ng;
  const double scale = 1.0 / std::sqrt(double(kHeadDim));
  for (auto _ : st)
    benchmark::DoNotOptimize(vl3::attention(x.q.to(torch::kFloat32), x.k.to(torch::kFloat32),
                                            x.v.to(torch::kFloat32), /*causal=*/false, 0, scale)
                                 .to(torch::kBFloat16));
  set_flops(st, T);
}

// vl3::attention on bf16 tensors: whatever path the model takes now.
void BM_Vl3AttentionBf16(benchmark::State& st) {
  const int64_t T = st.range(0);
  Qkv x(T);
  torch::NoGradGuard ng;
  const double scale = 1.0 / std::sqrt(double(kHeadDim));
  for (auto _ : st) benchmark::DoNotOptimize(vl3::attention(x.q, x.k, x.v, /*causal=*/false, 0, scale));
  set_flops(st, T);
}

BENCHMARK(BM_OneDnnBf16)->Args({1024, 512})->Args({4096, 512})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_LibtorchFp32)->Arg(1024)->Arg(4096)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Vl3AttentionBf16)->Arg(1024)->Arg(4096)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  vl3::init_runtime(argc, argv);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
}
