// libFuzzer target: the input is a tokenizer.json. Loading must either succeed or throw
// vl3::Error; a loaded tokenizer must then encode, decode and stream-decode without crashing.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "vl3/error.h"
#include "vl3/tokenizer.h"

namespace {

void exercise(const vl3::Tokenizer& tok, const std::string& text, bool parse_special) {
  std::vector<vl3::TokenId> ids;
  try {
    ids = tok.encode(text, parse_special);
  } catch (const vl3::Error&) {
    return;  // invalid UTF-8 text, or a hostile pattern hitting PCRE2's match limit
  }
  // Ids that encode() produced are known: decoding them must not throw.
  (void)tok.decode(ids);
  (void)tok.decode(ids, /*skip_special=*/true);
  vl3::StreamDecoder stream(tok, /*skip_special=*/false);
  for (vl3::TokenId id : ids) (void)stream.push(id);
  (void)stream.flush();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  vl3::Tokenizer tok;
  try {
    tok = vl3::Tokenizer::from_json(input, "fuzz input");
  } catch (const vl3::Error&) {
    return 0;
  }
  static const char* const kTexts[] = {
      "Hello world",
      "<|im_start|>user\n<image><image>What is this?<|im_end|>\n",
      "  x\t\r\n 12345  \n\n",
      "caf\xC3\xA9 cafe\xCC\x81 \xF0\x9F\xA6\x99 \xE4\xB8\xAD\xE6\x96\x87",
      "'s 'S 'LL '\xC5\xBF \xC2\x85 \xE1\xA0\x8E \xEF\xBB\xBF",
      "",
  };
  for (const char* text : kTexts) {
    exercise(tok, text, true);
    exercise(tok, text, false);
  }
  exercise(tok, input, true);  // the file itself as text (usually valid UTF-8)

  // Lookups over a range of ids, known or not.
  const size_t n = tok.vocab_size();
  for (vl3::TokenId id = -1; id < 64 && size_t(id + 1) <= n + 1; ++id) {
    (void)tok.id_to_token(id);
    (void)tok.is_special(id);
    try {
      (void)tok.token_bytes(id);
      (void)tok.decode({id});
    } catch (const vl3::Error&) {
    }
  }
  (void)tok.token_to_id("<image>");
  try {
    tok.add_special_token("<fuzz>", vl3::TokenId(n));
    exercise(tok, "a<fuzz>b", true);
  } catch (const vl3::Error&) {
  }
  return 0;
}
