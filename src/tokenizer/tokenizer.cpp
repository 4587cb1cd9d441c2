// vl3::Tokenizer's public methods: the encode pipeline, decode, and StreamDecoder.
#include <deque>
#include <fstream>
#include <sstream>

#include "tokenizer/tokenizer_data.h"
#include "tokenizer/utf8.h"
#include "vl3/error.h"
#include "vl3/tokenizer.h"

namespace vl3 {
namespace {

// Takes the base class: Tokenizer::Impl itself is private to Tokenizer.
const tok::TokenizerData& state(const tok::TokenizerData* p) {
  if (!p) throw Error("Tokenizer: used after being moved from");
  return *p;
}

}  // namespace

Tokenizer::Tokenizer() : impl_(std::make_unique<Impl>()) {}
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

Tokenizer Tokenizer::from_file(const std::string& tokenizer_json_path) {
  std::ifstream f(tokenizer_json_path, std::ios::binary);
  if (!f) throw Error(tokenizer_json_path + ": cannot open the file");
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw Error(tokenizer_json_path + ": read error");
  return from_json(ss.str(), tokenizer_json_path);
}

std::vector<TokenId> Tokenizer::encode(const std::string& text, bool parse_special) const {
  const tok::TokenizerData& d = state(impl_.get());
  // Invalid UTF-8 is refused up front: NFC and the regex engine (run without per-call UTF
  // checks, which would make matching quadratic) both need valid input.
  const size_t bad = tok::utf8_first_invalid(text);
  if (bad != std::string::npos)
    throw Error("Tokenizer::encode: invalid UTF-8 at byte offset " + std::to_string(bad));

  std::vector<TokenId> ids;
  ids.reserve(text.size() / 3 + 8);
  std::vector<std::string_view> words;
  std::deque<std::string> storage;
  auto encode_words = [&](std::string_view s) {
    words.clear();
    storage.clear();
    d.pre.split(s, words, storage);
    for (std::string_view w : words) d.bpe.encode_word(w, ids);
  };
  // Added tokens are looked for in the raw text first, then (for normalized ones) in each
  // NFC-normalised piece between them, as tokenizers' AddedVocabulary does.
  std::vector<tok::Segment> norm_segments;
  auto encode_piece = [&](std::string_view raw_piece) {
    const std::string norm = d.normalize(raw_piece);
    if (!parse_special || d.normalized_matcher.empty()) return encode_words(norm);
    norm_segments.clear();
    d.normalized_matcher.split(norm, norm_segments);
    for (const tok::Segment& s : norm_segments) {
      if (s.id >= 0)
        ids.push_back(s.id);
      else
        encode_words(std::string_view(norm).substr(s.begin, s.end - s.begin));
    }
  };
  if (!parse_special || d.raw_matcher.empty()) {
    encode_piece(text);
    return ids;
  }
  std::vector<tok::Segment> segments;
  d.raw_matcher.split(text, segments);
  for (const tok::Segment& s : segments) {
    if (s.id >= 0)
      ids.push_back(s.id);
    else
      encode_piece(std::string_view(text).substr(s.begin, s.end - s.begin));
  }
  return ids;
}

std::string Tokenizer::decode(const std::vector<TokenId>& ids, bool skip_special) const {
  const tok::TokenizerData& d = state(impl_.get());
  std::string bytes;
  for (TokenId id : ids) {
    const auto* e = d.info(id);
    if (!e) throw Error("Tokenizer::decode: unknown token id " + std::to_string(id));
    if (skip_special && e->special) continue;
    bytes += e->bytes;
  }
  std::string out;
  out.reserve(bytes.size());
  tok::utf8_append_lossy(bytes, out);
  return out;
}

std::string Tokenizer::token_bytes(TokenId id) const {
  const auto* e = state(impl_.get()).info(id);
  if (!e) throw Error("Tokenizer::token_bytes: unknown token id " + std::to_string(id));
  return e->bytes;
}

TokenId Tokenizer::token_to_id(const std::string& token) const {
  const tok::TokenizerData& d = state(impl_.get());
  auto a = d.added_index.find(token);
  if (a != d.added_index.end()) return d.added[a->second].id;
  auto v = d.bpe.vocab().find(token);
  return v == d.bpe.vocab().end() ? -1 : v->second;
}

std::string Tokenizer::id_to_token(TokenId id) const {
  const auto* e = state(impl_.get()).info(id);
  return e ? e->text : std::string();
}

bool Tokenizer::is_special(TokenId id) const {
  const auto* e = state(impl_.get()).info(id);
  return e && e->special;
}

size_t Tokenizer::vocab_size() const { return state(impl_.get()).vocab_size(); }

void Tokenizer::add_special_token(const std::string& content, TokenId id) {
  state(impl_.get());
  impl_->add_special(content, id);
}

// ---------------------------------------------------------------------------------------------

StreamDecoder::StreamDecoder(const Tokenizer& tok, bool skip_special) : tok_(&tok), skip_special_(skip_special) {}

std::string StreamDecoder::push(TokenId id) {
  if (skip_special_ && tok_->is_special(id)) return {};
  pending_ += tok_->token_bytes(id);
  // Hold back a character cut at the end; anything before it is final, invalid bytes included
  // (no later byte can repair them).
  const size_t ready = pending_.size() - tok::utf8_incomplete_tail(pending_);
  std::string out;
  tok::utf8_append_lossy(std::string_view(pending_).substr(0, ready), out);
  pending_.erase(0, ready);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out;
  tok::utf8_append_lossy(pending_, out);
  pending_.clear();
  return out;
}

}  // namespace vl3
