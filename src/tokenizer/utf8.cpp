#include "tokenizer/utf8.h"

namespace vl3::tok {
namespace {

// Result of looking at the bytes from one position: either a complete character of `len` bytes,
// or the maximal prefix (len >= 1) of a character that is cut short, by an invalid byte or by
// the end of the input (`at_end`).
struct Scan {
  size_t len;
  bool complete;
  bool at_end;
};

Scan scan(const unsigned char* p, size_t n) {
  const unsigned char b0 = p[0];
  if (b0 < 0x80) return {1, true, false};
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3;
    if (b0 == 0xE0) lo = 0xA0;  // no overlong 3-byte forms
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4;
    if (b0 == 0xF0) lo = 0x90;  // no overlong 4-byte forms
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return {1, false, false};  // continuation byte or a byte that never appears in UTF-8
  }
  for (size_t k = 1; k < need; ++k) {
    if (k >= n) return {k, false, true};
    const unsigned char b = p[k];
    const bool ok = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
    if (!ok) return {k, false, false};
  }
  return {need, true, false};
}

}  // namespace

size_t utf8_first_invalid(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0;
  while (i < s.size()) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    const Scan r = scan(p + i, s.size() - i);
    if (!r.complete) return i;
    i += r.len;
  }
  return std::string_view::npos;
}

void utf8_append_lossy(std::string_view s, std::string& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0, run = 0;  // [run, i) is a valid stretch not yet copied
  while (i < s.size()) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    const Scan r = scan(p + i, s.size() - i);
    if (r.complete) {
      i += r.len;
      continue;
    }
    out.append(s.data() + run, i - run);
    out += "\xEF\xBF\xBD";
    i += r.len;
    run = i;
  }
  out.append(s.data() + run, s.size() - run);
}

size_t utf8_incomplete_tail(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  // A lead byte is never a continuation byte, so the held-back tail, if any, starts at the one
  // position among the last three whose bytes are a valid prefix reaching the end.
  for (size_t k = n < 3 ? n : 3; k > 0; --k) {
    const Scan r = scan(p + n - k, k);
    if (!r.complete && r.at_end) return k;
  }
  return 0;
}

uint32_t utf8_next(std::string_view s, size_t& i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const unsigned char b0 = p[i];
  if (b0 < 0x80) return p[i++];
  if (b0 < 0xE0) {
    const uint32_t cp = (uint32_t(b0 & 0x1F) << 6) | (p[i + 1] & 0x3F);
    i += 2;
    return cp;
  }
  if (b0 < 0xF0) {
    const uint32_t cp = (uint32_t(b0 & 0x0F) << 12) | (uint32_t(p[i + 1] & 0x3F) << 6) | (p[i + 2] & 0x3F);
    i += 3;
    return cp;
  }
  const uint32_t cp = (uint32_t(b0 & 0x07) << 18) | (uint32_t(p[i + 1] & 0x3F) << 12) |
                      (uint32_t(p[i + 2] & 0x3F) << 6) | (p[i + 3] & 0x3F);
  i += 4;
  return cp;
}

void utf8_append(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

}  // namespace vl3::tok
