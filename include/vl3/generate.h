// Prompt preparation and autoregressive generation.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <map>
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
  ChatRenderOptions chat;        // image_token is taken from the model
  int max_visual_tokens = 0;     // budget over all images and frames; 0: preprocessor_config max_tokens
  int min_visual_tokens = 0;     // per item; 0: preprocessor_config min_tokens
  double fps = 0;                // video sampling; 0: processor_config (1)
  int max_frames = 0;            // 0: 180
  int image_merge_size = 0;      // 0: processor_config (1); 2 as in training stage 4
  bool prune = true;             // Differential Frame Pruning (when the config's use_token_compression)
  double prune_threshold = 0.1;
  std::string media_root;        // base of relative media paths ("" = current directory)
  int64_t max_patches_per_chunk = 16384;  // vision encoder runs over frames in chunks of this many patches
  bool keep_debug = false;       // fill Prompt::debug with the intermediate tensors (vl3 dump)
};

struct PromptStats {
  int images = 0, videos = 0, frames = 0;
  int64_t visual_tokens = 0, visual_tokens_kept = 0;
  double load_seconds = 0, preprocess_seconds = 0, vision_seconds = 0;
};

// The LLM input of one request: final token ids (placeholders expanded, pruned ones removed) and the
// visual features that replace the placeholders, in order (undefined when there is no image or video).
struct Prompt {
  std::string text;            // the rendered chat template, before placeholder expansion
  std::vector<TokenId> ids;
  torch::Tensor visual;        // [M', H]
  PromptStats stats;
  std::map<std::string, torch::Tensor> debug;  // golden-named intermediates when keep_debug
};

// Renders, tokenizes and encodes a conversation with its images and videos.
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
