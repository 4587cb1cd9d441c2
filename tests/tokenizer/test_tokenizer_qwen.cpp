// The real Qwen2.5 + VideoLLaMA3 tokenizer (embedded in the library): known ids, streaming,
// speed, thread safety. Needs nothing outside the repository.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "tokenizer_test_util.h"
#include "vl3/error.h"

namespace {

using vl3::TokenId;
using vl3::Tokenizer;
using vl3test::concat_ids;
using vl3test::qwen_tokenizer;
using Ids = std::vector<TokenId>;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

TEST(TokenizerQwen, KnownIds) {
  const auto& tok = qwen_tokenizer();
  EXPECT_EQ(tok.vocab_size(), 151668u);
  EXPECT_EQ(tok.encode("Hello world"), (Ids{9707, 1879}));
  EXPECT_EQ(tok.encode("a<image>b"), (Ids{64, 151665, 65}));
  // As plain text it is what a stock Qwen2.5 tokenizer gives.
  EXPECT_EQ(tok.encode("a<image>b", /*parse_special=*/false), (Ids{64, 27, 1805, 51407}));
  EXPECT_EQ(tok.encode("<|im_start|>user\n"), (Ids{151644, 872, 198}));
  EXPECT_EQ(tok.token_to_id("<image>"), 151665);
  EXPECT_EQ(tok.token_to_id("<|stream_start|>"), 151666);
  EXPECT_EQ(tok.token_to_id("<|stream_end|>"), 151667);
  EXPECT_EQ(tok.token_to_id("Ġworld"), 1879);
  EXPECT_EQ(tok.id_to_token(9707), "Hello");
  EXPECT_EQ(tok.token_bytes(1879), " world");
  EXPECT_TRUE(tok.is_special(151665));
  EXPECT_TRUE(tok.is_special(151645));
  EXPECT_FALSE(tok.is_special(151657));  // <tool_call> is added but not special
  EXPECT_FALSE(tok.is_special(9707));
  EXPECT_EQ(tok.decode({151644, 9707, 151645}), "<|im_start|>Hello<|im_end|>");
  EXPECT_EQ(tok.decode({151644, 9707, 151657, 151645}, /*skip_special=*/true), "Hello<tool_call>");
  EXPECT_THROW(tok.decode({151668}), vl3::Error);
}

TEST(TokenizerQwen, DigitsAreSplitOneByOne) {
  const auto& tok = qwen_tokenizer();
  EXPECT_EQ(tok.encode("2025"), concat_ids({tok.encode("2"), tok.encode("0"), tok.encode("2"), tok.encode("5")}));
  EXPECT_EQ(tok.encode("2025").size(), 4u);
}

TEST(TokenizerQwen, StreamDecoderJoinsCharactersSpreadOverTokens) {
  const auto& tok = qwen_tokenizer();
  // An emoji the vocabulary has no token for: its 4 bytes are spread over several tokens.
  const std::string llama = "\xF0\x9F\xA6\x99";
  const std::string text = "A " + llama + " and a " + llama + "!";
  const Ids ids = tok.encode(text);
  size_t partial_tokens = 0;
  for (TokenId id : ids) partial_tokens += tok.decode({id}).find("\xEF\xBF\xBD") != std::string::npos;
  ASSERT_GE(partial_tokens, 2u) << "the emoji should need more than one token";

  vl3::StreamDecoder stream(tok);
  std::string streamed;
  for (TokenId id : ids) {
    const std::string piece = stream.push(id);
    EXPECT_EQ(piece.find("\xEF\xBF\xBD"), std::string::npos) << "half a character came out";
    streamed += piece;
  }
  EXPECT_EQ(stream.flush(), "");
  EXPECT_EQ(streamed, text);
  EXPECT_EQ(tok.decode(ids), text);

  // Cut in the middle of the emoji: nothing of it comes out until flush, which gives U+FFFD.
  const Ids first = tok.encode("A " + llama);
  vl3::StreamDecoder cut(tok);
  std::string out;
  for (size_t i = 0; i + 1 < first.size(); ++i) out += cut.push(first[i]);
  EXPECT_EQ(out, "A ");
  EXPECT_EQ(cut.flush(), "\xEF\xBF\xBD");
}

TEST(TokenizerQwen, StreamDecoderSkipsSpecialTokens) {
  const auto& tok = qwen_tokenizer();
  const Ids ids = tok.encode("<|im_start|>assistant\nHi!<|im_end|>");
  std::string skipped, kept;
  vl3::StreamDecoder a(tok), b(tok, /*skip_special=*/false);
  for (TokenId id : ids) {
    skipped += a.push(id);
    kept += b.push(id);
  }
  EXPECT_EQ(skipped + a.flush(), "assistant\nHi!");
  EXPECT_EQ(kept + b.flush(), "<|im_start|>assistant\nHi!<|im_end|>");
}

TEST(TokenizerQwen, MergesInTheOlderSpellingGiveTheSameIds) {
  auto j = nlohmann::json::parse(vl3::embedded_tokenizer_json());
  for (auto& m : j["model"]["merges"]) m = m[0].get<std::string>() + " " + m[1].get<std::string>();
  const Tokenizer legacy = Tokenizer::from_json(j.dump(), "legacy merges");
  const auto& tok = qwen_tokenizer();
  for (const char* s : {"Hello world", "In this paper, we propose VideoLLaMA 3.", "日本語のテキスト",
                        "def f(x):\n    return x ** 2\n", "naïve café \xF0\x9F\x98\x80"})
    EXPECT_EQ(legacy.encode(s), tok.encode(s)) << s;
}

TEST(TokenizerQwen, ManyImageTokensAreFast) {
  const auto& tok = qwen_tokenizer();
  std::string prompt = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n";
  for (int i = 0; i < 16384; ++i) prompt += "<image>";
  prompt += "\nWhat is happening in this video?<|im_end|>\n<|im_start|>assistant\n";
  const auto t0 = std::chrono::steady_clock::now();
  const Ids ids = tok.encode(prompt);
  const double s = seconds_since(t0);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 151665), 16384);
  EXPECT_EQ(tok.decode(ids), prompt);
  EXPECT_LT(s, 0.25) << "16,384 <image> tokens took " << s << " s";
  RecordProperty("image_prompt_ms", std::to_string(s * 1000));
}

TEST(TokenizerQwen, OneMegabyteWordsAreNotQuadratic) {
  const auto& tok = qwen_tokenizer();
  // One regex piece each (or, for digits, a million one-character pieces) of 1 MiB. A merge
  // loop that rescans the word after every merge would take minutes on these.
  for (const std::string unit : {"a", "ab", " ", "\xE4\xB8\xAD", "!", "7"}) {
    std::string word;
    while (word.size() < (1u << 20)) word += unit;
    const auto t0 = std::chrono::steady_clock::now();
    const Ids ids = tok.encode(word);
    const double s = seconds_since(t0);
    EXPECT_EQ(tok.decode(ids), word);
    EXPECT_LT(s, 5.0) << "1 MiB of '" << unit << "' took " << s << " s";
  }
}

TEST(TokenizerQwen, ConcurrentEncodesAgree) {
  // A fresh tokenizer, so that the threads race on an empty word cache.
  const Tokenizer fresh = Tokenizer::from_json(vl3::embedded_tokenizer_json(), "fresh");
  const auto& tok = qwen_tokenizer();
  std::vector<std::string> texts;
  for (int i = 0; i < 300; ++i)
    texts.push_back("sample " + std::to_string(i * 7919) + " text, word" + std::to_string(i) + " w" + std::to_string(i % 17));
  std::vector<Ids> expected;
  for (const auto& t : texts) expected.push_back(tok.encode(t));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (int rep = 0; rep < 5; ++rep)
        for (size_t i = 0; i < texts.size(); ++i) {
          const size_t j = (i * (k + 1) + rep) % texts.size();  // each thread its own order
          mismatches[k] += fresh.encode(texts[j]) != expected[j];
        }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

}  // namespace
