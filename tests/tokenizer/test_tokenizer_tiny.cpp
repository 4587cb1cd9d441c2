// Handcrafted tokenizer.json files: the pipeline's rules checked on vocabularies small enough
// to work out the expected ids by hand. Needs nothing outside the repository.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "test_util.h"
#include "tokenizer_test_util.h"
#include "vl3/error.h"

namespace {

using json = nlohmann::json;
using vl3::Tokenizer;
using vl3::TokenId;
using Ids = std::vector<TokenId>;
using vl3test::concat_ids;

// A minimal file: a few byte-level tokens, merges building "hello" and "Ġhello", one special
// token, GPT-2's ByteLevel pre-tokenizer. Bytes missing from the vocabulary are dropped.
const char* kMinimal = R"({
  "version": "1.0",
  "model": {"type": "BPE",
            "vocab": {"h": 0, "e": 1, "l": 2, "o": 3, "Ġ": 4, "he": 5, "ll": 6, "hell": 7, "hello": 8, "Ġhello": 9},
            "merges": [["h", "e"], ["l", "l"], ["he", "ll"], ["hell", "o"], ["Ġ", "hello"]]},
  "added_tokens": [{"id": 10, "content": "<|end|>", "special": true, "single_word": false,
                    "lstrip": false, "rstrip": false, "normalized": false}],
  "normalizer": {"type": "NFC"},
  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
  "post_processor": null,
  "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true}
})";

// Qwen2's split pattern, as its tokenizer.json spells it.
const char* kQwenPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

json qwen_pre_tokenizer() {
  return {{"type", "Sequence"},
          {"pretokenizers",
           {{{"type", "Split"}, {"pattern", {{"Regex", kQwenPattern}}}, {"behavior", "Isolated"}, {"invert", false}},
            {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}}}}};
}

// The pre-tokenizer of the real file, to check its pattern rather than a copy.
const json& embedded_pre_tokenizer() {
  static const json pre = json::parse(vl3::embedded_tokenizer_json()).at("pre_tokenizer");
  return pre;
}

// A Qwen-shaped file over all 256 byte tokens (id = byte value) plus the merges given as raw
// text pairs (merged tokens get ids 256, 257, ... in order).
json byte_file(const std::vector<std::pair<std::string, std::string>>& merges, bool legacy_merges = false) {
  json vocab = json::object(), m = json::array();
  for (int b = 0; b < 256; ++b) vocab[vl3test::byte_char(uint8_t(b))] = b;
  TokenId next = 256;
  for (const auto& [a, b] : merges) {
    const std::string la = vl3test::byte_level(a), lb = vl3test::byte_level(b);
    if (!vocab.contains(la + lb)) vocab[la + lb] = next++;
    if (legacy_merges)
      m.push_back(la + " " + lb);
    else
      m.push_back({la, lb});
  }
  return {{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", m}}},
          {"added_tokens",
           {{{"id", 1000}, {"content", "<|end|>"}, {"special", true}, {"normalized", false}},
            {{"id", 1001}, {"content", "<tool>"}, {"special", false}, {"normalized", false}}}},
          {"normalizer", {{"type", "NFC"}}},
          {"pre_tokenizer", qwen_pre_tokenizer()},
          {"decoder", {{"type", "ByteLevel"}}}};
}

Tokenizer load(const json& j) { return Tokenizer::from_json(j.dump(), "test.json"); }

Ids bytes_of(const std::string& s) {
  Ids ids;
  for (unsigned char c : s) ids.push_back(c);
  return ids;
}

TEST(TokenizerTiny, MinimalFile) {
  const Tokenizer tok = Tokenizer::from_json(kMinimal, "minimal.json");
  EXPECT_EQ(tok.encode("hello hello<|end|>"), (Ids{8, 9, 10}));
  EXPECT_EQ(tok.encode("hell"), (Ids{7}));
  EXPECT_EQ(tok.encode("lol"), (Ids{2, 3, 2}));
  EXPECT_EQ(tok.encode("hex"), (Ids{5}));  // no token for "x": dropped, as tokenizers does
  EXPECT_EQ(tok.encode(""), Ids{});
  EXPECT_EQ(tok.decode({8, 9, 10}), "hello hello<|end|>");
  EXPECT_EQ(tok.decode({8, 9, 10}, /*skip_special=*/true), "hello hello");
  EXPECT_EQ(tok.vocab_size(), 11u);
  EXPECT_EQ(tok.token_to_id("Ġhello"), 9);
  EXPECT_EQ(tok.token_to_id("<|end|>"), 10);
  EXPECT_EQ(tok.token_to_id("x"), -1);
  EXPECT_EQ(tok.id_to_token(9), "Ġhello");
  EXPECT_EQ(tok.id_to_token(11), "");
  EXPECT_EQ(tok.token_bytes(9), " hello");
  EXPECT_TRUE(tok.is_special(10));
  EXPECT_FALSE(tok.is_special(8));
  EXPECT_FALSE(tok.is_special(-1));
  EXPECT_THROW(tok.decode({11}), vl3::Error);
  EXPECT_THROW(tok.token_bytes(-3), vl3::Error);
}

TEST(TokenizerTiny, MergesInBothSpellingsGiveTheSameTokenizer) {
  json legacy = json::parse(kMinimal);
  legacy["model"]["merges"] = {"h e", "l l", "he ll", "hell o", "Ġ hello"};
  const Tokenizer a = Tokenizer::from_json(kMinimal), b = load(legacy);
  for (const char* s : {"hello hello", "hellohello", "ll he", " hell o"}) EXPECT_EQ(a.encode(s), b.encode(s)) << s;
  EXPECT_EQ(b.encode("hello hello"), (Ids{8, 9}));

  const std::vector<std::pair<std::string, std::string>> merges = {{"a", "b"}, {"ab", "c"}, {" ", "ab"}, {"c", "c"}};
  const Tokenizer c = load(byte_file(merges)), d = load(byte_file(merges, /*legacy_merges=*/true));
  for (const char* s : {"abc abc", "ccc abab", "cab"}) EXPECT_EQ(c.encode(s), d.encode(s)) << s;
  EXPECT_EQ(c.encode("abc ab"), (Ids{257, 258}));
}

TEST(TokenizerTiny, MergesApplyByRankNotByPosition) {
  // "l"+"o" has a better rank than "e"+"l": "elo" is e|lo, not el|o.
  const Tokenizer tok = load(byte_file({{"l", "o"}, {"e", "l"}}));
  EXPECT_EQ(tok.encode("elo"), (Ids{'e', 256}));
  EXPECT_EQ(tok.encode("el"), (Ids{257}));
  // Equal ranks go left to right: "aaa" is aa|a.
  const Tokenizer aa = load(byte_file({{"a", "a"}}));
  EXPECT_EQ(aa.encode("aaa"), (Ids{256, 'a'}));
  EXPECT_EQ(aa.encode("aaaa"), (Ids{256, 256}));
  // A merge only fires between the current symbols: "ab"+"c" needs "ab" to be made first.
  const Tokenizer chain = load(byte_file({{"b", "c"}, {"a", "b"}, {"ab", "c"}}));
  EXPECT_EQ(chain.encode("abc"), (Ids{'a', 256}));  // b+c (rank 0) wins, then a+bc has no merge
}

TEST(TokenizerTiny, RepeatedMergeTakesTheLaterRank) {
  // As in tokenizers (a map built from the list): the second "x y" entry's rank applies.
  json j = byte_file({{"x", "y"}, {"y", "z"}});
  j["model"]["merges"].push_back({"x", "y"});
  const Tokenizer tok = load(j);
  EXPECT_EQ(tok.encode("xyz"), (Ids{'x', 257}));
}

TEST(TokenizerTiny, AddedTokensAreSplitOutFirst) {
  const Tokenizer tok = load(byte_file({{"a", "b"}}));
  EXPECT_EQ(tok.encode("ab<|end|>ab"), (Ids{256, 1000, 256}));
  EXPECT_EQ(tok.encode("<tool><|end|>"), (Ids{1001, 1000}));
  EXPECT_EQ(tok.encode("<|end|"), bytes_of("<|end|"));  // incomplete: plain text
  // Before NFC: ">" followed by U+0338 would otherwise compose into U+226F.
  EXPECT_EQ(tok.encode("<|end|>\xCC\xB8"), (Ids{1000, 0xCC, 0xB8}));
  EXPECT_EQ(tok.encode(">\xCC\xB8"), bytes_of("\xE2\x89\xAF"));  // NFC applies to plain text
  // Added tokens split a word in two: the halves are pre-tokenized separately.
  EXPECT_EQ(tok.encode("a<tool>b"), (Ids{'a', 1001, 'b'}));
}

TEST(TokenizerTiny, ParseSpecialFalseTreatsEverythingAsText) {
  const Tokenizer tok = load(byte_file({}));
  const Ids plain = tok.encode("x<|end|>y<tool>", /*parse_special=*/false);
  EXPECT_EQ(plain, bytes_of("x<|end|>y<tool>"));
  EXPECT_EQ(tok.decode(plain), "x<|end|>y<tool>");
  EXPECT_EQ(tok.encode("x<|end|>y<tool>"), (Ids{'x', 1000, 'y', 1001}));
}

TEST(TokenizerTiny, LongestAddedTokenWins) {
  json j = byte_file({});
  j["added_tokens"].push_back({{"id", 1002}, {"content", "<|end|>!"}, {"special", true}, {"normalized", false}});
  j["added_tokens"].push_back({{"id", 1003}, {"content", "|end"}, {"special", true}, {"normalized", false}});
  const Tokenizer tok = load(j);
  EXPECT_EQ(tok.encode("<|end|>!"), (Ids{1002}));
  EXPECT_EQ(tok.encode("<|end|>?"), (Ids{1000, '?'}));
  // Leftmost first: "|end" starts inside "<|end|>" but "<|end|>" starts earlier.
  EXPECT_EQ(tok.encode("x<|end|>"), (Ids{'x', 1000}));
  EXPECT_EQ(tok.encode("|end|>"), (Ids{1003, '|', '>'}));
}

TEST(TokenizerTiny, LstripRstripAndSingleWord) {
  json j = byte_file({});
  j["added_tokens"] = {
      {{"id", 1000}, {"content", "<m>"}, {"special", true}, {"lstrip", true}, {"rstrip", true}, {"normalized", false}},
      {{"id", 1001}, {"content", "yo"}, {"special", false}, {"single_word", true}, {"normalized", false}},
      {{"id", 1002}, {"content", "<r>"}, {"special", true}, {"rstrip", true}, {"normalized", false}}};
  const Tokenizer tok = load(j);
  EXPECT_EQ(tok.encode("a \t <m>\n b"), (Ids{'a', 1000, 'b'}));
  EXPECT_EQ(tok.encode("a <r> b"), (Ids{'a', ' ', 1002, 'b'}));
  // Stripping covers any Unicode White_Space, e.g. U+3000.
  EXPECT_EQ(tok.encode("a\xE3\x80\x80<m>"), (Ids{'a', 1000}));
  EXPECT_EQ(tok.encode("yo"), (Ids{1001}));
  EXPECT_EQ(tok.encode("hey yo!"), concat_ids({bytes_of("hey "), {1001}, bytes_of("!")}));
  EXPECT_EQ(tok.encode("yoyo"), bytes_of("yoyo"));
  EXPECT_EQ(tok.encode("ayo"), bytes_of("ayo"));
  EXPECT_EQ(tok.encode("yo_"), bytes_of("yo_"));                      // '_' is a word character
  EXPECT_EQ(tok.encode("\xC3\xA9yo"), bytes_of("\xC3\xA9yo"));        // so is 'é'
  EXPECT_EQ(tok.encode("yo\xE2\x83\x97"), bytes_of("yo\xE2\x83\x97"));  // and a combining mark
}

TEST(TokenizerTiny, NormalizedAddedTokensMatchTheNfcText) {
  json j = byte_file({});
  // "é" spelt decomposed in the file: normalized tokens are searched for in NFC form.
  j["added_tokens"] = {{{"id", 1000}, {"content", "caf" "e\xCC\x81"}, {"special", false}, {"normalized", true}}};
  const Tokenizer tok = load(j);
  EXPECT_EQ(tok.encode("un caf\xC3\xA9!"), concat_ids({bytes_of("un "), {1000}, bytes_of("!")}));
  EXPECT_EQ(tok.encode("un cafe\xCC\x81!"), concat_ids({bytes_of("un "), {1000}, bytes_of("!")}));
  // A token that is not normalized only matches the raw text.
  j["added_tokens"][0]["normalized"] = false;
  const Tokenizer raw = load(j);
  EXPECT_EQ(raw.encode("cafe\xCC\x81"), (Ids{1000}));
  EXPECT_EQ(raw.encode("caf\xC3\xA9"), bytes_of("caf\xC3\xA9"));
}

TEST(TokenizerTiny, InvalidUtf8IsRefusedWithItsOffset) {
  const Tokenizer tok = load(byte_file({}));
  for (const std::string& bad : {std::string("ab\xFF" "cd"), std::string("ab\xC3"), std::string("ab\xED\xA0\x80"),
                                std::string("ab\xC0\x80"), std::string("ab\xF4\x90\x80\x80")}) {
    try {
      tok.encode(bad);
      ADD_FAILURE() << "no error";
    } catch (const vl3::Error& e) {
      EXPECT_NE(std::string(e.what()).find("byte offset 2"), std::string::npos) << e.what();
    }
  }
  // NUL is valid UTF-8 and survives normalisation.
  const std::string nul("a\0e\xCC\x81", 5);
  EXPECT_EQ(tok.decode(tok.encode(nul)), std::string("a\0\xC3\xA9", 4));
}

TEST(TokenizerTiny, DecodeReplacesInvalidSequences) {
  const Tokenizer tok = load(byte_file({}));
  EXPECT_EQ(tok.decode(bytes_of("\xE2\x82\xAC")), "\xE2\x82\xAC");
  EXPECT_EQ(tok.decode({0xE2, 0x82}), "\xEF\xBF\xBD");              // one cut character: one U+FFFD
  EXPECT_EQ(tok.decode({0xE2, 0x82, 'a'}), "\xEF\xBF\xBD" "a");
  EXPECT_EQ(tok.decode({0xC0, 0x80}), "\xEF\xBF\xBD\xEF\xBF\xBD");  // never-valid bytes: one each
  EXPECT_EQ(tok.decode({0xED, 0xA0, 0x80}), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
  EXPECT_EQ(tok.decode({0xF0, 0x9F, 0x98, 0xF0, 0x9F, 0x98, 0x80}), "\xEF\xBF\xBD\xF0\x9F\x98\x80");
}

TEST(TokenizerTiny, StreamDecoderHoldsBackCutCharacters) {
  const Tokenizer tok = load(byte_file({}));
  vl3::StreamDecoder s(tok);
  EXPECT_EQ(s.push('a'), "a");
  EXPECT_EQ(s.push(0xF0), "");
  EXPECT_EQ(s.push(0x9F), "");
  EXPECT_EQ(s.push(0x98), "");
  EXPECT_EQ(s.push(0x80), "\xF0\x9F\x98\x80");
  EXPECT_EQ(s.push(1000), "");  // special, skipped by default
  EXPECT_EQ(s.push(0xFF), "\xEF\xBF\xBD");  // can never become valid: replaced at once
  EXPECT_EQ(s.push(0xE2), "");
  EXPECT_EQ(s.push('b'), "\xEF\xBF\xBD" "b");
  EXPECT_EQ(s.push(0xE2), "");
  EXPECT_EQ(s.push(0x82), "");
  EXPECT_EQ(s.flush(), "\xEF\xBF\xBD");
  EXPECT_EQ(s.flush(), "");
  EXPECT_THROW(s.push(5000), vl3::Error);

  vl3::StreamDecoder keep(tok, /*skip_special=*/false);
  EXPECT_EQ(keep.push(0xC3), "");
  EXPECT_EQ(keep.push(1000), "\xEF\xBF\xBD<|end|>");
  EXPECT_EQ(keep.push(1001), "<tool>");
}

TEST(TokenizerTiny, AddSpecialToken) {
  Tokenizer tok = load(byte_file({{"a", "b"}}));
  tok.add_special_token("<new>", 2000);
  EXPECT_EQ(tok.encode("ab<new>ab"), (Ids{256, 2000, 256}));
  EXPECT_EQ(tok.encode("ab<new>", /*parse_special=*/false), concat_ids({{256}, bytes_of("<new>")}));
  EXPECT_TRUE(tok.is_special(2000));
  EXPECT_EQ(tok.vocab_size(), 2001u);
  EXPECT_EQ(tok.token_to_id("<new>"), 2000);
  EXPECT_EQ(tok.id_to_token(2000), "<new>");
  EXPECT_EQ(tok.decode({256, 2000}), "ab<new>");
  EXPECT_EQ(tok.decode({256, 2000}, /*skip_special=*/true), "ab");

  // An existing vocabulary token becomes special (and is split out of the text as a whole).
  tok.add_special_token("ab", 256);
  EXPECT_TRUE(tok.is_special(256));
  EXPECT_EQ(tok.decode({'x', 256}, /*skip_special=*/true), "x");
  // A non-special added token can be marked special.
  EXPECT_FALSE(tok.is_special(1001));
  tok.add_special_token("<tool>", 1001);
  EXPECT_TRUE(tok.is_special(1001));
  tok.add_special_token("<new>", 2000);  // again: no change

  EXPECT_THROW(tok.add_special_token("<new>", 2001), vl3::Error);  // content known with another id
  EXPECT_THROW(tok.add_special_token("zz", 256), vl3::Error);      // id taken by "ab"
  EXPECT_THROW(tok.add_special_token("ab", 300), vl3::Error);      // vocabulary gives "ab" 256
  EXPECT_THROW(tok.add_special_token("", 3000), vl3::Error);
  EXPECT_THROW(tok.add_special_token("\xFF", 3000), vl3::Error);
  EXPECT_THROW(tok.add_special_token("<neg>", -1), vl3::Error);
  EXPECT_EQ(tok.encode("<new>"), (Ids{2000}));  // failed calls changed nothing
}

TEST(TokenizerTiny, UnknownToken) {
  json j = json::parse(kMinimal);
  j["model"]["vocab"]["<unk>"] = 11;
  j["model"]["unk_token"] = "<unk>";
  EXPECT_EQ(load(j).encode("hexx"), (Ids{5, 11, 11}));
  j["model"]["fuse_unk"] = true;
  EXPECT_EQ(load(j).encode("hexxhe"), (Ids{5, 11, 5}));
}

TEST(TokenizerTiny, ByteLevelPrefixSpace) {
  json j = json::parse(kMinimal);
  j["pre_tokenizer"]["add_prefix_space"] = true;
  const Tokenizer tok = load(j);
  EXPECT_EQ(tok.encode("hello"), (Ids{9}));
  EXPECT_EQ(tok.encode(" hello"), (Ids{9}));
  EXPECT_EQ(tok.encode("hello<|end|>hello"), (Ids{9, 10, 9}));  // each piece gets the space
}

TEST(TokenizerTiny, SplitBehaviors) {
  // Merges that cross piece boundaries reveal where the pieces are.
  const std::vector<std::pair<std::string, std::string>> merges = {{"-", "b"}, {"a", "-"}, {"-", "-"}};
  auto with = [&](const std::string& behavior, bool invert) {
    json j = byte_file(merges);
    j["pre_tokenizer"] = {
        {"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", behavior}, {"invert", invert}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
    return load(j);
  };
  const TokenId minus_b = 256, a_minus = 257, minus2 = 258;
  EXPECT_EQ(with("Isolated", false).encode("a-b"), (Ids{'a', '-', 'b'}));
  EXPECT_EQ(with("Removed", false).encode("a-b"), (Ids{'a', 'b'}));
  EXPECT_EQ(with("MergedWithPrevious", false).encode("a-b"), (Ids{a_minus, 'b'}));
  EXPECT_EQ(with("MergedWithNext", false).encode("a-b"), (Ids{'a', minus_b}));
  EXPECT_EQ(with("Contiguous", false).encode("a--b"), (Ids{'a', minus2, 'b'}));
  EXPECT_EQ(with("Isolated", false).encode("a--b"), (Ids{'a', '-', '-', 'b'}));
  // invert: the text between the dashes is what matched.
  EXPECT_EQ(with("Removed", true).encode("a-b"), (Ids{'-'}));
}

TEST(TokenizerTiny, EmptyMatchesFollowOniguruma) {
  // An empty match right after the previous match is skipped, so "x*" splits "ab" into a|b
  // (tokenizers via the onig crate): without merges across pieces "ab" would merge.
  json j = byte_file({{"a", "b"}});
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "x*";
  EXPECT_EQ(load(j).encode("ab"), (Ids{'a', 'b'}));
  EXPECT_EQ(load(j).encode("axxb"), (Ids{'a', 'x', 'x', 'b'}));
}

// Characters where regex engines disagree, with tokenizers (Oniguruma) as the reference: \s
// is exactly White_Space (PCRE2's own \s adds U+180E; JavaScript's adds U+FEFF and lacks
// U+0085), and (?i) folds U+017F (long s) to 's'. A merge between the two bytes on either side
// of a possible split shows whether the split happened.
TEST(TokenizerTiny, QwenRegexFollowsOniguruma) {
  struct Case {
    const char* text;
    std::pair<std::string, std::string> merge;
    Ids ids;
  };
  const Case cases[] = {
      // 'ſ is a contraction like 's, so "t" is a piece of its own (not "'ſt" in one piece).
      {"'\xC5\xBFt", {"\xBF", "t"}, {'\'', 0xC5, 0xBF, 't'}},
      {"'St", {"S", "t"}, {'\'', 'S', 't'}},
      {"'LLa", {"L", "a"}, {'\'', 'L', 'L', 'a'}},  // case-insensitive: 'LL is a contraction
      // U+180E and U+FEFF are not space: they join the punctuation before them.
      {"!\xE1\xA0\x8E", {"!", "\xE1"}, {256, 0xA0, 0x8E}},
      {"!\xEF\xBB\xBF", {"!", "\xEF"}, {256, 0xBB, 0xBF}},
      // U+0085 is space: it does not.
      {"!\xC2\x85", {"!", "\xC2"}, {'!', 0xC2, 0x85}},
      {"\xC2\x85\xC2\x85!", {"\x85", "\xC2"}, {0xC2, 0x85, 0xC2, 0x85, '!'}},
  };
  for (const Case& c : cases) {
    json j = byte_file({c.merge});
    j["pre_tokenizer"] = embedded_pre_tokenizer();
    EXPECT_EQ(load(j).encode(c.text), c.ids) << c.text;
  }
}

TEST(TokenizerTiny, FromFile) {
  vl3test::TempDir dir;
  {
    std::ofstream(dir.str("tokenizer.json")) << kMinimal;
  }
  EXPECT_EQ(Tokenizer::from_file(dir.str("tokenizer.json")).encode("hello"), (Ids{8}));
  try {
    Tokenizer::from_file(dir.str("missing.json"));
    ADD_FAILURE() << "no error";
  } catch (const vl3::Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.json"), std::string::npos) << e.what();
  }
}

TEST(TokenizerTiny, MovedFromTokenizerThrows) {
  Tokenizer a = Tokenizer::from_json(kMinimal);
  Tokenizer b = std::move(a);
  EXPECT_EQ(b.encode("hello"), (Ids{8}));
  EXPECT_THROW(a.encode("hello"), vl3::Error);  // NOLINT(bugprone-use-after-move): on purpose
}

}  // namespace
