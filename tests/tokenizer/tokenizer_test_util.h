// Helpers shared by the tokenizer tests.
#pragma once
#include <utf8proc.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "vl3/assets.h"
#include "vl3/tokenizer.h"

namespace vl3test {

// The Qwen2.5 + VideoLLaMA3 tokenizer linked into the library (loaded once: 11 MB of JSON).
inline const vl3::Tokenizer& qwen_tokenizer() {
  static const vl3::Tokenizer tok = vl3::Tokenizer::from_json(vl3::embedded_tokenizer_json(), "embedded tokenizer.json");
  return tok;
}

// NFC straight from utf8proc (with an explicit length, so NUL bytes do not end the string).
inline std::string nfc(const std::string& s) {
  utf8proc_uint8_t* out = nullptr;
  const auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()), utf8proc_ssize_t(s.size()),
                              &out, utf8proc_option_t(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0) return "<utf8proc error>";
  std::string r(reinterpret_cast<const char*>(out), size_t(n));
  std::free(out);
  return r;
}

inline std::vector<vl3::TokenId> concat_ids(std::initializer_list<std::vector<vl3::TokenId>> parts) {
  std::vector<vl3::TokenId> r;
  for (const auto& p : parts) r.insert(r.end(), p.begin(), p.end());
  return r;
}

}  // namespace vl3test

namespace vl3test {

// GPT-2's byte-level alphabet, written out here independently of the library: printable
// Latin-1 bytes stand for themselves, the others for U+0100, U+0101, ... in byte order.
inline std::string byte_char(unsigned char b) {
  auto printable = [](int x) { return (x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || x >= 0xAE; };
  int cp = b;
  if (!printable(b)) {
    cp = 256;
    for (int x = 0; x < b; ++x) cp += !printable(x);
  }
  std::string s;
  if (cp < 0x80) {
    s += char(cp);
  } else {
    s += char(0xC0 | (cp >> 6));
    s += char(0x80 | (cp & 0x3F));
  }
  return s;
}

// The byte-level spelling of raw text, as vocabulary keys are written.
inline std::string byte_level(const std::string& raw) {
  std::string s;
  for (unsigned char b : raw) s += byte_char(b);
  return s;
}

}  // namespace vl3test
