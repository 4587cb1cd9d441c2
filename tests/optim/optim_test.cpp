// AdamW against libtorch's torch::optim::AdamW, fp32 masters for bf16 parameters, state round trip, the HF
// cosine schedule and clip_grad_norm against torch::nn::utils::clip_grad_norm_.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "train/optimizer.h"
#include "vl3/error.h"

namespace {

const std::vector<std::vector<int64_t>> kShapes = {{7, 3}, {5}, {1}, {2, 3, 4}};

// Random parameters with the given shapes (leaves requiring grad).
std::vector<torch::Tensor> make_params(uint64_t seed, torch::Dtype dtype = torch::kFloat32) {
  torch::manual_seed(seed);
  std::vector<torch::Tensor> out;
  for (const auto& s : kShapes)
    out.push_back(torch::randn(s).to(dtype).to(torch::kFloat32).to(dtype).set_requires_grad(true));
  return out;
}

// Deterministic random gradients for step `step` (bf16-representable when `round` is set).
void set_grads(std::vector<torch::Tensor>& ps, int step, bool round = false) {
  torch::manual_seed(1000 + step);
  for (auto& p : ps) {
    auto g = torch::randn(p.sizes());
    if (round) g = g.to(torch::kBFloat16).to(torch::kFloat32);
    p.mutable_grad() = g.to(p.scalar_type());
  }
}

// Two groups: params 0,1 in "llm" (lr 1e-3, wd 0.1), 2,3 in "vision" (lr 3e-4, wd 0).
std::vector<vl3::ParamGroup> make_groups(const std::vector<torch::Tensor>& ps) {
  vl3::ParamGroup a{"llm", 1e-3, 0.1, {{"a.w", ps[0]}, {"a.b", ps[1]}}};
  vl3::ParamGroup b{"vision", 3e-4, 0.0, {{"v.s", ps[2]}, {"v.t", ps[3]}}};
  return {a, b};
}

void expect_close(const torch::Tensor& a, const torch::Tensor& b, double tol) {
  ASSERT_EQ(a.sizes(), b.sizes());
  EXPECT_LE((a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>(), tol);
}

}  // namespace

TEST(AdamW, MatchesTorchAdamWWithTwoGroups) {
  auto ours = make_params(1), ref = make_params(1);
  vl3::AdamW opt(make_groups(ours));

  std::vector<torch::optim::OptimizerParamGroup> tg;
  tg.emplace_back(std::vector<torch::Tensor>{ref[0], ref[1]},
                  std::make_unique<torch::optim::AdamWOptions>(
                      torch::optim::AdamWOptions(1e-3).betas({0.9, 0.999}).eps(1e-8).weight_decay(0.1)));
  tg.emplace_back(std::vector<torch::Tensor>{ref[2], ref[3]},
                  std::make_unique<torch::optim::AdamWOptions>(
                      torch::optim::AdamWOptions(3e-4).betas({0.9, 0.999}).eps(1e-8).weight_decay(0.0)));
  torch::optim::AdamW topt(std::move(tg), torch::optim::AdamWOptions(1e-3));

  for (int step = 0; step < 5; ++step) {
    set_grads(ours, step);
    set_grads(ref, step);
    opt.step(1.0);
    topt.step();
    for (size_t i = 0; i < ours.size(); ++i) expect_close(ours[i], ref[i], 1e-6);  // bit-exact on 1.13; 2.x uses lerp_
  }
  EXPECT_EQ(opt.steps(), 5);
  // The parameters did move.
  auto start = make_params(1);
  EXPECT_GT((ours[0] - start[0]).abs().max().item<double>(), 1e-4);
}

TEST(AdamW, LrScaleScalesTheGroupLr) {
  // lr_scale 0.5 with lr 1e-3 == lr 5e-4 with scale 1.
  auto a = make_params(2), b = make_params(2);
  vl3::AdamW oa({{"g", 1e-3, 0.01, {{"x", a[0]}}}});
  vl3::AdamW ob({{"g", 5e-4, 0.01, {{"x", b[0]}}}});
  for (int step = 0; step < 3; ++step) {
    set_grads(a, step);
    set_grads(b, step);
    oa.step(0.5);
    ob.step(1.0);
  }
  expect_close(a[0], b[0], 1e-7);
}

TEST(AdamW, SkipsParametersWithoutGradAndZeroGradClears) {
  auto ps = make_params(3);
  vl3::AdamW opt(make_groups(ps));
  set_grads(ps, 0);
  ps[1].mutable_grad() = torch::Tensor();
  auto before = ps[1].detach().clone();
  opt.step(1.0);
  EXPECT_TRUE(torch::equal(ps[1], before));
  auto st = opt.state_tensors();
  EXPECT_EQ(st.size(), 6u);  // m and v of a.w, v.s, v.t; a.b never stepped
  EXPECT_FALSE(st.count("exp_avg.a.b"));
  EXPECT_TRUE(st.count("exp_avg_sq.v.t"));
  for (const auto& [k, t] : st) EXPECT_EQ(t.scalar_type(), torch::kFloat32) << k;
  opt.zero_grad();
  for (auto& p : ps) EXPECT_FALSE(p.grad().defined());
}

TEST(AdamW, Bf16ParameterUsesFp32Master) {
  auto p32 = make_params(4, torch::kBFloat16);  // bf16-representable values...
  for (auto& p : p32) p = p.detach().to(torch::kFloat32).set_requires_grad(true);  // ...held in fp32
  auto p16 = make_params(4, torch::kBFloat16);
  vl3::AdamW o32(make_groups(p32)), o16(make_groups(p16));
  for (int step = 0; step < 5; ++step) {
    set_grads(p32, step, /*round=*/true);
    set_grads(p16, step, /*round=*/true);
    o32.step(1.0);
    o16.step(1.0);
  }
  auto st = o16.state_tensors();
  const char* names[] = {"a.w", "a.b", "v.s", "v.t"};
  for (size_t i = 0; i < p16.size(); ++i) {
    const auto& master = st.at(std::string("master.") + names[i]);
    EXPECT_EQ(master.scalar_type(), torch::kFloat32);
    EXPECT_TRUE(torch::equal(master, p32[i])) << names[i];
    EXPECT_EQ(p16[i].scalar_type(), torch::kBFloat16);
    EXPECT_TRUE(torch::equal(p16[i], master.to(torch::kBFloat16))) << names[i];
  }
  EXPECT_FALSE(o32.state_tensors().count("master.a.w"));
}

TEST(AdamW, StateRoundTripContinuesIdentically) {
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    auto full = make_params(5, dtype), resumed = make_params(5, dtype);
    vl3::AdamW a(make_groups(full));
    for (int step = 0; step < 3; ++step) {
      set_grads(full, step);
      a.step(0.7);
    }
    // Snapshot (cloned, as a checkpoint would), into a fresh optimizer over fresh parameter tensors.
    std::map<std::string, torch::Tensor> saved;
    for (const auto& [k, t] : a.state_tensors()) saved[k] = t.clone();
    {
      torch::NoGradGuard ng;
      for (size_t i = 0; i < full.size(); ++i) resumed[i].copy_(full[i]);
    }
    vl3::AdamW b(make_groups(resumed));
    b.load_state_tensors(saved, a.steps());
    EXPECT_EQ(b.steps(), 3);
    for (int step = 3; step < 6; ++step) {
      set_grads(full, step);
      set_grads(resumed, step);
      a.step(0.7);
      b.step(0.7);
    }
    for (size_t i = 0; i < full.size(); ++i) EXPECT_TRUE(torch::equal(full[i], resumed[i])) << i;
  }
}

TEST(AdamW, LoadStateRejectsMismatches) {
  auto ps = make_params(6);
  vl3::AdamW opt(make_groups(ps));
  set_grads(ps, 0);
  opt.step(1.0);
  auto good = opt.state_tensors();

  auto bad_shape = good;
  bad_shape["exp_avg.a.w"] = torch::zeros({3, 7});
  EXPECT_THROW(opt.load_state_tensors(bad_shape, 1), vl3::Error);
  auto partial = good;
  partial.erase("exp_avg_sq.v.s");
  EXPECT_THROW(opt.load_state_tensors(partial, 1), vl3::Error);
  auto extra = good;
  extra["exp_avg.nope"] = torch::zeros({1});
  try {
    opt.load_state_tensors(extra, 1);
    FAIL() << "no error";
  } catch (const vl3::Error& e) {
    EXPECT_NE(std::string(e.what()).find("exp_avg.nope"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(opt.load_state_tensors(good, 1));
  EXPECT_THROW(vl3::AdamW({{"x", 1, 0, {{"p", ps[0]}}}, {"y", 1, 0, {{"p", ps[1]}}}}), vl3::Error);
}

TEST(Schedule, CosineWithWarmupAsHF) {
  auto hf = [](int64_t step, int64_t total, int64_t warmup) {
    if (step < warmup) return double(step) / double(std::max<int64_t>(1, warmup));
    double progress = double(step - warmup) / double(std::max<int64_t>(1, total - warmup));
    return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * 0.5 * 2.0 * progress)));
  };
  EXPECT_EQ(vl3::cosine_lr_scale(0, 100, 3), 0.0);
  EXPECT_DOUBLE_EQ(vl3::cosine_lr_scale(1, 100, 3), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(vl3::cosine_lr_scale(2, 100, 3), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(vl3::cosine_lr_scale(3, 100, 3), 1.0);
  EXPECT_NEAR(vl3::cosine_lr_scale(51, 100, 3), 0.5 * (1 + std::cos(M_PI * 48.0 / 97.0)), 1e-15);
  EXPECT_NEAR(vl3::cosine_lr_scale(51, 100, 3), 0.5, 0.02);
  EXPECT_NEAR(vl3::cosine_lr_scale(100, 100, 3), 0.0, 1e-15);
  EXPECT_GE(vl3::cosine_lr_scale(150, 100, 3), 0.0);  // past the end: never negative
  for (int64_t s = 0; s <= 110; ++s) EXPECT_EQ(vl3::cosine_lr_scale(s, 100, 3), hf(s, 100, 3)) << s;
  // No warm-up: full lr from the first step; total == warmup does not divide by zero.
  EXPECT_EQ(vl3::cosine_lr_scale(0, 10, 0), 1.0);
  EXPECT_EQ(vl3::cosine_lr_scale(5, 5, 5), 1.0);
}

TEST(Schedule, ConstantAndLinearMatchHF) {
  // HF get_constant_schedule_with_warmup / get_linear_schedule_with_warmup, warmup 4 of 20 steps.
  for (int64_t s = 0; s <= 24; ++s) {
    const double warm = s < 4 ? double(s) / 4.0 : 1.0;
    EXPECT_DOUBLE_EQ(vl3::lr_scale("constant_with_warmup", s, 20, 4), warm) << s;
    EXPECT_DOUBLE_EQ(vl3::lr_scale("linear", s, 20, 4), s < 4 ? warm : std::max(0.0, double(20 - s) / 16.0)) << s;
    EXPECT_EQ(vl3::lr_scale("cosine", s, 20, 4), vl3::cosine_lr_scale(s, 20, 4)) << s;
  }
  EXPECT_THROW(vl3::lr_scale("cosine_with_restarts", 1, 20, 4), vl3::Error);
}

TEST(Schedule, WarmupStepsAsHF) {
  EXPECT_EQ(vl3::warmup_steps_for(100, 0.03), 3);
  EXPECT_EQ(vl3::warmup_steps_for(10, 0.03), 1);
  EXPECT_EQ(vl3::warmup_steps_for(1000, 0.0), 0);
  EXPECT_EQ(vl3::warmup_steps_for(100, 0.07), 8);  // Python: math.ceil(100 * 0.07) == 8 (7.000000000000001)
}

TEST(ClipGradNorm, MatchesTorch) {
  for (double max_norm : {0.5, 1.0, 1000.0}) {
    auto ours = make_params(7), ref = make_params(7);
    set_grads(ours, 3);
    set_grads(ref, 3);
    ours[2].mutable_grad() = torch::Tensor();  // a parameter without gradient is ignored
    ref[2].mutable_grad() = torch::Tensor();
    auto before = ours[0].grad().clone();
    double n = vl3::clip_grad_norm(ours, max_norm);
    double tn = torch::nn::utils::clip_grad_norm_(std::vector<torch::Tensor>{ref[0], ref[1], ref[3]}, max_norm);
    EXPECT_NEAR(n, tn, 1e-6 * tn);
    for (size_t i : {0, 1, 3}) EXPECT_TRUE(torch::allclose(ours[i].grad(), ref[i].grad(), 1e-6, 1e-7)) << i;
    if (max_norm > n) EXPECT_TRUE(torch::equal(ours[0].grad(), before));  // below max: untouched
    else
      EXPECT_LT(ours[0].grad().norm().item<double>(), before.norm().item<double>());
  }
  std::vector<torch::Tensor> none = {torch::zeros({2})};
  EXPECT_EQ(vl3::clip_grad_norm(none, 1.0), 0.0);
}

TEST(ClipGradNorm, Bf16GradsNormInFp32) {
  auto ps = make_params(8, torch::kBFloat16);
  set_grads(ps, 0);
  double expected = 0;
  for (auto& p : ps) expected += p.grad().to(torch::kFloat64).pow(2).sum().item<double>();
  EXPECT_NEAR(vl3::clip_grad_norm(ps, 1e9), std::sqrt(expected), 1e-5 * std::sqrt(expected));
}
