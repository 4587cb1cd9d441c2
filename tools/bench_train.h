// vl3 bench --train (tools/cmd_bench_train.cpp).
#pragma once
#include "vl3/model.h"

namespace vl3cli {

struct BenchTrainOptions {
  int64_t tokens = 1024;   // row length
  int64_t patches = 256;   // image patches in the row (their merged tokens count towards `tokens`)
  int reps = 3;
  bool checkpointing = false;
};

void bench_train(vl3::Model& model, const BenchTrainOptions& o, double matmul_peak);

}  // namespace vl3cli
