// The oneDNN bf16 attention kernel against its naive reference and against libtorch fp32, odd shapes included.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <thread>

#include "kernels/attention_bf16.h"

using namespace vl3::kernels;

namespace {

const uint16_t* u16(const torch::Tensor& t) { return reinterpret_cast<const uint16_t*>(t.data_ptr()); }
uint16_t* u16m(torch::Tensor& t) { return reinterpret_cast<uint16_t*>(t.data_ptr()); }

struct Case {
  int64_t H, Hkv, T, S, D, block;
  float q_gain = 1.f;  // > 1: sharper softmax
};

struct Inputs {
  torch::Tensor q, k, v;
  float scale;
  explicit Inputs(const Case& c) {
    q = (torch::randn({c.H, c.T, c.D}) * c.q_gain).to(torch::kBFloat16);
    k = torch::randn({c.Hkv, c.S, c.D}).to(torch::kBFloat16);
    v = torch::randn({c.Hkv, c.S, c.D}).to(torch::kBFloat16);
    scale = 1.f / std::sqrt(float(c.D));
  }
};

torch::Tensor run_fast(const Inputs& in, const Case& c, int64_t block) {
  auto out = torch::empty({c.H, c.T, c.D}, torch::kBFloat16);
  attention_bf16(u16(in.q), u16(in.k), u16(in.v), u16m(out), c.H, c.Hkv, c.T, c.S, c.D, in.scale, block);
  return out.to(torch::kFloat32);
}

torch::Tensor run_reference(const Inputs& in, const Case& c) {
  auto out = torch::empty({c.H, c.T, c.D}, torch::kBFloat16);
  attention_bf16_reference(u16(in.q), u16(in.k), u16(in.v), u16m(out), c.H, c.Hkv, c.T, c.S, c.D, in.scale, c.block);
  return out.to(torch::kFloat32);
}

// libtorch in fp32 on the same (bf16-valued) inputs, kv heads repeated for grouped queries.
torch::Tensor run_torch(const Inputs& in, const Case& c) {
  auto q = in.q.to(torch::kFloat32);
  auto k = in.k.to(torch::kFloat32).repeat_interleave(c.H / c.Hkv, 0);
  auto v = in.v.to(torch::kFloat32).repeat_interleave(c.H / c.Hkv, 0);
  return torch::bmm(torch::softmax(torch::bmm(q, k.transpose(1, 2)) * in.scale, -1), v);
}

// bf16 rounding of the probabilities and of the output: a few bf16 ulps of the largest value at most, far less
// on average.
void expect_close(const torch::Tensor& got, const torch::Tensor& want, const char* what) {
  const float ref_max = want.abs().max().item<float>();
  const auto diff = (got - want).abs();
  const float max_diff = diff.max().item<float>(), mean_diff = diff.mean().item<float>();
  EXPECT_LE(max_diff, 2e-2f * ref_max) << what << ": max |ref| " << ref_max << ", mean diff " << mean_diff;
  EXPECT_LE(mean_diff, 2e-3f * ref_max) << what << ": max |ref| " << ref_max << ", max diff " << max_diff;
  EXPECT_FALSE(torch::isnan(got).any().item<bool>()) << what;
}

}  // namespace

TEST(AttentionBf16, FastKernelMatchesReferenceOnOddShapes) {
  if (!attention_bf16_available()) GTEST_SKIP() << "oneDNN or AVX-512 BF16 missing (the reference path runs instead)";
  torch::manual_seed(11);
  // Every T, S in {1, 7, 63, 64, 100, 513, 1030}, D in {16, 64, 72, 80} and H/Hkv in {1/1, 4/2, 16/16, 28/4}
  // appears; blocks smaller than T (with a tail), equal, and larger. Large T x S only with few heads: the
  // reference is scalar.
  const std::vector<Case> cases = {
      {1, 1, 1, 1, 16, 512},        {1, 1, 1, 7, 64, 512},        {4, 2, 7, 1, 72, 512},
      {4, 2, 7, 63, 80, 3},         {16, 16, 63, 64, 72, 512},    {16, 16, 64, 100, 16, 7},
      {28, 4, 100, 63, 64, 32},     {28, 4, 7, 513, 72, 512},     {1, 1, 513, 513, 80, 64},
      {4, 2, 1030, 100, 72, 512},   {1, 1, 100, 1030, 64, 1000},  {1, 1, 1030, 1030, 72, 512},
      {4, 2, 1030, 1030, 16, 256},  {16, 16, 64, 513, 80, 17},    {28, 4, 63, 100, 80, 512},
      {16, 16, 100, 100, 72, 64},   {4, 2, 513, 64, 64, 100},     {1, 1, 63, 1030, 16, 1},
      {16, 16, 100, 100, 72, 512, 4.f},  // sharp softmax: a few keys dominate
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << "H=" << c.H << " Hkv=" << c.Hkv << " T=" << c.T << " S=" << c.S
                                    << " D=" << c.D << " block=" << c.block << " gain=" << c.q_gain);
    Inputs in(c);
    const auto fast = run_fast(in, c, c.block);
    expect_close(fast, run_reference(in, c), "vs reference");
    expect_close(fast, run_torch(in, c), "vs libtorch fp32");
  }
}

TEST(AttentionBf16, ReferenceMatchesLibtorch) {
  torch::manual_seed(12);
  for (const Case& c : {Case{4, 2, 7, 63, 80, 512}, Case{28, 4, 9, 100, 16, 512}, Case{1, 1, 100, 513, 72, 512}}) {
    Inputs in(c);
    const auto ref = run_reference(in, c), want = run_torch(in, c);
    // Only the output rounding differs: half a bf16 ulp.
    EXPECT_LE((ref - want).abs().max().item<float>(), 4e-3f * want.abs().max().item<float>());
  }
}

TEST(AttentionBf16, OneKeyCopiesValues) {
  if (!attention_bf16_available()) GTEST_SKIP() << "oneDNN or AVX-512 BF16 missing";
  // S = 1: every probability is exactly 1, so out[h, t] = v[h / group, 0] bit for bit.
  const Case c{28, 4, 7, 1, 72, 512};
  Inputs in(c);
  const auto out = run_fast(in, c, c.block);
  const auto want = in.v.to(torch::kFloat32).repeat_interleave(7, 0).expand({28, 7, 72});
  EXPECT_TRUE(torch::equal(out, want));
}

TEST(AttentionBf16, BlockSizeDoesNotChangeTheResult) {
  if (!attention_bf16_available()) GTEST_SKIP() << "oneDNN or AVX-512 BF16 missing";
  torch::manual_seed(13);
  for (const Case& c : {Case{16, 16, 1, 100, 72, 1}, Case{4, 2, 1, 513, 64, 1}, Case{16, 16, 100, 257, 72, 1},
                        Case{28, 4, 130, 63, 80, 1}}) {
    SCOPED_TRACE(testing::Message() << "H=" << c.H << " T=" << c.T << " S=" << c.S << " D=" << c.D);
    Inputs in(c);
    const auto one = run_fast(in, c, 1);
    for (int64_t block : {int64_t(7), int64_t(64), int64_t(100000)}) {
      // Rows are independent; only the matmul kernel oneDNN picks for a block height may change the fp32
      // summation order, i.e. at most one bf16 rounding step of the output.
      const auto other = run_fast(in, c, block);
      const float ref_max = one.abs().max().item<float>();
      EXPECT_LE((other - one).abs().max().item<float>(), 8e-3f * ref_max) << "block " << block;
    }
  }
}

TEST(AttentionBf16, RepeatedCallsAreDeterministic) {
  if (!attention_bf16_available()) GTEST_SKIP() << "oneDNN or AVX-512 BF16 missing";
  torch::manual_seed(14);
  const Case c{16, 16, 300, 300, 72, 128};
  Inputs in(c);
  const auto a = run_fast(in, c, c.block), b = run_fast(in, c, c.block);
  EXPECT_TRUE(torch::equal(a, b));
}

TEST(AttentionBf16, ConcurrentCallsFromTwoThreads) {
  if (!attention_bf16_available()) GTEST_SKIP() << "oneDNN or AVX-512 BF16 missing";
  torch::manual_seed(15);
  const Case a{16, 16, 200, 200, 72, 512}, b{28, 4, 70, 90, 64, 512};
  Inputs ia(a), ib(b);
  const auto want_a = run_fast(ia, a, a.block), want_b = run_fast(ib, b, b.block);
  torch::Tensor got_a, got_b;
  std::thread ta([&] { for (int i = 0; i < 5; ++i) got_a = run_fast(ia, a, a.block); });
  std::thread tb([&] { for (int i = 0; i < 5; ++i) got_b = run_fast(ib, b, b.block); });
  ta.join();
  tb.join();
  EXPECT_TRUE(torch::equal(got_a, want_a));
  EXPECT_TRUE(torch::equal(got_b, want_b));
}
