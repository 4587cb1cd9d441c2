// The AVX-512 bf16 decode kernel against its scalar reference and against libtorch, odd shapes included.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "kernels/gemv.h"
#include "model/layers.h"

using namespace vl3::kernels;

namespace {
const uint16_t* u16(const torch::Tensor& t) { return reinterpret_cast<const uint16_t*>(t.data_ptr()); }
}  // namespace

TEST(Gemv, Bf16RoundingHelpers) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16_to_float(0x3f80), 1.0f);
  // 1 + 2^-8 is halfway between two bf16 values: ties go to even (1.0).
  EXPECT_EQ(float_to_bf16(1.0f + 1.0f / 256), 0x3f80);
  EXPECT_EQ(float_to_bf16(1.0f + 3.0f / 256), 0x3f82);
  auto t = torch::randn({1000});
  auto b = t.to(torch::kBFloat16);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(float_to_bf16(t[i].item<float>()), u16(b)[i]);
}

TEST(Gemv, FastKernelMatchesReferenceOnOddShapes) {
  if (!gemv_bf16_available()) GTEST_SKIP() << "no AVX-512 BF16 on this CPU (the reference path runs instead)";
  torch::manual_seed(3);
  for (auto [M, N, K] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
           {1, 1, 1}, {1, 7, 31}, {1, 33, 32}, {2, 65, 33}, {3, 129, 1000}, {4, 5, 1536}, {1, 1031, 97}}) {
    SCOPED_TRACE(testing::Message() << M << "x" << N << "x" << K);
    auto W = torch::randn({N, K}).to(torch::kBFloat16), x = torch::randn({M, K}).to(torch::kBFloat16);
    auto b = torch::randn({N}).to(torch::kBFloat16);
    auto fast = torch::empty({M, N}), ref = torch::empty({M, N});
    gemv_bf16(u16(W), u16(x), u16(b), fast.data_ptr<float>(), nullptr, M, N, K);
    gemv_bf16_reference(u16(W), u16(x), u16(b), ref.data_ptr<float>(), nullptr, M, N, K);
    // Same products, different summation order: fp32 rounding only.
    EXPECT_LT((fast - ref).abs().max().item<float>(), 1e-4f * std::sqrt(float(K)) + 1e-5f);
    // And libtorch's own bf16 -> fp32 product.
    auto torch_ref = torch::nn::functional::linear(x.to(torch::kFloat32), W.to(torch::kFloat32), b.to(torch::kFloat32));
    EXPECT_LT((fast - torch_ref).abs().max().item<float>(), 1e-4f * std::sqrt(float(K)) + 1e-5f);
    // bf16 output: the fp32 result rounded once.
    auto y16 = torch::empty({M, N}, torch::kBFloat16);
    gemv_bf16(u16(W), u16(x), nullptr, nullptr, reinterpret_cast<uint16_t*>(y16.data_ptr()), M, N, K);
    auto y32 = torch::empty({M, N});
    gemv_bf16(u16(W), u16(x), nullptr, y32.data_ptr<float>(), nullptr, M, N, K);
    EXPECT_TRUE(torch::equal(y16, y32.to(torch::kBFloat16)));
  }
}

TEST(Gemv, LinearModuleUsesItOnlyWhereItApplies) {
  auto opt = torch::TensorOptions(torch::kBFloat16);
  vl3::Linear lin(48, 20, true, opt);
  torch::NoGradGuard ng;
  lin->weight.copy_(torch::randn({20, 48}));
  lin->bias.copy_(torch::randn({20}));
  for (int64_t rows : {1, 3, 9}) {  // 9 rows: libtorch's GEMM
    auto x = torch::randn({rows, 48}).to(torch::kBFloat16);
    auto want = torch::nn::functional::linear(x.to(torch::kFloat32), lin->weight.to(torch::kFloat32),
                                              lin->bias.to(torch::kFloat32));
    auto got = lin(x);
    EXPECT_EQ(got.scalar_type(), torch::kBFloat16);
    // One bf16 rounding of the output: relative error 2^-8 (plus summation-order noise).
    auto err = (got.to(torch::kFloat32) - want).abs() - want.abs() * (1.0f / 128) - 1e-3f;
    EXPECT_LE(err.max().item<float>(), 0.0f) << rows;
  }
}
