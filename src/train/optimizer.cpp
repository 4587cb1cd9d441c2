// AdamW (torch.optim.AdamW, single-tensor path, amsgrad and maximize off), the HF cosine schedule with
// warm-up, and clip_grad_norm_ — written to give the same floating-point results as the PyTorch code.
#include "train/optimizer.h"

#include <cmath>
#include <set>
#include <sstream>

#include "vl3/error.h"

namespace vl3 {

AdamW::AdamW(std::vector<ParamGroup> groups, double beta1, double beta2, double eps)
    : groups_(std::move(groups)), b1_(beta1), b2_(beta2), eps_(eps) {
  // State is keyed by parameter name, so a name may appear only once over all groups.
  std::set<std::string> seen;
  for (const auto& g : groups_)
    for (const auto& [name, p] : g.params) {
      if (!seen.insert(name).second)
        throw Error("AdamW: parameter " + name + " is listed twice (group " + g.name + ")");
      if (!p.defined()) throw Error("AdamW: parameter " + name + " (group " + g.name + ") is undefined");
      if (!p.is_floating_point()) throw Error("AdamW: parameter " + name + " is not floating-point");
    }
  slots_.resize(groups_.size());
  for (size_t i = 0; i < groups_.size(); ++i) slots_[i].resize(groups_[i].params.size());
}

void AdamW::step(double lr_scale) {
  torch::NoGradGuard no_grad;
  ++step_;
  // Bias corrections with the step count after the increment (torch: state["step"] += 1 first).
  const double bc1 = 1 - std::pow(b1_, double(step_));
  const double bc2 = 1 - std::pow(b2_, double(step_));
  const double bc2_sqrt = std::sqrt(bc2);

  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const auto& group = groups_[gi];
    const double lr = group.lr * lr_scale;
    for (size_t pi = 0; pi < group.params.size(); ++pi) {
      torch::Tensor p = group.params[pi].second;
      const torch::Tensor& grad = p.grad();
      if (!grad.defined()) continue;  // no gradient this step: parameter and state untouched
      Slot& s = slots_[gi][pi];
      const bool has_master = p.scalar_type() != torch::kFloat32;
      if (!s.m.defined()) {  // lazy initialisation, fp32 on the parameter's device
        auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(p.device());
        s.m = torch::zeros(p.sizes(), opts);
        s.v = torch::zeros(p.sizes(), opts);
        if (has_master) s.master = p.detach().to(torch::kFloat32, /*non_blocking=*/false, /*copy=*/true);
      }
      torch::Tensor w = has_master ? s.master : p;  // the fp32 weights the update runs on
      torch::Tensor g = has_master ? grad.to(torch::kFloat32) : grad;

      // Decoupled weight decay first: p <- p * (1 - lr*wd).
      if (group.weight_decay != 0) w.mul_(1 - lr * group.weight_decay);
      // Moments: m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2.
      s.m.mul_(b1_).add_(g, 1 - b1_);
      s.v.mul_(b2_).addcmul_(g, g, 1 - b2_);
      // p <- p - lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps)   (eps outside the square root).
      auto denom = (s.v.sqrt() / bc2_sqrt).add_(eps_);
      w.addcdiv_(s.m, denom, -lr / bc1);

      if (has_master) p.copy_(s.master);  // rounded to the parameter's dtype
    }
  }
}

void AdamW::zero_grad() {
  for (auto& g : groups_)
    for (auto& item : g.params) {
      auto& grad = item.second.mutable_grad();
      if (grad.defined()) grad = torch::Tensor();
    }
}

// The live state tensors (not copies): clone them to keep a snapshot past the next step().
std::map<std::string, torch::Tensor> AdamW::state_tensors() const {
  std::map<std::string, torch::Tensor> out;
  for (size_t gi = 0; gi < groups_.size(); ++gi)
    for (size_t pi = 0; pi < groups_[gi].params.size(); ++pi) {
      const Slot& s = slots_[gi][pi];
      if (!s.m.defined()) continue;  // never stepped: nothing to save
      const std::string& name = groups_[gi].params[pi].first;
      out["exp_avg." + name] = s.m;
      out["exp_avg_sq." + name] = s.v;
      if (s.master.defined()) out["master." + name] = s.master;
    }
  return out;
}

void AdamW::load_state_tensors(const std::map<std::string, torch::Tensor>& state, int64_t steps) {
  torch::NoGradGuard no_grad;
  std::vector<std::string> problems;
  std::set<std::string> used;
  std::vector<std::vector<Slot>> slots(groups_.size());

  // Takes state[key] (fp32, on `p`'s device, own memory) if present; checks its shape.
  auto take = [&](const std::string& key, const torch::Tensor& p, torch::Tensor& dst) {
    auto it = state.find(key);
    if (it == state.end()) return false;
    used.insert(key);
    const auto& t = it->second;
    if (!t.defined() || t.sizes() != p.sizes()) {
      problems.push_back(key + " has shape " + (t.defined() ? c10::str(t.sizes()) : std::string("<undefined>")) +
                         ", the parameter has " + c10::str(p.sizes()));
      return true;
    }
    dst = t.detach().to(p.device(), torch::kFloat32, /*non_blocking=*/false, /*copy=*/true);
    return true;
  };

  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    slots[gi].resize(groups_[gi].params.size());
    for (size_t pi = 0; pi < groups_[gi].params.size(); ++pi) {
      const auto& [name, p] = groups_[gi].params[pi];
      Slot& s = slots[gi][pi];
      const bool has_master = p.scalar_type() != torch::kFloat32;
      const bool m = take("exp_avg." + name, p, s.m);
      const bool v = take("exp_avg_sq." + name, p, s.v);
      const bool w = take("master." + name, p, s.master);
      // A parameter that never had a gradient has no state at all; partial state is an error.
      if (!m && !v && !w) continue;
      if (!m) problems.push_back("exp_avg." + name + " is missing");
      if (!v) problems.push_back("exp_avg_sq." + name + " is missing");
      if (has_master && !w) problems.push_back("master." + name + " is missing (the parameter is not fp32)");
      if (!has_master && w) problems.push_back("master." + name + " is given but the parameter is fp32");
    }
  }
  for (const auto& [key, t] : state)
    if (!used.count(key)) problems.push_back(key + " is not state of any parameter");
  if (steps < 0) problems.push_back("negative step count " + std::to_string(steps));

  if (!problems.empty()) {
    std::ostringstream msg;
    msg << "optimizer state does not match the parameters (" << problems.size() << " problems):";
    for (size_t i = 0; i < problems.size() && i < 20; ++i) msg << "\n  " << problems[i];
    if (problems.size() > 20) msg << "\n  ... and " << problems.size() - 20 << " more";
    throw Error(msg.str());
  }
  // Masters are the truth for non-fp32 parameters: make the model agree with them.
  for (size_t gi = 0; gi < groups_.size(); ++gi)
    for (size_t pi = 0; pi < groups_[gi].params.size(); ++pi)
      if (slots[gi][pi].master.defined()) {
        torch::Tensor p = groups_[gi].params[pi].second;
        p.copy_(slots[gi][pi].master);
      }
  slots_ = std::move(slots);
  step_ = steps;
}

double cosine_lr_scale(int64_t step, int64_t total_steps, int64_t warmup_steps) {
  if (step < warmup_steps) return double(step) / double(std::max<int64_t>(1, warmup_steps));
  const double progress = double(step - warmup_steps) / double(std::max<int64_t>(1, total_steps - warmup_steps));
  // HF: num_cycles = 0.5 -> cos(pi * 0.5 * 2 * progress)
  return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * 0.5 * 2.0 * progress)));
}

double lr_scale(const std::string& type, int64_t step, int64_t total_steps, int64_t warmup_steps) {
  if (type != "cosine" && type != "linear" && type != "constant_with_warmup")
    throw Error("lr_scheduler_type \"" + type + "\" is not one of cosine, linear, constant_with_warmup");
  if (type == "cosine") return cosine_lr_scale(step, total_steps, warmup_steps);
  if (step < warmup_steps) return double(step) / double(std::max<int64_t>(1, warmup_steps));
  if (type == "constant_with_warmup") return 1.0;
  // linear: HF get_linear_schedule_with_warmup
  return std::max(0.0, double(total_steps - step) / double(std::max<int64_t>(1, total_steps - warmup_steps)));
}

int64_t warmup_steps_for(int64_t total_steps, double warmup_ratio) {
  // math.ceil(num_training_steps * warmup_ratio), with Python's double product.
  return int64_t(std::ceil(double(total_steps) * warmup_ratio));
}

double clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& p : params)
    if (p.defined() && p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return 0.0;

  // As torch: the L2 norm of each gradient, then the L2 norm of those (fp32 for low-precision grads).
  const auto device = grads[0].device();
  std::vector<torch::Tensor> norms;
  for (const auto& g : grads) {
    auto g32 = g.scalar_type() == torch::kFloat32 || g.scalar_type() == torch::kFloat64 ? g : g.to(torch::kFloat32);
    norms.push_back(g32.norm(2).to(device));
  }
  torch::Tensor total = norms.size() == 1 ? norms[0] : torch::stack(norms).norm(2);
  torch::Tensor coef = max_norm / (total + 1e-6);  // tensor arithmetic, as torch
  if (coef.item<double>() < 1.0)
    for (auto& g : grads) g.mul_(coef.to(g.device()));
  return total.item<double>();
}

}  // namespace vl3
