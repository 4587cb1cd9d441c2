// Process-level set-up that every frontend (CLI, tests, benchmarks) runs first, so that users never
// need to know the machine's traps.
#pragma once
#include <cstddef>

namespace vl3 {

// 1. OpenBLAS 0.3.21 (Debian) mistakes recent Xeons for "Prescott" and runs fp32 GEMM 4x slower. It reads
//    OPENBLAS_CORETYPE only when it loads, before main(); so when the loaded OpenBLAS reports a core
//    older than what the CPU supports and the variable is unset, this sets it and re-executes the
//    program once (/proc/self/exe, same argv). No-op otherwise, or when OpenBLAS is not loaded.
// 2. libgomp's threads spin for ~300k iterations after each parallel region and then compete with
//    OpenBLAS's pthreads for the same cores (a sched_yield storm: 3x slower training steps). When neither
//    GOMP_SPINCOUNT nor OMP_WAIT_POLICY is set, sets GOMP_SPINCOUNT=10000 (same single re-execution).
// 3. libtorch defaults to half the cores on x86: sets the intra-op threads (and OpenBLAS's own pool)
//    to `threads` (0 = every core, or VL3_THREADS when set).
void init_runtime(int argc, char** argv, int threads = 0);

// The OpenBLAS core name in use ("" when OpenBLAS is not loaded).
const char* blas_core_name();

// Sets libtorch's and OpenBLAS's thread counts (0 = all cores).
void init_threads(int threads = 0);

// Measured DRAM read bandwidth in bytes/s (sum over a buffer much larger than the caches, using
// `threads` threads, best of `reps`).
double measure_read_bandwidth(int threads, size_t bytes = size_t(1) << 30, int reps = 3);

}  // namespace vl3
