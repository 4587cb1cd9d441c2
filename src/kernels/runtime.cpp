#include "vl3/runtime.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <immintrin.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace vl3 {

const char* blas_core_name() {
  using Fn = char* (*)();
  auto fn = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  return fn ? fn() : "";
}

namespace {

// The OpenBLAS core type this CPU should use, or "" when the detected one is already fine.
std::string wanted_core(const std::string& detected) {
  std::string d = detected;
  std::transform(d.begin(), d.end(), d.begin(), ::tolower);
  if (d.empty()) return "";
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl");
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool is_avx512_core = d == "skylakex" || d == "cooperlake" || d == "sapphirerapids";
  const bool is_avx2_core = is_avx512_core || d == "haswell" || d == "zen";
  if (avx512 && !is_avx512_core) return "SkylakeX";
  if (avx2 && !is_avx2_core) return "Haswell";
  return "";
}

}  // namespace

void init_threads(int threads) {
  if (threads <= 0) {
    if (const char* e = std::getenv("VL3_THREADS")) threads = std::atoi(e);
    if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
  }
  at::set_num_threads(threads);
  using SetFn = void (*)(int);
  if (auto fn = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) fn(threads);
}

void init_runtime(int argc, char** argv, int threads) {
  (void)argc;
  // Both fixes are environment variables read when the libraries load, so set them and re-execute once.
  if (!std::getenv("VL3_NO_REEXEC")) {
    bool reexec = false;
    if (!std::getenv("OPENBLAS_CORETYPE")) {
      std::string want = wanted_core(blas_core_name());
      if (!want.empty()) {
        setenv("OPENBLAS_CORETYPE", want.c_str(), 1);
        reexec = true;
      }
    }
    // libgomp threads spin ~300k times after each parallel region by default; on a machine with as many
    // threads as cores they then fight OpenBLAS's own pthreads (sched_yield storm). 10k spins keeps the
    // latency of back-to-back regions (decode) and removes the fight (training step 3x faster, measured).
    if (!std::getenv("GOMP_SPINCOUNT") && !std::getenv("OMP_WAIT_POLICY") &&
        dlsym(RTLD_DEFAULT, "GOMP_parallel")) {
      setenv("GOMP_SPINCOUNT", "10000", 1);
      reexec = true;
    }
    if (reexec) {
      setenv("VL3_NO_REEXEC", "1", 1);  // never loop, whatever happens
      execv("/proc/self/exe", argv);
      // exec failed: carry on with the slower settings rather than fail.
    }
  }
  init_threads(threads);
}

double measure_read_bandwidth(int threads, size_t bytes, int reps) {
  threads = std::max(1, threads);
  const size_t n = bytes / sizeof(float);
  std::unique_ptr<float[]> buf(new float[n]);
  // Touch every page from the thread that will read it (first-touch placement).
  auto for_parts = [&](auto fn) {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] { fn(n * t / threads, n * (t + 1) / threads); });
    for (auto& th : pool) th.join();
  };
  for_parts([&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) buf[i] = float(i & 1023);
  });
  double best = 0;
  std::vector<double> sums(threads);
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    for_parts([&](size_t b, size_t e) {
      __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
      size_t i = b;
      for (; i + 32 <= e; i += 32)
        for (int k = 0; k < 4; ++k) acc[k] = _mm256_add_ps(acc[k], _mm256_loadu_ps(&buf[i + 8 * k]));
      float tmp[8];
      _mm256_storeu_ps(tmp, _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
      double s = 0;
      for (float x : tmp) s += x;
      for (; i < e; ++i) s += buf[i];
      sums[b * threads / n] = s;
    });
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, double(n * sizeof(float)) / dt);
  }
  volatile double sink = sums[0];
  (void)sink;
  return best;
}

}  // namespace vl3
