#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/utf8.h"

namespace vl3::tok {
namespace {

constexpr uint32_t kLastChar = 0x143;  // the alphabet lies within U+0021..U+0143

struct Tables {
  std::array<uint32_t, 256> to_char{};
  std::array<int16_t, kLastChar + 1> to_byte{};
  Tables() {
    to_byte.fill(-1);
    uint32_t next = 0x100;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      to_char[b] = printable ? uint32_t(b) : next++;
      to_byte[to_char[b]] = int16_t(b);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

uint32_t byte_to_char(uint8_t b) { return tables().to_char[b]; }

int char_to_byte(uint32_t cp) { return cp <= kLastChar ? tables().to_byte[cp] : -1; }

std::string byte_level_encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) utf8_append(tables().to_char[b], out);
  return out;
}

std::string byte_level_decode(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (size_t i = 0; i < token.size();) {
    const int b = char_to_byte(utf8_next(token, i));
    if (b < 0) return std::string(token);
    out += char(b);
  }
  return out;
}

}  // namespace vl3::tok
