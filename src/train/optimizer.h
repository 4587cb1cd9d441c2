// AdamW with per-module parameter groups and fp32 master weights, the cosine schedule with warm-up and
// gradient-norm clipping, as the official recipe (HF Trainer, adamw_torch) uses them.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

namespace vl3 {

struct ParamGroup {
  std::string name;          // "llm", "projector", "vision" (with "/no_decay" for biases and norms)
  double lr = 0;             // peak learning rate
  double weight_decay = 0;
  std::vector<std::pair<std::string, torch::Tensor>> params;  // HF name -> the model's parameter
};

// torch.optim.AdamW semantics (decoupled decay, bias correction, eps outside the sqrt):
//   p <- p * (1 - lr*wd);  m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2
//   p <- p - lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
// Parameters whose dtype is not fp32 (bf16 training) get an fp32 master copy: the update runs on the
// master with the gradient converted to fp32, and the result is copied back into the model parameter.
class AdamW {
 public:
  explicit AdamW(std::vector<ParamGroup> groups, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8);
  // One update with lr = group.lr * lr_scale for every parameter that has a gradient; step count + 1.
  void step(double lr_scale);
  void zero_grad();  // sets every gradient to undefined
  int64_t steps() const { return step_; }
  const std::vector<ParamGroup>& groups() const { return groups_; }

  // Optimizer state as named tensors: "exp_avg.<name>", "exp_avg_sq.<name>", "master.<name>" (masters
  // only for non-fp32 parameters); the step count goes into the trainer state by the caller.
  std::map<std::string, torch::Tensor> state_tensors() const;
  // Restores what state_tensors() gave (shapes checked; a missing/mis-shaped tensor is a vl3::Error).
  void load_state_tensors(const std::map<std::string, torch::Tensor>& state, int64_t steps);

 private:
  struct Slot {
    torch::Tensor m, v, master;  // master undefined for fp32 params
  };
  std::vector<ParamGroup> groups_;
  std::vector<std::vector<Slot>> slots_;
  double b1_, b2_, eps_;
  int64_t step_ = 0;
};

// HF get_cosine_schedule_with_warmup: step < warmup: step / max(1, warmup); else
// 0.5 * (1 + cos(pi * (step - warmup) / max(1, total - warmup))), never below 0. `step` counts optimizer
// steps already taken (the lr of the first update is lr_scale(0)).
double cosine_lr_scale(int64_t step, int64_t total_steps, int64_t warmup_steps);

// The learning-rate factor of HF's schedule `type` ("cosine", "linear" or "constant_with_warmup") at `step`.
// Throws vl3::Error for another name.
double lr_scale(const std::string& type, int64_t step, int64_t total_steps, int64_t warmup_steps);
// HF TrainingArguments.get_warmup_steps: ceil(total * ratio).
int64_t warmup_steps_for(int64_t total_steps, double warmup_ratio);

// torch.nn.utils.clip_grad_norm_ (L2 over all gradients, computed in fp32; scale = max_norm / (norm + 1e-6)
// applied when < 1). Returns the total norm before clipping. Parameters without gradient are ignored.
double clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm);

}  // namespace vl3
