#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_set>

#include "vl3/error.h"
#include "vl3/generate.h"

namespace vl3 {

Sampler::Sampler(const SamplingOptions& opt) : opt_(opt), rng_(opt.seed) {
  if (opt.do_sample && !(opt.temperature > 0))
    throw Error("temperature must be > 0 when sampling (use greedy decoding for temperature 0)");
  if (!(opt.top_p > 0 && opt.top_p <= 1)) throw Error("top_p must be in (0, 1]");
  if (opt.top_k < 0) throw Error("top_k must be >= 0");
  if (!(opt.repetition_penalty > 0)) throw Error("repetition_penalty must be > 0");
}

TokenId Sampler::next(std::vector<float>& logits, const std::vector<TokenId>& history) {
  const size_t V = logits.size();
  if (opt_.repetition_penalty != 1.0) {
    std::unordered_set<TokenId> seen(history.begin(), history.end());
    const float p = float(opt_.repetition_penalty);
    for (TokenId id : seen)
      if (id >= 0 && size_t(id) < V) logits[id] = logits[id] < 0 ? logits[id] * p : logits[id] / p;
  }
  if (!opt_.do_sample) return TokenId(std::max_element(logits.begin(), logits.end()) - logits.begin());

  const float inv_t = float(1.0 / opt_.temperature);
  for (auto& l : logits) l *= inv_t;
  // Candidates sorted by logit, descending (ties by id, as a stable sort does).
  std::vector<TokenId> order(V);
  std::iota(order.begin(), order.end(), 0);
  size_t keep = V;
  if (opt_.top_k > 0 && size_t(opt_.top_k) < V) {
    keep = size_t(opt_.top_k);
    std::partial_sort(order.begin(), order.begin() + keep, order.end(),
                      [&](TokenId a, TokenId b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
  } else {
    std::stable_sort(order.begin(), order.end(), [&](TokenId a, TokenId b) { return logits[a] > logits[b]; });
  }
  order.resize(keep);
  const float mx = logits[order[0]];
  std::vector<double> probs(keep);
  double sum = 0;
  for (size_t i = 0; i < keep; ++i) sum += probs[i] = std::exp(double(logits[order[i]] - mx));
  for (auto& p : probs) p /= sum;
  if (opt_.top_p < 1.0) {
    // transformers: drop the tail whose cumulative probability (from the least likely) <= 1 - top_p;
    // always keep the most likely token.
    double tail = 0;
    size_t n = keep;
    while (n > 1 && tail + probs[n - 1] <= 1.0 - opt_.top_p) tail += probs[--n];
    probs.resize(n);
    order.resize(n);
  }
  std::discrete_distribution<size_t> dist(probs.begin(), probs.end());
  return order[dist(rng_)];
}

}  // namespace vl3
