// Prompt preparation and autoregressive generation.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "vl3/chat.h"
#include "vl3/model.h"
#include "vl3/tokenizer.h"

namespace vl3 {

// ---------------------------------------------------------------- sampling
struct SamplingOptions {
  bool do_sample = false;          // false: greedy (argmax after the repetition penalty)
  double temperature = 1.0;
  int top_k = 0;                   // 0: off
  double top_p = 1.0;              // 1: off
  double repetition_penalty = 1.0; // 1: off (HF semantics: divide positive, multiply negative logits)
  uint64_t seed = 0;
};

// Picks the next token from `logits` [V] (modified in place), given the ids seen so far (prompt and
// generated). Processing order as transformers: repetition penalty, temperature, top-k, top-p, sample.
class Sampler {
 public:
  explicit Sampler(const SamplingOptions& opt);
  TokenId next(std::vector<float>& logits, const std::vector<TokenId>& history);

 private:
  SamplingOptions opt_;
  std::mt19937_64 rng_;
};

// ---------------------------------------------------------------- prompt
struct PromptOptions {
  ChatRenderOptions chat;  // image_token is taken from the model
};

// The LLM input of one request: final token ids (placeholders expanded) and the visual features that
// replace the placeholders, in order (undefined when there is no image or video).
struct Prompt {
  std::string text;            // the rendered chat template, before placeholder expansion
  std::vector<TokenId> ids;
  torch::Tensor visual;        // [M, H]
};

// Renders and tokenizes a conversation. Messages with image or video parts need the vision pipeline;
// until it exists they are a vl3::Error that says so.
Prompt prepare_prompt(Model& model, const std::vector<Message>& messages, const PromptOptions& opt);

// ---------------------------------------------------------------- generation
struct GenerateOptions {
  SamplingOptions sampling;
  int max_new_tokens = 1024;
  int context_length = 0;      // 0: the model's max_position_embeddings
  std::vector<TokenId> stop;   // empty: model.stop_tokens()
};

struct GenerationStats {
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
  double prefill_seconds = 0;
  double decode_seconds = 0;  // all steps after the first token
  bool stopped_on_eos = false;
};

struct GenerationResult {
  std::vector<TokenId> tokens;  // generated ids (the stop token excluded)
  std::string text;
  GenerationStats stats;
};

// Called with every generated token and the text it completes (possibly empty while a UTF-8
// character is incomplete). Return false to stop.
using TokenCallback = std::function<bool(TokenId id, const std::string& text)>;

// Throws vl3::Error when the prompt does not fit the context.
GenerationResult generate(Model& model, const Prompt& prompt, const GenerateOptions& opt,
                          const TokenCallback& on_token = nullptr);

// Sampling defaults of a checkpoint (its generation_config.json) with max_new_tokens.
GenerateOptions default_generate_options(const Model& model);

}  // namespace vl3
