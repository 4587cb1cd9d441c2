// Decode GEMV: our AVX-512 bf16 kernel vs libtorch's bf16 linear, on a DRAM-resident set of
// Qwen2.5-1.5B-sized matrices (each call reads a different matrix, as a decode step does).
// Reports GB/s of weights read; compare with `vl3 bench`'s measured DRAM bandwidth.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "kernels/gemv.h"
#include "vl3/runtime.h"

namespace {

struct Mats {
  std::vector<torch::Tensor> w;
  torch::Tensor x;
  Mats(int count, int64_t N, int64_t K) {
    for (int i = 0; i < count; ++i) w.push_back(torch::randn({N, K}).to(torch::kBFloat16));
    x = torch::randn({1, K}).to(torch::kBFloat16);
  }
};

Mats& mats() {
  static Mats m(24, 8960, 1536);  // 24 x 27.5 MB = 660 MB: far beyond the caches
  return m;
}

void BM_OurKernel(benchmark::State& st) {
  auto& m = mats();
  auto y = torch::empty({1, 8960});
  size_t i = 0;
  for (auto _ : st) {
    const auto& w = m.w[i++ % m.w.size()];
    vl3::kernels::gemv_bf16(reinterpret_cast<const uint16_t*>(w.data_ptr()),
                            reinterpret_cast<const uint16_t*>(m.x.data_ptr()), nullptr, y.data_ptr<float>(), nullptr,
                            1, 8960, 1536);
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * 8960 * 1536 * 2);
}

void BM_LibtorchLinear(benchmark::State& st) {
  auto& m = mats();
  torch::NoGradGuard ng;
  size_t i = 0;
  for (auto _ : st) benchmark::DoNotOptimize(torch::nn::functional::linear(m.x, m.w[i++ % m.w.size()]));
  st.SetBytesProcessed(int64_t(st.iterations()) * 8960 * 1536 * 2);
}

BENCHMARK(BM_OurKernel)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_LibtorchLinear)->UseRealTime()->MinTime(1.0);

}  // namespace

int main(int argc, char** argv) {
  vl3::init_runtime(argc, argv);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  std::printf("machine DRAM read bandwidth now: %.1f GB/s\n", vl3::measure_read_bandwidth(2) / 1e9);
}
