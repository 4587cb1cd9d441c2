// vl3::init_runtime (run by test_main before any test, as by the vl3 binary): the machine's traps are handled.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <ATen/Parallel.h>
#include <cstdlib>
#include <thread>

#include "vl3/runtime.h"

TEST(Runtime, OpenMpThreadsDoNotSpinAgainstOpenBlas) {
  if (!dlsym(RTLD_DEFAULT, "GOMP_parallel")) GTEST_SKIP() << "libtorch does not use libgomp here";
  // Either the user chose a policy, or init_runtime re-executed this process with a short spin.
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  const char* spin = std::getenv("GOMP_SPINCOUNT");
  EXPECT_TRUE(policy || spin) << "init_runtime left libgomp's default 300k-iteration spin";
}

TEST(Runtime, UsesEveryCoreByDefault) {
  if (std::getenv("VL3_THREADS")) GTEST_SKIP() << "VL3_THREADS is set";
  EXPECT_EQ(at::get_num_threads(), int(std::max(1u, std::thread::hardware_concurrency())));
}
