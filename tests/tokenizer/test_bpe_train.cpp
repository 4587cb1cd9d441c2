// vl3::train_bpe_tokenizer and vl3::corpus_texts_from_annotations: the learned tokenizer.json loads with
// vl3::Tokenizer, round-trips any text (seen or not, non-ASCII and emoji included), learns frequent words as
// single tokens, keeps Qwen2.5's added tokens (renumbered contiguously after the vocabulary, and
// tokenizer_config.json's added_tokens_decoder renumbered to match), is deterministic, and respects
// vocab_size and min_frequency; with split_letters_from_punctuation it never merges a letter with
// punctuation. Needs nothing outside the repository.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "test_util.h"
#include "tokenizer_test_util.h"
#include "vl3/assets.h"
#include "vl3/bpe_train.h"
#include "vl3/error.h"

namespace {

using json = nlohmann::json;
using vl3::Tokenizer;
using vl3::TokenId;

// About fifty English sentences with digits, punctuation and newlines.
std::vector<std::string> english_corpus() {
  std::vector<std::string> t = {
      "The quick brown fox jumps over the lazy dog.",
      "A red square is to the left of the blue circle.",
      "How many triangles are there? There are 3 triangles.",
      "The chart shows 12 bars; the tallest one is green.",
      "In 2024, the team trained a small model on 1,400 images.",
      "What colour is the ball? It is yellow!",
      "She said: \"Read the text in the image, please.\"",
      "The video starts at 0.0 seconds and ends at 8.5 seconds.",
      "At 4 seconds, a purple star appears in the top-right corner.",
      "Question: Which shape moves?\nOptions:\n(A) circle\n(B) square\nAnswer: B",
      "The cat sat on the mat, and the dog slept by the door.",
      "Line one.\nLine two.\n\nLine four, after a blank line.",
      "Numbers like 42, 3.14159 and 1000000 appear here (and there).",
      "Describe the image in detail.",
      "There is a large green triangle below a small orange circle.",
      "The text reads \"HELLO WORLD\" in black letters.",
      "Is the square bigger than the circle? No, it is smaller.",
      "Count the objects: one, two, three, four, five.",
      "The bar for March is 7 units high; April's bar is 9 units high.",
      "Why does the sky look blue? Because of Rayleigh scattering.",
      "The square changes colour from red to blue at 3 seconds.",
      "A circle disappears at 5 seconds; nothing else changes.",
      "Tabs\tand  double  spaces   are kept as they are.",
      "Email me at someone@example.com before 10:30 a.m.",
      "The price is $19.99 (plus 20% tax) -- a good deal!",
  };
  const char* shapes[] = {"circle", "square", "triangle", "star", "hexagon"};
  const char* colours[] = {"red", "green", "blue", "yellow", "purple", "orange"};
  for (int i = 0; i < 25; ++i)
    t.push_back("Image " + std::to_string(i + 1) + ": a " + colours[i % 6] + " " + shapes[i % 5] + " at (" +
                std::to_string(17 * i % 100) + ", " + std::to_string(31 * i % 100) + ").\nIt is " +
                (i % 2 ? "large" : "small") + "!");
  return t;
}

json added_tokens_of(const std::string& tokenizer_json) { return json::parse(tokenizer_json).at("added_tokens"); }

size_t vocab_entries(const std::string& tokenizer_json) {
  return json::parse(tokenizer_json).at("model").at("vocab").size();
}

size_t merge_count(const std::string& tokenizer_json) {
  return json::parse(tokenizer_json).at("model").at("merges").size();
}

// The English corpus trained once with the default options (training parses the embedded 11 MB template).
const vl3::BpeTrainResult& english_result() {
  static const vl3::BpeTrainResult r = vl3::train_bpe_tokenizer(english_corpus(), vl3::BpeTrainOptions{});
  return r;
}
const Tokenizer& english_tokenizer() {
  static const Tokenizer tok = Tokenizer::from_json(english_result().tokenizer_json, "trained tokenizer.json");
  return tok;
}

std::string errors_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const vl3::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(BpeTrain, LoadsAndKeepsQwenPipeline) {
  const auto& r = english_result();
  ASSERT_NO_THROW(Tokenizer::from_json(r.tokenizer_json, "trained"));
  const json j = json::parse(r.tokenizer_json), tpl = json::parse(vl3::embedded_tokenizer_json());
  for (const char* k : {"normalizer", "pre_tokenizer", "decoder"}) EXPECT_EQ(j.at(k), tpl.at(k)) << k;
  EXPECT_EQ(j.at("model").at("type"), "BPE");
  EXPECT_EQ(int64_t(j.at("model").at("merges").size()), r.merges);
  EXPECT_EQ(j.at("model").at("vocab").size(), 256u + size_t(r.merges));  // no merge repeated a spelling here
  EXPECT_GT(r.merges, 50);
  EXPECT_GT(r.words, 100);
  // The 256 byte symbols have Qwen2's ids 0..255.
  const Tokenizer& tok = english_tokenizer();
  for (int b = 0; b < 256; ++b) {
    const std::string c = vl3test::byte_char(uint8_t(b));
    EXPECT_EQ(tok.token_to_id(c), vl3test::qwen_tokenizer().token_to_id(c)) << b;
    EXPECT_LT(tok.token_to_id(c), 256) << b;
  }
}

TEST(BpeTrain, RoundTripsTrainingAndUnseenText) {
  const Tokenizer& tok = english_tokenizer();
  for (const auto& t : english_corpus()) {
    const auto ids = tok.encode(t);
    EXPECT_EQ(tok.decode(ids), t);
    EXPECT_LT(ids.size(), t.size()) << "merges should shorten training text: " << t;
  }
  const std::vector<std::string> unseen = {
      "Gr\u00fc\u00dfe, \u6771\u4eac! 123\n\t",
      "Emoji: \U0001F600\U0001F44D\U0001F3FD and a family \U0001F468\u200D\U0001F469\u200D\U0001F467!",
      "\u0417\u0434\u0440\u0430\u0432\u0441\u0442\u0432\u0443\u0439, \u043C\u0438\u0440 -- \u0645\u0631\u062D\u0628\u0627",
      "  leading and trailing spaces  ",
      "\r\nWindows line\r\nendings\r\n",
      "Control \x01\x02\x7f bytes and 9876543210 digits.",
      "zzqxj vwkkp: never-seen words",
      "",
      "<|im_start|>user\nhi there<|im_end|>\n<|im_start|>assistant\n<image>ok<|endoftext|>",
  };
  for (const auto& t : unseen) {
    const auto ids = tok.encode(t);
    EXPECT_EQ(tok.decode(ids), t) << t;
    std::string bytes;
    for (TokenId id : ids) bytes += tok.token_bytes(id);
    EXPECT_EQ(bytes, t) << t;
  }
}

TEST(BpeTrain, FrequentWordsBecomeSingleTokens) {
  std::vector<std::string> texts = english_corpus();
  std::string many;
  for (int i = 0; i < 100; ++i) {
    texts.push_back("zebra");                      // "zebra" at the start of a text: no leading space
    many += (i ? " " : "") + std::string("zebra");  // then " zebra" 99 times
  }
  texts.push_back(many);
  const auto r = vl3::train_bpe_tokenizer(texts, {});
  const Tokenizer tok = Tokenizer::from_json(r.tokenizer_json, "zebra");
  EXPECT_EQ(tok.encode("zebra").size(), 1u);
  EXPECT_EQ(tok.encode(" zebra").size(), 1u);
  EXPECT_NE(tok.token_to_id("zebra"), -1);
  EXPECT_NE(tok.token_to_id("\xC4\xA0zebra"), -1);  // "Ġzebra"
  const auto two = tok.encode("zebra zebra");
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0], tok.token_to_id("zebra"));
  EXPECT_EQ(two[1], tok.token_to_id("\xC4\xA0zebra"));
  // Frequent words of the English corpus too.
  const Tokenizer& en = english_tokenizer();
  EXPECT_EQ(en.encode(" the").size(), 1u);
  EXPECT_EQ(en.encode(" seconds").size(), 1u);
}

TEST(BpeTrain, SplitLettersFromPunctuationKeepsOptionLettersApart) {
  // Multiple-choice prompts: "(B" is one pre-token (the split regex joins one leading non-letter to letters),
  // so by default BPE learns "(B" as a token; with the option it must stay "(" "B", the token of the answer "B.".
  std::vector<std::string> texts = english_corpus();
  for (int i = 0; i < 200; ++i)
    texts.push_back("Options:\n(A) red\n(B) blue\n(C) green\n(D) black\nAnswer: " + std::string(1, char('A' + i % 4)) +
                    ". It's done.");
  const auto plain = vl3::train_bpe_tokenizer(texts, {});
  const Tokenizer p = Tokenizer::from_json(plain.tokenizer_json, "plain");
  EXPECT_NE(p.token_to_id("(B"), -1);
  EXPECT_EQ(p.encode("(B)").size(), 2u);  // "(B" ")"

  vl3::BpeTrainOptions o;
  o.split_letters_from_punctuation = true;
  const auto split = vl3::train_bpe_tokenizer(texts, o);
  const Tokenizer t = Tokenizer::from_json(split.tokenizer_json, "split");
  EXPECT_EQ(t.token_to_id("(B"), -1);
  const auto ids = t.encode("(B) blue");
  ASSERT_EQ(ids.size(), 4u);  // "(" "B" ")" " blue"
  EXPECT_EQ(ids[1], t.token_to_id("B"));
  EXPECT_EQ(t.encode("B.")[0], t.token_to_id("B"));
  EXPECT_EQ(ids[3], t.token_to_id("\xC4\xA0" "blue"));  // letters still merge with the space before them
  // No merged token of the vocabulary mixes an ASCII letter with ASCII punctuation.
  for (const auto& m : json::parse(split.tokenizer_json).at("model").at("merges")) {
    const std::string s = m[0].get<std::string>() + m[1].get<std::string>();
    const bool letter = std::any_of(s.begin(), s.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)); });
    const bool punct = std::any_of(s.begin(), s.end(), [](char c) { return std::ispunct(static_cast<unsigned char>(c)); });
    EXPECT_FALSE(letter && punct) << s;
  }
  EXPECT_EQ(t.decode(t.encode("(B) blue. It's done.")), "(B) blue. It's done.");
  EXPECT_GT(split.merges, 0);
}

TEST(BpeTrain, AddedTokensAreRenumberedAfterTheVocabulary) {
  const auto& r = english_result();
  const Tokenizer& tok = english_tokenizer();
  const size_t nv = vocab_entries(r.tokenizer_json);
  const json added = added_tokens_of(r.tokenizer_json);
  const json tpl_added = json::parse(vl3::embedded_tokenizer_json()).at("added_tokens");
  ASSERT_EQ(added.size(), tpl_added.size());
  std::vector<int64_t> ids;
  for (size_t i = 0; i < added.size(); ++i) {
    ids.push_back(added[i].at("id").get<int64_t>());
    EXPECT_EQ(added[i].at("content"), tpl_added[i].at("content"));
    EXPECT_EQ(added[i].at("special"), tpl_added[i].at("special"));
  }
  std::sort(ids.begin(), ids.end());
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), int64_t(nv));
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(ids[i], int64_t(nv + i)) << "not contiguous";
  EXPECT_EQ(r.total_ids, ids.back() + 1);
  EXPECT_EQ(int64_t(tok.vocab_size()), r.total_ids);

  for (const char* s : {"<|im_start|>", "<|im_end|>", "<|endoftext|>", "<image>"}) {
    const auto e = tok.encode(s);
    ASSERT_EQ(e.size(), 1u) << s;
    EXPECT_GE(e[0], TokenId(nv)) << s;
    EXPECT_EQ(e[0], tok.token_to_id(s)) << s;
    EXPECT_EQ(tok.decode(e), s);
  }
  // Special tokens are dropped by skip_special.
  EXPECT_EQ(tok.decode(tok.encode("<|im_start|>hi<|im_end|>"), true), "hi");

  // tokenizer_config.json: added_tokens_decoder renumbered to the same ids.
  const json& dec = r.tokenizer_config.at("added_tokens_decoder");
  const json tpl_dec = json::parse(vl3::embedded_tokenizer_config()).at("added_tokens_decoder");
  EXPECT_EQ(dec.size(), tpl_dec.size());
  std::set<std::string> contents;
  for (auto it = dec.begin(); it != dec.end(); ++it) {
    const std::string content = it.value().at("content");
    contents.insert(content);
    EXPECT_EQ(std::to_string(tok.token_to_id(content)), it.key()) << content;
    bool found = false;
    for (const auto& a : added)
      if (a.at("content") == content) found = (std::to_string(a.at("id").get<int64_t>()) == it.key());
    EXPECT_TRUE(found) << content;
  }
  for (const char* s : {"<|im_start|>", "<|im_end|>", "<|endoftext|>", "<image>"}) EXPECT_TRUE(contents.count(s)) << s;
  // The rest of tokenizer_config.json is the template's.
  json a = r.tokenizer_config, b = json::parse(vl3::embedded_tokenizer_config());
  a.erase("added_tokens_decoder");
  b.erase("added_tokens_decoder");
  EXPECT_EQ(a, b);
}

TEST(BpeTrain, SpecialTokenTextIsNotLearned) {
  std::vector<std::string> texts;
  for (int i = 0; i < 50; ++i) texts.push_back("<image><|im_start|>abc<|im_end|>");
  const auto r = vl3::train_bpe_tokenizer(texts, {});
  const Tokenizer tok = Tokenizer::from_json(r.tokenizer_json);
  EXPECT_EQ(tok.encode("abc").size(), 1u);
  EXPECT_EQ(r.words, 1);
  EXPECT_EQ(tok.token_to_id("<im"), -1);
  EXPECT_EQ(r.merges, 2);  // "a b", then "ab c"
}

TEST(BpeTrain, IsDeterministic) {
  const auto a = vl3::train_bpe_tokenizer(english_corpus(), {});
  EXPECT_TRUE(a.tokenizer_json == english_result().tokenizer_json) << "same corpus, different bytes";
  EXPECT_EQ(a.tokenizer_config, english_result().tokenizer_config);
  // Counting is order-independent: a permuted corpus gives the same file.
  auto texts = english_corpus();
  std::reverse(texts.begin(), texts.end());
  EXPECT_TRUE(vl3::train_bpe_tokenizer(texts, {}).tokenizer_json == a.tokenizer_json);
}

TEST(BpeTrain, VocabSizeCapIsRespected) {
  vl3::BpeTrainOptions o;
  o.vocab_size = 300;
  const auto r = vl3::train_bpe_tokenizer(english_corpus(), o);
  EXPECT_LE(r.merges, 44);
  EXPECT_LE(vocab_entries(r.tokenizer_json), 300u);
  EXPECT_EQ(vocab_entries(r.tokenizer_json), 300u) << "the corpus has enough frequent pairs to fill the cap";
  EXPECT_EQ(int64_t(merge_count(r.tokenizer_json)), r.merges);
  EXPECT_EQ(r.total_ids, int64_t(vocab_entries(r.tokenizer_json) + added_tokens_of(r.tokenizer_json).size()));
  // The cap's merges are the first merges of the uncapped run (same greedy order).
  const json small = json::parse(r.tokenizer_json).at("model").at("merges");
  const json big = json::parse(english_result().tokenizer_json).at("model").at("merges");
  ASSERT_GE(big.size(), small.size());
  for (size_t i = 0; i < small.size(); ++i) EXPECT_EQ(small[i], big[i]) << i;
  const Tokenizer tok = Tokenizer::from_json(r.tokenizer_json);
  for (const auto& t : english_corpus()) EXPECT_EQ(tok.decode(tok.encode(t)), t);

  // Exactly 256: bytes only.
  o.vocab_size = 256;
  const auto bytes_only = vl3::train_bpe_tokenizer(english_corpus(), o);
  EXPECT_EQ(bytes_only.merges, 0);
  EXPECT_EQ(vocab_entries(bytes_only.tokenizer_json), 256u);
  const Tokenizer bt = Tokenizer::from_json(bytes_only.tokenizer_json);
  EXPECT_EQ(bt.encode("hello").size(), 5u);
}

TEST(BpeTrain, MinFrequencyIsRespected) {
  // One word of distinct letters: every pair occurs once.
  vl3::BpeTrainOptions o;
  o.min_frequency = 2;
  const auto none = vl3::train_bpe_tokenizer({"qwertyuiop"}, o);
  EXPECT_EQ(none.merges, 0);
  EXPECT_EQ(vocab_entries(none.tokenizer_json), 256u);
  EXPECT_EQ(none.words, 1);
  o.min_frequency = 1;
  const auto all = vl3::train_bpe_tokenizer({"qwertyuiop"}, o);
  EXPECT_EQ(all.merges, 9);
  const Tokenizer tok = Tokenizer::from_json(all.tokenizer_json);
  EXPECT_EQ(tok.encode("qwertyuiop").size(), 1u);
  // A pair seen exactly twice is merged with min_frequency 2, not with 3.
  o.min_frequency = 2;
  EXPECT_EQ(vl3::train_bpe_tokenizer({"xy", "xy"}, o).merges, 1);
  o.min_frequency = 3;
  EXPECT_EQ(vl3::train_bpe_tokenizer({"xy", "xy"}, o).merges, 0);
  // An empty corpus is fine: bytes only.
  EXPECT_EQ(vl3::train_bpe_tokenizer({}, vl3::BpeTrainOptions{}).merges, 0);
}

TEST(BpeTrain, TooSmallVocabularyThrows) {
  vl3::BpeTrainOptions o;
  o.vocab_size = 255;
  EXPECT_THROW(vl3::train_bpe_tokenizer(english_corpus(), o), vl3::Error);
  o.vocab_size = 0;
  EXPECT_THROW(vl3::train_bpe_tokenizer({}, o), vl3::Error);
}

TEST(BpeTrain, CorpusFromConversationsJsonl) {
  vl3test::TempDir tmp;
  const std::string p = tmp.str("a.jsonl");
  std::ofstream(p)
      << R"({"id": "1", "image": "x.png", "conversations": [{"from": "human", "value": "<image>\nWhat is this?"}, {"from": "gpt", "value": "A red cat."}]})" "\n"
      << "\n"
      << R"({"id": "2", "video": ["v.mp4"], "conversations": [{"from": "human", "value": "<video>Describe <video>the clip."}, {"from": "gpt", "value": "A ball rolls."}]})" "\n";
  const auto texts = vl3::corpus_texts_from_annotations(p);
  ASSERT_GE(texts.size(), 4u);
  EXPECT_EQ(texts[0], "\nWhat is this?");
  EXPECT_EQ(texts[1], "A red cat.");
  EXPECT_EQ(texts[2], "Describe the clip.");
  EXPECT_EQ(texts[3], "A ball rolls.");
  for (const auto& t : texts) {
    EXPECT_EQ(t.find("<image>"), std::string::npos) << t;
    EXPECT_EQ(t.find("<video>"), std::string::npos) << t;
  }
  // The chat template's own text comes along.
  EXPECT_NE(std::find(texts.begin(), texts.end(), "assistant\n"), texts.end());
  // A turn that is only a tag leaves no text.
  std::ofstream(tmp.str("b.jsonl"))
      << R"({"conversations": [{"from": "human", "value": "<image>"}, {"from": "gpt", "value": "ok"}]})" "\n";
  const auto b = vl3::corpus_texts_from_annotations(tmp.str("b.jsonl"));
  ASSERT_FALSE(b.empty());
  EXPECT_EQ(b[0], "ok");
  EXPECT_EQ(b.size(), texts.size() - 3);
}

TEST(BpeTrain, CorpusFromMessagesJsonArray) {
  vl3test::TempDir tmp;
  const std::string p = tmp.str("m.json");
  std::ofstream(p) << R"([
    {"messages": [
      {"role": "user", "content": [{"type": "image", "image": "a.png"}, {"type": "text", "text": "<image>Which colour?"}]},
      {"role": "assistant", "content": [{"type": "text", "text": "Blue."}]}]},
    {"messages": [
      {"role": "user", "content": "Plain string content"},
      {"role": "assistant", "content": "Yes."}]}
  ])";
  const auto texts = vl3::corpus_texts_from_annotations(p);
  ASSERT_GE(texts.size(), 4u);
  EXPECT_EQ(texts[0], "Which colour?");
  EXPECT_EQ(texts[1], "Blue.");
  EXPECT_EQ(texts[2], "Plain string content");
  EXPECT_EQ(texts[3], "Yes.");
  for (const auto& t : texts) EXPECT_EQ(t.find("a.png"), std::string::npos) << t;
  // The texts train a tokenizer that round-trips them.
  const auto r = vl3::train_bpe_tokenizer(texts, {});
  const Tokenizer tok = Tokenizer::from_json(r.tokenizer_json);
  for (const auto& t : texts) EXPECT_EQ(tok.decode(tok.encode(t)), t);
}

TEST(BpeTrain, CorpusErrorsNameTheFileAndLine) {
  vl3test::TempDir tmp;
  const std::string p = tmp.str("bad.jsonl");
  std::ofstream(p) << R"({"conversations": [{"from": "human", "value": "hi"}]})" "\n"
                   << "\n"
                   << R"({"conversations": [{"from": "human", "value": )" "\n";
  const std::string e = errors_of([&] { vl3::corpus_texts_from_annotations(p); });
  EXPECT_NE(e.find(p + ":3"), std::string::npos) << e;
  // A broken JSON array names the file; a missing file too.
  std::ofstream(tmp.str("bad.json")) << R"([{"messages": []}, )";
  const std::string e2 = errors_of([&] { vl3::corpus_texts_from_annotations(tmp.str("bad.json")); });
  EXPECT_NE(e2.find(tmp.str("bad.json")), std::string::npos) << e2;
  const std::string e3 = errors_of([&] { vl3::corpus_texts_from_annotations(tmp.str("missing.jsonl")); });
  EXPECT_NE(e3.find(tmp.str("missing.jsonl")), std::string::npos) << e3;
}
