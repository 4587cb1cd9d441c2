// Training a small byte-level BPE tokenizer (the small model's own vocabulary).
//
// The result is a Hugging Face tokenizer.json with Qwen2.5's normaliser (NFC), split regex, ByteLevel
// pre-tokenizer and decoder, and the same added tokens (<|endoftext|>, <|im_start|>, <|im_end|>, <image>, ...)
// renumbered after the learned vocabulary; only the BPE vocabulary and merges are new. vl3::Tokenizer (and
// Hugging Face tokenizers) load it like any other.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vl3 {

struct BpeTrainOptions {
  int vocab_size = 1024;   // byte alphabet (256) + merges; the added tokens come on top
  int min_frequency = 2;   // a pair seen fewer times is never merged
  // Never merge an ASCII letter with ASCII punctuation: the "(B" of "(B) black" stays "(" "B", so a
  // multiple-choice answer "B." starts with the very token that labels the option in the prompt.
  bool split_letters_from_punctuation = false;
};

struct BpeTrainResult {
  std::string tokenizer_json;         // the whole tokenizer.json text
  nlohmann::json tokenizer_config;    // tokenizer_config.json with added_tokens_decoder renumbered
  int64_t merges = 0;                 // merges learned
  int64_t words = 0;                  // distinct pre-tokenized words in the corpus
  int64_t total_ids = 0;              // vocabulary + added tokens (the smallest valid embedding size)
};

// Learns merges from `texts` (plain text; special-token text such as "<image>" is removed first). Merges
// are chosen by count, ties broken by the pair's spelling, so the same corpus gives the same bytes.
BpeTrainResult train_bpe_tokenizer(const std::vector<std::string>& texts, const BpeTrainOptions& opt);

// The texts of a training file (JSON array or JSONL; official "conversations" or "messages" records): every
// turn's text, with <image>/<video> tags removed. Throws vl3::Error naming file:line for bad JSON.
std::vector<std::string> corpus_texts_from_annotations(const std::string& path);

}  // namespace vl3
