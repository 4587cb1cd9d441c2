// Reading a Hugging Face tokenizer.json into TokenizerData. Every malformed or unsupported
// input becomes a vl3::Error naming the origin and the JSON path (this parser is fuzzed).
#include <nlohmann/json.hpp>

#include <type_traits>

#include "tokenizer/tokenizer_data.h"
#include "vl3/error.h"
#include "vl3/tokenizer.h"

namespace vl3 {
namespace {

using json = nlohmann::json;

// Sequences nest; real files use one level. The bound keeps recursion shallow on hostile input.
constexpr int kMaxNesting = 16;

class Reader {
 public:
  explicit Reader(const std::string& origin) : origin_(origin) {}

  [[noreturn]] void fail(const std::string& path, const std::string& what) const {
    throw Error(origin_ + ": " + path + ": " + what);
  }

  // The member, or null when it is absent or JSON null.
  const json* find(const json& obj, const char* key) const {
    auto it = obj.find(key);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
  }
  const json& require(const json& obj, const char* key, const std::string& path) const {
    const json* v = find(obj, key);
    if (!v) fail(path, std::string("missing field \"") + key + "\"");
    return *v;
  }
  const json& object(const json& v, const std::string& path) const {
    if (!v.is_object()) fail(path, std::string("expected an object, got ") + v.type_name());
    return v;
  }
  const json& array(const json& v, const std::string& path) const {
    if (!v.is_array()) fail(path, std::string("expected an array, got ") + v.type_name());
    return v;
  }
  const std::string& string(const json& v, const std::string& path) const {
    if (!v.is_string()) fail(path, std::string("expected a string, got ") + v.type_name());
    return v.get_ref<const std::string&>();
  }
  bool boolean(const json& obj, const char* key, bool fallback, const std::string& path) const {
    const json* v = find(obj, key);
    if (!v) return fallback;
    if (!v->is_boolean()) fail(path + "." + key, std::string("expected true or false, got ") + v->type_name());
    return v->get<bool>();
  }
  TokenId id(const json& v, const std::string& path) const {
    if (v.is_number_unsigned()) {
      const uint64_t x = v.get<uint64_t>();
      if (x <= uint64_t(tok::kMaxTokenId)) return TokenId(x);
    } else if (!v.is_number_integer()) {
      fail(path, std::string("expected an integer id, got ") + v.type_name());
    }
    fail(path, "id " + v.dump() + " is out of range [0, " + std::to_string(tok::kMaxTokenId) + "]");
  }
  const std::string& type(const json& obj, const std::string& path) const {
    return string(require(object(obj, path), "type", path), path + ".type");
  }

  // Runs f, re-throwing a component's Error (which has no origin) with origin and path (a
  // string, or a callable that makes it, for loops where building it every time would cost).
  template <class Path, class F>
  void at(const Path& path, F&& f) const {
    try {
      f();
    } catch (const Error& e) {
      if constexpr (std::is_invocable_v<Path>)
        fail(path(), e.what());
      else
        fail(path, e.what());
    }
  }

 private:
  const std::string& origin_;
};

void read_model(const Reader& r, const json& root, tok::TokenizerData& d) {
  const json& model = r.object(r.require(root, "model", "tokenizer"), "model");
  if (const json* t = r.find(model, "type"); t && r.string(*t, "model.type") != "BPE")
    r.fail("model.type", "unsupported model type \"" + t->get<std::string>() + "\" (only BPE is supported)");
  if (const json* p = r.find(model, "dropout")) {
    if (!p->is_number()) r.fail("model.dropout", std::string("expected a number, got ") + p->type_name());
    if (p->get<double>() != 0.0) r.fail("model.dropout", "BPE dropout is not supported");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (const json* p = r.find(model, key); p && !r.string(*p, std::string("model.") + key).empty())
      r.fail(std::string("model.") + key, "a non-empty value is not supported");
  }
  if (r.boolean(model, "byte_fallback", false, "model"))
    r.fail("model.byte_fallback", "byte_fallback is not supported");

  // The two loops below run ~150k times each: error-message paths are built only on failure.
  const json& vocab = r.object(r.require(model, "vocab", "model"), "model.vocab");
  std::unordered_map<std::string, TokenId> ids;
  ids.reserve(vocab.size());
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    const json& v = it.value();
    const TokenId id = v.is_number_unsigned() && v.get<uint64_t>() <= uint64_t(tok::kMaxTokenId)
                           ? TokenId(v.get<uint64_t>())
                           : r.id(v, "model.vocab[\"" + it.key() + "\"]");
    r.at([] { return std::string("model.vocab"); }, [&] { d.add_vocab_token(it.key(), id); });
    ids.emplace(it.key(), id);
  }
  d.bpe.set_vocab(std::move(ids));

  const json& merges = r.array(r.require(model, "merges", "model"), "model.merges");
  for (size_t i = 0; i < merges.size(); ++i) {
    auto path = [i] { return "model.merges[" + std::to_string(i) + "]"; };
    const json& m = merges[i];
    std::string left, right;
    if (m.is_string()) {
      // The older spelling, "left right": exactly one space, as tokenizers requires.
      const std::string& s = m.get_ref<const std::string&>();
      if (s.rfind("#version", 0) == 0) continue;
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
        r.fail(path(), "\"" + s + "\" is not two tokens separated by one space");
      left = s.substr(0, sp);
      right = s.substr(sp + 1);
    } else if (m.is_array()) {
      if (m.size() != 2) r.fail(path(), "expected a pair of tokens, got " + std::to_string(m.size()) + " elements");
      left = m[0].is_string() ? m[0].get_ref<const std::string&>() : r.string(m[0], path() + "[0]");
      right = m[1].is_string() ? m[1].get_ref<const std::string&>() : r.string(m[1], path() + "[1]");
    } else {
      r.fail(path(), std::string("expected \"left right\" or [\"left\", \"right\"], got ") + m.type_name());
    }
    r.at(path, [&] { d.bpe.add_merge(left, right); });
  }

  if (const json* unk = r.find(model, "unk_token")) {
    const std::string& u = r.string(*unk, "model.unk_token");
    auto it = d.bpe.vocab().find(u);
    if (it == d.bpe.vocab().end()) r.fail("model.unk_token", "\"" + u + "\" is not in the vocabulary");
    d.bpe.set_unk(it->second, r.boolean(model, "fuse_unk", false, "model"));
  }
  d.bpe.set_ignore_merges(r.boolean(model, "ignore_merges", false, "model"));
}

void read_added_tokens(const Reader& r, const json& root, tok::TokenizerData& d) {
  const json* list = r.find(root, "added_tokens");
  if (!list) return;
  r.array(*list, "added_tokens");
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string path = "added_tokens[" + std::to_string(i) + "]";
    const json& j = r.object((*list)[i], path);
    tok::AddedToken t;
    t.id = r.id(r.require(j, "id", path), path + ".id");
    t.content = r.string(r.require(j, "content", path), path + ".content");
    t.special = r.boolean(j, "special", false, path);
    t.single_word = r.boolean(j, "single_word", false, path);
    t.lstrip = r.boolean(j, "lstrip", false, path);
    t.rstrip = r.boolean(j, "rstrip", false, path);
    t.normalized = r.boolean(j, "normalized", !t.special, path);
    r.at(path, [&] { d.add_token(t); });
  }
}

void read_normalizer(const Reader& r, const json& n, const std::string& path, int depth, tok::TokenizerData& d) {
  if (depth > kMaxNesting) r.fail(path, "normalizers nested too deeply");
  const std::string& type = r.type(n, path);
  if (type == "NFC") {
    d.nfc = true;
  } else if (type == "Sequence") {
    const json& list = r.array(r.require(n, "normalizers", path), path + ".normalizers");
    for (size_t i = 0; i < list.size(); ++i)
      read_normalizer(r, list[i], path + ".normalizers[" + std::to_string(i) + "]", depth + 1, d);
  } else {
    r.fail(path, "unsupported normalizer type \"" + type + "\" (supported: NFC, Sequence)");
  }
}

struct ByteLevelStep {
  bool seen = false;
  bool add_prefix_space = false;
  bool use_regex = true;
};

void read_pre_tokenizer(const Reader& r, const json& p, const std::string& path, int depth, tok::TokenizerData& d,
                        ByteLevelStep& byte_level) {
  if (depth > kMaxNesting) r.fail(path, "pre-tokenizers nested too deeply");
  const std::string& type = r.type(p, path);
  if (type != "Sequence" && byte_level.seen)
    r.fail(path, "a step after ByteLevel is not supported (ByteLevel must come last)");
  if (type == "Sequence") {
    const json& list = r.array(r.require(p, "pretokenizers", path), path + ".pretokenizers");
    for (size_t i = 0; i < list.size(); ++i)
      read_pre_tokenizer(r, list[i], path + ".pretokenizers[" + std::to_string(i) + "]", depth + 1, d, byte_level);
  } else if (type == "ByteLevel") {
    byte_level.seen = true;
    const json& aps = r.require(p, "add_prefix_space", path);
    if (!aps.is_boolean()) r.fail(path + ".add_prefix_space", "expected true or false");
    byte_level.add_prefix_space = aps.get<bool>();
    byte_level.use_regex = r.boolean(p, "use_regex", true, path);
  } else if (type == "Split") {
    const json& pat = r.object(r.require(p, "pattern", path), path + ".pattern");
    const json* regex = r.find(pat, "Regex");
    const json* literal = r.find(pat, "String");
    if (!regex == !literal) r.fail(path + ".pattern", "expected exactly one of \"Regex\" or \"String\"");
    const std::string& text = r.string(regex ? *regex : *literal, path + ".pattern");
    if (literal && text.empty()) r.fail(path + ".pattern.String", "an empty split string is not supported");
    const std::string& b = r.string(r.require(p, "behavior", path), path + ".behavior");
    tok::SplitBehavior behavior;
    if (b == "Isolated") {
      behavior = tok::SplitBehavior::Isolated;
    } else if (b == "Removed") {
      behavior = tok::SplitBehavior::Removed;
    } else if (b == "MergedWithPrevious") {
      behavior = tok::SplitBehavior::MergedWithPrevious;
    } else if (b == "MergedWithNext") {
      behavior = tok::SplitBehavior::MergedWithNext;
    } else if (b == "Contiguous") {
      behavior = tok::SplitBehavior::Contiguous;
    } else {
      r.fail(path + ".behavior", "unknown split behavior \"" + b + "\"");
    }
    std::shared_ptr<const tok::Regex> re;
    r.at(path + ".pattern", [&] { re = std::make_shared<const tok::Regex>(text, literal != nullptr, "Split"); });
    d.pre.add_split(std::move(re), behavior, r.boolean(p, "invert", false, path));
  } else {
    r.fail(path, "unsupported pre-tokenizer type \"" + type + "\" (supported: Sequence, Split, ByteLevel)");
  }
}

}  // namespace

Tokenizer Tokenizer::from_json(const std::string& json_text, const std::string& origin) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception& e) {
    throw Error(origin + ": invalid JSON: " + e.what());
  }
  const Reader r(origin);
  r.object(root, "tokenizer");
  Tokenizer t;
  tok::TokenizerData& d = *t.impl_;

  read_model(r, root, d);

  if (const json* n = r.find(root, "normalizer")) read_normalizer(r, *n, "normalizer", 0, d);

  // Added tokens come after the normalizer: normalized ones are matched in NFC form.
  read_added_tokens(r, root, d);
  d.rebuild_matchers();

  // Only byte-level BPE is supported, so the pre-tokenizer must end with the ByteLevel step
  // (which the ByteLevel decoder inverts).
  const json* pre = r.find(root, "pre_tokenizer");
  if (!pre) r.fail("pre_tokenizer", "missing (byte-level BPE needs a ByteLevel pre-tokenizer)");
  ByteLevelStep byte_level;
  read_pre_tokenizer(r, *pre, "pre_tokenizer", 0, d, byte_level);
  if (!byte_level.seen) r.fail("pre_tokenizer", "no ByteLevel step (only byte-level BPE is supported)");
  d.pre.set_byte_level(byte_level.add_prefix_space, byte_level.use_regex);

  const json* dec = r.find(root, "decoder");
  if (!dec) r.fail("decoder", "missing (a ByteLevel decoder is required)");
  const std::string& dec_type = r.type(*dec, "decoder");
  if (dec_type != "ByteLevel")
    r.fail("decoder", "unsupported decoder type \"" + dec_type + "\" (only ByteLevel is supported)");
  // post_processor, truncation and padding only matter to transformers' pair/batch encoding;
  // encode() never adds tokens of its own, so they are not read.
  return t;
}

}  // namespace vl3
