// Data parallelism across processes through libtorch's c10d process groups (Gloo on CPU, NCCL with CUDA
// when built with it), started as torchrun starts workers: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
// MASTER_PORT in the environment. A single process (no WORLD_SIZE or WORLD_SIZE=1) needs no process group and
// every collective is the identity.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

namespace vl3 {

class Distributed {
 public:
  // Reads the environment; with WORLD_SIZE > 1 connects to the TCP store at MASTER_ADDR:MASTER_PORT (rank 0
  // hosts it) and creates the process group. Missing/invalid variables are a vl3::Error naming them.
  static std::unique_ptr<Distributed> from_env(const torch::Device& device = torch::kCPU);
  ~Distributed();

  int rank() const { return rank_; }
  int world_size() const { return world_; }
  int local_rank() const { return local_rank_; }
  bool is_main() const { return rank_ == 0; }

  // Sums the tensors over all ranks in place (flattened into fp32 buckets of ~25 MB, then copied back).
  void allreduce_sum(const std::vector<torch::Tensor>& tensors);
  double allreduce_sum(double value);
  // Copies rank 0's tensors into every rank's tensors (in place).
  void broadcast(const std::vector<torch::Tensor>& tensors);
  void barrier();

 private:
  Distributed() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int rank_ = 0, world_ = 1, local_rank_ = 0;
};

// vl3 train --nproc N: starts N copies of `argv` (argv[0] resolved through /proc/self/exe) with RANK/LOCAL_RANK
// 0..N-1, WORLD_SIZE=N, MASTER_ADDR=127.0.0.1 and a free MASTER_PORT (unless set), and "--nproc" removed; waits
// for all; when one fails, terminates the others. Returns the first non-zero exit status (or 0).
int launch_local_workers(int nproc, const std::vector<std::string>& argv);

}  // namespace vl3
