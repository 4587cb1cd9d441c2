#include <gtest/gtest.h>

#include <map>

#include "vl3/error.h"
#include "vl3/generate.h"

using vl3::Sampler;
using vl3::SamplingOptions;

TEST(Sampler, GreedyIsArgmax) {
  Sampler s(SamplingOptions{});
  std::vector<float> l = {0.1f, 3.f, -1.f, 2.9f};
  EXPECT_EQ(s.next(l, {}), 1);
}

TEST(Sampler, RepetitionPenaltyFollowsTransformers) {
  SamplingOptions o;
  o.repetition_penalty = 2.0;
  Sampler s(o);
  std::vector<float> l = {4.f, 3.f, -1.f};
  // 4 -> 2 (seen, positive: divided), -1 -> -2 (seen, negative: multiplied); token 1 now wins.
  EXPECT_EQ(s.next(l, {0, 2, 0}), 1);
  EXPECT_FLOAT_EQ(l[0], 2.f);
  EXPECT_FLOAT_EQ(l[2], -2.f);
  EXPECT_FLOAT_EQ(l[1], 3.f);
}

TEST(Sampler, TopKOneAndTinyTopPAreGreedy) {
  for (int mode = 0; mode < 2; ++mode) {
    SamplingOptions o;
    o.do_sample = true;
    o.temperature = 5.0;
    if (mode == 0) o.top_k = 1; else o.top_p = 0.01;
    Sampler s(o);
    for (int i = 0; i < 50; ++i) {
      std::vector<float> l = {0.f, 1.f, 0.5f, 0.9f};
      EXPECT_EQ(s.next(l, {}), 1);
    }
  }
}

TEST(Sampler, SeededAndFollowsTheDistribution) {
  SamplingOptions o;
  o.do_sample = true;
  o.seed = 42;
  Sampler a(o), b(o);
  std::map<int, int> hist;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    std::vector<float> la = {0.f, std::log(3.f)}, lb = la;
    int x = a.next(la, {});
    EXPECT_EQ(x, b.next(lb, {}));  // same seed, same stream
    hist[x]++;
  }
  EXPECT_NEAR(hist[1] / double(n), 0.75, 0.02);
}

TEST(Sampler, TopPKeepsTheSmallestNucleus) {
  SamplingOptions o;
  o.do_sample = true;
  o.top_p = 0.7;  // probs 0.5, 0.3, 0.2: tail 0.2 <= 0.3 dropped; 0.2+0.3 > 0.3 keeps token 1
  Sampler s(o);
  std::map<int, int> hist;
  for (int i = 0; i < 5000; ++i) {
    std::vector<float> l = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
    hist[s.next(l, {})]++;
  }
  EXPECT_EQ(hist[2], 0);
  EXPECT_GT(hist[1], 0);
}

TEST(Sampler, RejectsBadOptions) {
  SamplingOptions o;
  o.do_sample = true;
  o.temperature = 0;
  EXPECT_THROW(Sampler{o}, vl3::Error);
  o.temperature = 1;
  o.top_p = 0;
  EXPECT_THROW(Sampler{o}, vl3::Error);
}
