// The state behind vl3::Tokenizer, shared by the JSON reader and the encode/decode code.
#pragma once
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/pretokenize.h"
#include "vl3/tokenizer.h"

namespace vl3::tok {

// Ids index a table, so they are bounded; real vocabularies stay far below this.
constexpr TokenId kMaxTokenId = (1 << 24) - 1;

struct TokenizerData {
  Bpe bpe;
  bool nfc = false;  // the normalizer: NFC or nothing
  PreTokenizer pre;

  std::vector<AddedToken> added;                      // in the order they were added
  std::unordered_map<std::string, size_t> added_index;  // content -> index in `added`
  AddedTokenMatcher raw_matcher;                      // tokens with normalized = false
  AddedTokenMatcher normalized_matcher;               // tokens with normalized = true

  struct IdInfo {
    std::string text;   // vocabulary spelling, or the added token's content
    std::string bytes;  // what decode() emits for it
    bool special = false;
  };
  const IdInfo* info(TokenId id) const {
    return id >= 0 && size_t(id) < slot_of_id.size() && slot_of_id[id] >= 0 ? &infos[slot_of_id[id]] : nullptr;
  }
  size_t vocab_size() const { return slot_of_id.size(); }

  // Registers a vocabulary token (bytes = its byte-level decoding). Throws vl3::Error on a
  // repeated id; messages carry no origin (the caller adds it).
  void add_vocab_token(const std::string& token, TokenId id);
  // Registers an added token (from the file, or add_special_token). Throws vl3::Error when it
  // contradicts what is known: same content with another id, id taken by other content, ...
  void add_token(const AddedToken& t);
  // Marks `content` as a special added token with `id` (see Tokenizer::add_special_token).
  void add_special(const std::string& content, TokenId id);
  // Must follow any change to `added`.
  void rebuild_matchers();

  std::string normalize(std::string_view s) const { return nfc ? tok::nfc(s) : std::string(s); }

 private:
  IdInfo& set_id(TokenId id);

  std::vector<int32_t> slot_of_id;  // id -> index in infos, -1 if unused
  std::vector<IdInfo> infos;
};

}  // namespace vl3::tok

namespace vl3 {
struct Tokenizer::Impl : tok::TokenizerData {};
}  // namespace vl3
