// Malformed and unsupported tokenizer.json files: each must give a vl3::Error that names the
// origin and what is wrong, never a crash or another exception type.
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "tokenizer_test_util.h"
#include "vl3/error.h"

namespace {

using json = nlohmann::json;
using vl3::Tokenizer;

const char* kValid = R"({
  "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3},
            "merges": [["a", "b"]]},
  "added_tokens": [{"id": 4, "content": "<s>", "special": true, "normalized": false}],
  "normalizer": {"type": "NFC"},
  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
  "decoder": {"type": "ByteLevel"}
})";

// The error message from loading `text`, or "" when it loads.
std::string load_error(const std::string& text) {
  try {
    Tokenizer::from_json(text, "bad.json");
  } catch (const vl3::Error& e) {
    return e.what();
  }
  return "";
}

TEST(TokenizerErrors, TheValidBaseLoads) { EXPECT_EQ(load_error(kValid), ""); }

TEST(TokenizerErrors, NotJson) {
  for (const char* text : {"", "{", "{\"model\": ", "[1, 2", "nul", "{\"a\": \"\xFF\"}"}) {
    const std::string e = load_error(text);
    EXPECT_NE(e.find("bad.json: invalid JSON"), std::string::npos) << text << " -> " << e;
  }
}

struct Case {
  const char* name;
  std::function<void(json&)> edit;
  std::vector<const char*> expected;  // substrings of the message, besides the origin
};

TEST(TokenizerErrors, EachProblemIsNamed) {
  const std::vector<Case> cases = {
      {"root is an array", [](json& j) { j = json::array(); }, {"tokenizer", "expected an object"}},
      {"no model", [](json& j) { j.erase("model"); }, {"missing field \"model\""}},
      {"model is a string", [](json& j) { j["model"] = "BPE"; }, {"model", "expected an object"}},
      {"wrong model type", [](json& j) { j["model"]["type"] = "WordPiece"; }, {"model.type", "WordPiece"}},
      {"no vocab", [](json& j) { j["model"].erase("vocab"); }, {"missing field \"vocab\""}},
      {"vocab is an array", [](json& j) { j["model"]["vocab"] = json::array(); }, {"model.vocab", "expected an object"}},
      {"string id", [](json& j) { j["model"]["vocab"]["a"] = "0"; }, {"model.vocab[\"a\"]", "integer"}},
      {"negative id", [](json& j) { j["model"]["vocab"]["a"] = -5; }, {"model.vocab[\"a\"]", "out of range"}},
      {"huge id", [](json& j) { j["model"]["vocab"]["a"] = 1ull << 40; }, {"out of range"}},
      {"float id", [](json& j) { j["model"]["vocab"]["a"] = 0.5; }, {"integer"}},
      {"duplicate id", [](json& j) { j["model"]["vocab"]["b"] = 0; }, {"model.vocab", "id 0 is used by both"}},
      {"no merges", [](json& j) { j["model"].erase("merges"); }, {"missing field \"merges\""}},
      {"merges is an object", [](json& j) { j["model"]["merges"] = json::object(); }, {"model.merges", "array"}},
      {"merge of unknown token", [](json& j) { j["model"]["merges"].push_back({"a", "x"}); },
       {"model.merges[1]", "\"x\" is not in the vocabulary"}},
      {"merge result unknown", [](json& j) { j["model"]["merges"].push_back({"b", "a"}); },
       {"model.merges[1]", "\"ba\" is not in the vocabulary"}},
      {"merge without space", [](json& j) { j["model"]["merges"] = {"ab"}; }, {"model.merges[0]", "one space"}},
      {"merge with two spaces", [](json& j) { j["model"]["merges"] = {"a b c"}; }, {"model.merges[0]"}},
      {"merge of three", [](json& j) { j["model"]["merges"] = {{"a", "b", "c"}}; }, {"model.merges[0]", "pair"}},
      {"merge of numbers", [](json& j) { j["model"]["merges"] = {{1, 2}}; }, {"model.merges[0][0]", "string"}},
      {"merge is a number", [](json& j) { j["model"]["merges"] = {7}; }, {"model.merges[0]"}},
      {"dropout", [](json& j) { j["model"]["dropout"] = 0.1; }, {"model.dropout"}},
      {"byte fallback", [](json& j) { j["model"]["byte_fallback"] = true; }, {"model.byte_fallback"}},
      {"subword prefix", [](json& j) { j["model"]["continuing_subword_prefix"] = "##"; },
       {"model.continuing_subword_prefix"}},
      {"unk not in vocab", [](json& j) { j["model"]["unk_token"] = "<unk>"; }, {"model.unk_token", "<unk>"}},
      {"added_tokens is an object", [](json& j) { j["added_tokens"] = json::object(); }, {"added_tokens", "array"}},
      {"added token without id", [](json& j) { j["added_tokens"][0].erase("id"); },
       {"added_tokens[0]", "missing field \"id\""}},
      {"added token without content", [](json& j) { j["added_tokens"][0].erase("content"); },
       {"added_tokens[0]", "missing field \"content\""}},
      {"added token empty", [](json& j) { j["added_tokens"][0]["content"] = ""; }, {"added_tokens[0]", "empty"}},
      {"added token flag not bool", [](json& j) { j["added_tokens"][0]["special"] = "yes"; },
       {"added_tokens[0].special", "true or false"}},
      {"added token on a vocab id", [](json& j) { j["added_tokens"][0]["id"] = 2; },
       {"added_tokens[0]", "already used by \"ab\""}},
      {"added token with another id than the vocab",
       [](json& j) { j["added_tokens"].push_back({{"id", 9}, {"content", "ab"}}); },
       {"added_tokens[1]", "vocabulary gives it id 2"}},
      {"added token twice", [](json& j) { j["added_tokens"].push_back({{"id", 5}, {"content", "<s>"}}); },
       {"added_tokens[1]", "already added with id 4"}},
      {"normalizer type", [](json& j) { j["normalizer"] = {{"type", "NFKC"}}; }, {"normalizer", "NFKC"}},
      {"normalizer in sequence",
       [](json& j) { j["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{{"type", "Lowercase"}}}}}; },
       {"normalizer.normalizers[0]", "Lowercase"}},
      {"normalizer without type", [](json& j) { j["normalizer"] = json::object(); }, {"normalizer", "type"}},
      {"no pre-tokenizer", [](json& j) { j.erase("pre_tokenizer"); }, {"pre_tokenizer", "missing"}},
      {"pre-tokenizer type", [](json& j) { j["pre_tokenizer"] = {{"type", "Whitespace"}}; },
       {"pre_tokenizer", "Whitespace"}},
      {"no ByteLevel step",
       [](json& j) {
         j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "a"}}}, {"behavior", "Isolated"}};
       },
       {"pre_tokenizer", "no ByteLevel"}},
      {"step after ByteLevel",
       [](json& j) {
         j["pre_tokenizer"] = {{"type", "Sequence"},
                               {"pretokenizers",
                                {{{"type", "ByteLevel"}, {"add_prefix_space", false}},
                                 {{"type", "Split"}, {"pattern", {{"Regex", "a"}}}, {"behavior", "Isolated"}}}}};
       },
       {"pre_tokenizer.pretokenizers[1]", "ByteLevel must come last"}},
      {"ByteLevel without add_prefix_space", [](json& j) { j["pre_tokenizer"].erase("add_prefix_space"); },
       {"pre_tokenizer", "add_prefix_space"}},
      {"bad regex",
       [](json& j) {
         j["pre_tokenizer"] = {{"type", "Sequence"},
                               {"pretokenizers",
                                {{{"type", "Split"}, {"pattern", {{"Regex", "(a"}}}, {"behavior", "Isolated"}},
                                 {{"type", "ByteLevel"}, {"add_prefix_space", false}}}}};
       },
       {"pre_tokenizer.pretokenizers[0].pattern", "invalid regex"}},
      {"bad behavior",
       [](json& j) {
         j["pre_tokenizer"] = {{"type", "Sequence"},
                               {"pretokenizers",
                                {{{"type", "Split"}, {"pattern", {{"Regex", "a"}}}, {"behavior", "Sideways"}},
                                 {{"type", "ByteLevel"}, {"add_prefix_space", false}}}}};
       },
       {"pre_tokenizer.pretokenizers[0].behavior", "Sideways"}},
      {"pattern with both kinds",
       [](json& j) {
         j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "a"}, {"String", "a"}}}, {"behavior", "Isolated"}};
       },
       {"pre_tokenizer.pattern", "exactly one"}},
      {"no decoder", [](json& j) { j.erase("decoder"); }, {"decoder", "missing"}},
      {"decoder type", [](json& j) { j["decoder"] = {{"type", "WordPiece"}}; }, {"decoder", "WordPiece"}},
      {"deep nesting",
       [](json& j) {
         json n = {{"type", "NFC"}};
         for (int i = 0; i < 100; ++i) n = {{"type", "Sequence"}, {"normalizers", {n}}};
         j["normalizer"] = n;
       },
       {"nested too deeply"}},
  };
  for (const Case& c : cases) {
    json j = json::parse(kValid);
    c.edit(j);
    const std::string e = load_error(j.dump());
    EXPECT_EQ(e.rfind("bad.json: ", 0), 0u) << c.name << ": " << e;
    for (const char* part : c.expected) EXPECT_NE(e.find(part), std::string::npos) << c.name << ": " << e;
  }
}

TEST(TokenizerErrors, OptionalPartsMayBeNullOrAbsent) {
  for (const char* key : {"normalizer", "added_tokens", "post_processor", "truncation", "padding"}) {
    json j = json::parse(kValid);
    j[key] = nullptr;
    EXPECT_EQ(load_error(j.dump()), "") << key;
    j.erase(key);
    EXPECT_EQ(load_error(j.dump()), "") << key;
  }
  json j = json::parse(kValid);
  j["model"].erase("type");  // tokenizers accepts an untagged BPE model
  EXPECT_EQ(load_error(j.dump()), "");
  j["normalizer"] = {{"type", "Sequence"}, {"normalizers", json::array()}};
  EXPECT_EQ(load_error(j.dump()), "");
}

// A small in-test fuzz: every prefix and many one-byte corruptions of a valid file either load
// or fail with vl3::Error (any other exception fails the test; a crash fails the run).
TEST(TokenizerErrors, DamagedFilesFailCleanly) {
  const std::string valid = json::parse(kValid).dump();
  size_t loaded = 0, rejected = 0;
  auto attempt = [&](const std::string& text) {
    try {
      const Tokenizer t = Tokenizer::from_json(text, "damaged.json");
      t.decode(t.encode("ab <s> ba"));
      ++loaded;
    } catch (const vl3::Error&) {
      ++rejected;
    }
  };
  for (size_t n = 0; n < valid.size(); ++n) attempt(valid.substr(0, n));
  for (size_t i = 0; i < valid.size(); ++i) {
    for (char c : {'"', '{', ']', '0', 'x', ' ', '\\', '\xFF'}) {
      std::string s = valid;
      s[i] = c;
      attempt(s);
    }
  }
  EXPECT_GT(rejected, valid.size());
  EXPECT_GT(loaded, 0u);
}

}  // namespace
