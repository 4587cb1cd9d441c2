// UTF-8 helpers shared by the tokenizer: validation, lossy conversion, streaming boundaries.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace vl3::tok {

// Byte offset of the first byte that does not start a complete, valid UTF-8 character
// (overlong forms, surrogates and code points above U+10FFFF are invalid), or npos.
size_t utf8_first_invalid(std::string_view s);

// Appends `s` to `out`, replacing each maximal ill-formed subpart by U+FFFD (the Unicode
// "substitution of maximal subparts" practice, which Rust's from_utf8_lossy and Python's
// errors="replace" follow, so the result matches Hugging Face's decode).
void utf8_append_lossy(std::string_view s, std::string& out);

// Length (0-3) of the trailing bytes of `s` that form an incomplete but so far valid character:
// what a streaming decoder has to hold back until more bytes arrive.
size_t utf8_incomplete_tail(std::string_view s);

// Decodes the character at s[i] (s must be valid UTF-8) and advances i past it.
uint32_t utf8_next(std::string_view s, size_t& i);

void utf8_append(uint32_t cp, std::string& out);

}  // namespace vl3::tok
