#include <gtest/gtest.h>

#ifdef VL3_TEST_WITH_TORCH
#include "vl3/runtime.h"
#endif

int main(int argc, char** argv) {
#ifdef VL3_TEST_WITH_TORCH
  vl3::init_runtime(argc, argv);  // same BLAS/thread set-up as the vl3 binary
#endif
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
