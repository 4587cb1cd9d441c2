// The generation loop: prefill the prompt into the KV cache, then one token at a time.
#include <chrono>

#include "model/videollama3.h"
#include "vl3/error.h"
#include "vl3/generate.h"

namespace vl3 {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::vector<float> last_logits(VideoLlama3Impl& net, const torch::Tensor& hidden) {
  auto logits = net.logits(hidden.narrow(0, hidden.size(0) - 1, 1)).squeeze(0).to(torch::kCPU).contiguous();
  return std::vector<float>(logits.data_ptr<float>(), logits.data_ptr<float>() + logits.numel());
}

}  // namespace

GenerateOptions default_generate_options(const Model& model) {
  GenerateOptions o;
  const auto& g = model.generation;
  o.sampling.do_sample = g.do_sample;
  o.sampling.temperature = g.temperature;
  o.sampling.top_k = g.top_k;
  o.sampling.top_p = g.top_p;
  o.sampling.repetition_penalty = g.repetition_penalty;
  if (g.max_new_tokens > 0) o.max_new_tokens = g.max_new_tokens;
  return o;
}

GenerationResult generate(Model& model, const Prompt& prompt, const GenerateOptions& opt,
                          const TokenCallback& on_token) {
  torch::NoGradGuard no_grad;
  auto& net = *model.net;
  const int64_t ctx = opt.context_length > 0 ? std::min<int64_t>(opt.context_length, net.config.text.max_position_embeddings)
                                             : net.config.text.max_position_embeddings;
  const int64_t L = int64_t(prompt.ids.size());
  if (L == 0) throw Error("the prompt is empty");
  if (L >= ctx)
    throw Error("the prompt has " + std::to_string(L) + " tokens but the context holds " + std::to_string(ctx) +
                " (including at least one generated token); shorten the prompt or the media");
  if (opt.max_new_tokens < 0) throw Error("max_new_tokens must be >= 0");
  const int64_t capacity = std::min<int64_t>(ctx, L + std::max(opt.max_new_tokens, 1));

  GenerationResult res;
  res.stats.prompt_tokens = L;
  const auto stop = opt.stop.empty() ? model.stop_tokens() : opt.stop;
  Sampler sampler(opt.sampling);
  StreamDecoder stream(model.tokenizer);
  std::vector<TokenId> history(prompt.ids.begin(), prompt.ids.end());

  // Prefill.
  auto t0 = Clock::now();
  auto ids = torch::tensor(std::vector<int64_t>(prompt.ids.begin(), prompt.ids.end()), torch::kLong).to(model.device);
  auto cache = net.llm->make_cache(capacity);
  auto hidden = net.llm->forward(net.embed(ids, prompt.visual), &cache);  // [L, H]
  auto logits = last_logits(net, hidden);
  res.stats.prefill_seconds = seconds_since(t0);

  auto t1 = Clock::now();
  for (int step = 0; step < opt.max_new_tokens; ++step) {
    TokenId next = sampler.next(logits, history);
    if (std::find(stop.begin(), stop.end(), next) != stop.end()) {
      res.stats.stopped_on_eos = true;
      break;
    }
    res.tokens.push_back(next);
    history.push_back(next);
    std::string piece = stream.push(next);
    res.text += piece;
    if (on_token && !on_token(next, piece)) break;
    if (step + 1 == opt.max_new_tokens || cache.length >= cache.capacity) break;
    auto tok = torch::tensor({int64_t(next)}, torch::kLong).to(model.device);
    hidden = net.llm->forward(net.llm->embed(tok), &cache);  // [1, H]
    logits = last_logits(net, hidden);
  }
  std::string tail = stream.flush();
  res.text += tail;
  if (on_token && !tail.empty()) on_token(-1, tail);
  res.stats.generated_tokens = int64_t(res.tokens.size());
  res.stats.decode_seconds = res.tokens.size() > 1 ? seconds_since(t1) : 0.0;
  return res;
}

}  // namespace vl3
