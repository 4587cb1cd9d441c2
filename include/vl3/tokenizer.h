// Byte-level BPE tokenizer read from a Hugging Face tokenizer.json (Qwen2 / Qwen2.5 family).
//
// Pipeline of encode(): split out added tokens (special and not) written in the text -> NFC-normalise
// each remaining piece -> split with the pre-tokenizer regex (PCRE2, UTF + UCP) -> byte-level map ->
// BPE merges by rank -> ids. decode() is the inverse (byte-level decode, added tokens verbatim).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vl3 {

using TokenId = int32_t;

class Tokenizer {
 public:
  // Throws vl3::Error naming the file and the problem (bad JSON, missing model/vocab/merges,
  // unsupported model type, bad regex, duplicate ids, merge referring to unknown tokens, ...).
  static Tokenizer from_file(const std::string& tokenizer_json_path);
  static Tokenizer from_json(const std::string& json_text, const std::string& origin = "<memory>");

  Tokenizer();
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  // parse_special=true: added tokens written in the text become their ids (as the HF processor does).
  // parse_special=false: all text is plain text (for untrusted user text when wanted).
  std::vector<TokenId> encode(const std::string& text, bool parse_special = true) const;

  // Concatenated text; skip_special drops tokens marked special. Invalid UTF-8 that results from
  // cutting a character is replaced by U+FFFD (as HF's decode does). Unknown ids throw vl3::Error.
  std::string decode(const std::vector<TokenId>& ids, bool skip_special = false) const;

  // Raw bytes of one token (byte-level decoded; added tokens verbatim). Unknown ids throw.
  std::string token_bytes(TokenId id) const;

  TokenId token_to_id(const std::string& token) const;  // -1 if unknown (vocab or added)
  std::string id_to_token(TokenId id) const;            // the vocab/added string; "" if unknown
  bool is_special(TokenId id) const;
  size_t vocab_size() const;                            // max id + 1 over vocab and added tokens

  // Adds (or marks) an added token, as transformers' add_tokens(special_tokens=True) does.
  void add_special_token(const std::string& content, TokenId id);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Streaming decoder: feed ids one at a time, get back only complete UTF-8 text (never half a
// character). flush() returns what is left (incomplete bytes as U+FFFD).
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok, bool skip_special = true);
  std::string push(TokenId id);
  std::string flush();

 private:
  const Tokenizer* tok_;
  bool skip_special_;
  std::string pending_;
};

}  // namespace vl3
