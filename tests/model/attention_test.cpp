// The chunked grouped-query attention against a naive one-head-at-a-time reference, random odd shapes.
#include <gtest/gtest.h>

#include <cmath>

#include "model/layers.h"

namespace {

torch::Tensor naive_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, bool causal,
                              int64_t q_offset, double scale) {
  const int64_t hq = q.size(0), T = q.size(1), hkv = k.size(0), S = k.size(1);
  auto out = torch::zeros_like(q);
  for (int64_t h = 0; h < hq; ++h) {
    const int64_t kh = h / (hq / hkv);
    for (int64_t i = 0; i < T; ++i) {
      auto s = torch::mv(k[kh], q[h][i]) * scale;  // [S]
      if (causal)
        for (int64_t j = q_offset + i + 1; j < S; ++j) s[j] = -INFINITY;
      out[h][i] = torch::mv(v[kh].t(), torch::softmax(s, 0));
    }
  }
  return out;
}

}  // namespace

TEST(Attention, MatchesNaiveOnRandomShapes) {
  torch::manual_seed(7);
  struct Case { int64_t hq, hkv, T, S, hd, offset, chunk; bool causal; };
  for (Case c : {Case{4, 2, 7, 7, 16, 0, 512, true}, Case{6, 3, 13, 13, 10, 0, 4, true},
                 Case{4, 1, 1, 9, 8, 8, 512, true}, Case{2, 2, 5, 12, 6, 7, 2, true},
                 Case{3, 3, 11, 11, 5, 0, 3, false}, Case{12, 2, 33, 40, 16, 7, 8, true}}) {
    SCOPED_TRACE(testing::Message() << "hq=" << c.hq << " hkv=" << c.hkv << " T=" << c.T << " S=" << c.S);
    auto q = torch::randn({c.hq, c.T, c.hd}, torch::kFloat64);
    auto k = torch::randn({c.hkv, c.S, c.hd}, torch::kFloat64);
    auto v = torch::randn({c.hkv, c.S, c.hd}, torch::kFloat64);
    const double scale = 1.0 / std::sqrt(double(c.hd));
    auto want = naive_attention(q, k, v, c.causal, c.offset, scale);
    auto got = vl3::attention(q, k, v, c.causal, c.offset, scale, c.chunk);
    EXPECT_LT((got - want).abs().max().item<double>(), 1e-10);
  }
}

TEST(Attention, RotateHalf) {
  auto x = torch::arange(6, torch::kFloat32).view({1, 6});
  auto r = vl3::rotate_half(x);
  EXPECT_TRUE(torch::equal(r, torch::tensor({{-3.f, -4.f, -5.f, 0.f, 1.f, 2.f}})));
}

// bf16 full attention on CPU (the vision encoder path: oneDNN kernel when available) against the fp64 naive
// reference on the same bf16 inputs; odd shapes, GQA, several vision-like segment sizes.
TEST(Attention, Bf16FullAttentionMatchesReference) {
  torch::manual_seed(5);
  struct Case { int64_t hq, hkv, T, S, hd; };
  for (auto c : {Case{16, 16, 63, 63, 72}, Case{4, 2, 100, 100, 16}, Case{3, 1, 1, 7, 80}, Case{2, 2, 1030, 1030, 72}}) {
    auto q = torch::randn({c.hq, c.T, c.hd}).to(torch::kBFloat16);
    auto k = torch::randn({c.hkv, c.S, c.hd}).to(torch::kBFloat16);
    auto v = torch::randn({c.hkv, c.S, c.hd}).to(torch::kBFloat16);
    const double scale = 1.0 / std::sqrt(double(c.hd));
    torch::NoGradGuard ng;
    auto got = vl3::attention(q, k, v, false, 0, scale).to(torch::kFloat64);
    auto want = naive_attention(q.to(torch::kFloat64), k.to(torch::kFloat64), v.to(torch::kFloat64), false, 0, scale);
    const double max_ref = want.abs().max().item<double>();
    EXPECT_LE((got - want).abs().max().item<double>(), 2e-2 * max_ref) << c.T << "x" << c.S;
    EXPECT_LE((got - want).abs().mean().item<double>(), 2e-3 * max_ref) << c.T << "x" << c.S;
  }
}

// The vision tower's block-diagonal attention (runs of equal-length segments batched) against the reference
// (attention() on each segment): values and gradients, random segment lists with repeats, odd sizes, a single
// segment, and runs split by the score-memory cap.
TEST(Attention, BlockDiagonalBatchedMatchesPerSegment) {
  torch::manual_seed(11);
  const std::vector<std::vector<int64_t>> cases = {
      {36, 36, 36, 36}, {7}, {5, 5, 9, 9, 9, 1, 1, 5}, {13, 36, 36, 13, 13, 2}, {3, 4, 5, 6}, {64, 64, 48, 36, 36, 36}};
  for (const auto& segs : cases)
    for (auto dtype : {torch::kFloat64, torch::kFloat32}) {
      int64_t N = 0;
      for (auto s : segs) N += s;
      SCOPED_TRACE(testing::Message() << "N=" << N << " segments=" << segs.size() << " dtype=" << dtype);
      const int64_t H = 3, hd = 10;
      auto q = torch::randn({H, N, hd}, dtype).requires_grad_(true);
      auto k = torch::randn({H, N, hd}, dtype).requires_grad_(true);
      auto v = torch::randn({H, N, hd}, dtype).requires_grad_(true);
      auto up = torch::randn({H, N, hd}, dtype);
      const double scale = 1.0 / std::sqrt(double(hd));
      auto want = vl3::block_diagonal_attention_reference(q, k, v, segs, scale);
      auto gw = torch::autograd::grad({(want * up).sum()}, {q, k, v});
      const double tol = dtype == torch::kFloat64 ? 1e-12 : 2e-5;
      for (int64_t cap : {int64_t(1) << 24, int64_t(2 * H * 36 * 36), int64_t(1)}) {  // default; 2 frames; 1 each
        auto got = vl3::block_diagonal_attention(q, k, v, segs, scale, cap);
        auto gg = torch::autograd::grad({(got * up).sum()}, {q, k, v});
        EXPECT_LT((got - want).abs().max().item<double>(), tol) << cap;
        for (int i = 0; i < 3; ++i) EXPECT_LT((gg[size_t(i)] - gw[size_t(i)]).abs().max().item<double>(), tol) << cap;
      }
    }
}
