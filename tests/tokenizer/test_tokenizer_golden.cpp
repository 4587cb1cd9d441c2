// The golden cases (../shared/golden/tokenizer/cases.jsonl): ids from an independent
// implementation of the same tokenizer.json. Skipped when the golden data is absent.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "test_util.h"
#include "tokenizer_test_util.h"

namespace {

using vl3::TokenId;
using vl3test::qwen_tokenizer;

struct Case {
  std::string text;
  std::vector<TokenId> ids;
};

std::vector<Case> load_cases() {
  std::istringstream in(vl3test::read_file(vl3test::golden_dir() + "/tokenizer/cases.jsonl"));
  std::vector<Case> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    cases.push_back({j.at("text").get<std::string>(), j.at("ids").get<std::vector<TokenId>>()});
  }
  return cases;
}

std::string show(const std::string& s) { return nlohmann::json(s).dump(); }

// What decoding the ids gives back: the text with every stretch between added tokens NFC-
// normalised (added tokens are split out before normalisation, so "<|im_end|>" followed by
// U+0338 does not become "<|im_end|" + U+226F). Written independently of the tokenizer: a
// plain leftmost-longest search for the added tokens listed in the file.
std::string expected_round_trip(const std::string& text) {
  static const std::vector<std::string> added = [] {
    std::vector<std::string> v;
    const auto file = nlohmann::json::parse(vl3::embedded_tokenizer_json());
    for (const auto& t : file.at("added_tokens"))
      v.push_back(t.at("content").get<std::string>());
    return v;
  }();
  std::string out, gap;
  for (size_t i = 0; i < text.size();) {
    size_t best = 0;
    for (const auto& a : added)
      if (a.size() > best && text.compare(i, a.size(), a) == 0) best = a.size();
    if (best == 0) {
      gap += text[i++];
      continue;
    }
    out += vl3test::nfc(gap) + text.substr(i, best);
    gap.clear();
    i += best;
  }
  return out + vl3test::nfc(gap);
}

TEST(TokenizerGolden, EncodeMatchesEveryCase) {
  VL3_REQUIRE_GOLDEN();
  const auto cases = load_cases();
  ASSERT_FALSE(cases.empty());
  const auto& tok = qwen_tokenizer();
  size_t passed = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto got = tok.encode(cases[i].text);
    if (got == cases[i].ids) {
      ++passed;
      continue;
    }
    ::testing::Message ids;
    for (TokenId id : got) ids << id << ' ';
    ADD_FAILURE() << "case " << i << ": " << show(cases[i].text) << " -> " << ids;
  }
  EXPECT_EQ(passed, cases.size());
  RecordProperty("cases_passed", std::to_string(passed) + "/" + std::to_string(cases.size()));
}

TEST(TokenizerGolden, DecodeGivesTheNormalisedText) {
  VL3_REQUIRE_GOLDEN();
  const auto& tok = qwen_tokenizer();
  size_t changed_by_nfc = 0;
  for (const auto& c : load_cases()) {
    const std::string want = expected_round_trip(c.text);
    changed_by_nfc += want != c.text;
    EXPECT_EQ(tok.decode(c.ids), want) << show(c.text);
    EXPECT_EQ(tok.decode(tok.encode(c.text)), want) << show(c.text);
    // Streaming the ids gives the same text.
    vl3::StreamDecoder stream(tok, /*skip_special=*/false);
    std::string streamed;
    for (TokenId id : c.ids) streamed += stream.push(id);
    streamed += stream.flush();
    EXPECT_EQ(streamed, want) << show(c.text);
  }
  // The file has texts that NFC changes; if none did, the check above would prove nothing.
  EXPECT_GT(changed_by_nfc, 0u);
}

}  // namespace
