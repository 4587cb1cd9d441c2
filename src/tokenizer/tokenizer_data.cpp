#include "tokenizer/tokenizer_data.h"

#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"
#include "vl3/error.h"

namespace vl3::tok {
namespace {

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

void check_id(TokenId id, const std::string& what) {
  if (id < 0 || id > kMaxTokenId)
    throw Error(what + ": id " + std::to_string(id) + " is out of range [0, " + std::to_string(kMaxTokenId) + "]");
}

}  // namespace

TokenizerData::IdInfo& TokenizerData::set_id(TokenId id) {
  if (size_t(id) >= slot_of_id.size()) slot_of_id.resize(size_t(id) + 1, -1);
  if (slot_of_id[id] < 0) {
    slot_of_id[id] = int32_t(infos.size());
    infos.emplace_back();
  }
  return infos[slot_of_id[id]];
}

void TokenizerData::add_vocab_token(const std::string& token, TokenId id) {
  check_id(id, "token " + quoted(token));
  if (const IdInfo* old = info(id))
    throw Error("id " + std::to_string(id) + " is used by both " + quoted(old->text) + " and " + quoted(token));
  IdInfo& e = set_id(id);
  e.text = token;
  e.bytes = byte_level_decode(token);
}

void TokenizerData::add_token(const AddedToken& t) {
  const std::string what = "added token " + quoted(t.content);
  if (t.content.empty()) throw Error("added token with id " + std::to_string(t.id) + ": content is empty");
  const size_t bad = utf8_first_invalid(t.content);
  if (bad != std::string::npos)
    throw Error("added token with id " + std::to_string(t.id) + ": content is not valid UTF-8 (byte " +
                std::to_string(bad) + ")");
  check_id(t.id, what);

  auto known = added_index.find(t.content);
  if (known != added_index.end() && added[known->second].id != t.id)
    throw Error(what + " has id " + std::to_string(t.id) + " but was already added with id " +
                std::to_string(added[known->second].id));
  const auto& vocab = bpe.vocab();
  auto in_vocab = vocab.find(t.content);
  if (in_vocab != vocab.end() && in_vocab->second != t.id)
    throw Error(what + " has id " + std::to_string(t.id) + " but the vocabulary gives it id " +
                std::to_string(in_vocab->second));
  const IdInfo* old = info(t.id);
  if (old && old->text != t.content)
    throw Error(what + ": id " + std::to_string(t.id) + " is already used by " + quoted(old->text));

  if (known != added_index.end()) {
    added[known->second] = t;  // listed twice: the later entry's options win
  } else {
    added_index.emplace(t.content, added.size());
    added.push_back(t);
  }
  IdInfo& e = set_id(t.id);
  e.text = t.content;
  // A token that is also in the vocabulary keeps its byte-level spelling; a genuinely added
  // token is emitted verbatim (tokenizers would run it through the ByteLevel decoder too,
  // which garbles any character of the byte-level alphabet above U+007F in it).
  e.bytes = in_vocab != vocab.end() ? byte_level_decode(t.content) : t.content;
  e.special = t.special;
}

void TokenizerData::add_special(const std::string& content, TokenId id) {
  auto known = added_index.find(content);
  AddedToken t;
  if (known != added_index.end()) {
    t = added[known->second];  // keeps its lstrip / rstrip / ... options
  } else {
    t.content = content;
    t.normalized = false;  // transformers: AddedToken(..., normalized=not special)
  }
  t.id = id;
  t.special = true;
  add_token(t);
  rebuild_matchers();
}

void TokenizerData::rebuild_matchers() {
  // tokenizers orders special tokens before the others; the order only matters when two
  // tokens have the same pattern.
  std::vector<std::pair<std::string, const AddedToken*>> raw, normalized;
  for (int pass = 0; pass < 2; ++pass) {
    for (const AddedToken& t : added) {
      if (t.special != (pass == 0)) continue;
      if (t.normalized)
        normalized.emplace_back(normalize(t.content), &t);
      else
        raw.emplace_back(t.content, &t);
    }
  }
  raw_matcher.build(raw);
  normalized_matcher.build(normalized);
}

}  // namespace vl3::tok
