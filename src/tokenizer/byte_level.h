// GPT-2's byte-level alphabet: every byte is written as one printable character, so that BPE
// vocabularies (Qwen2's included) can be stored as text. Printable Latin-1 bytes stand for
// themselves; the other 68 bytes (controls, space, 0x7F-0xA0, 0xAD) map to U+0100-U+0143.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace vl3::tok {

uint32_t byte_to_char(uint8_t b);

// The byte a character stands for, or -1 when the character is not in the alphabet.
int char_to_byte(uint32_t cp);

// The byte-level spelling of raw bytes (what the vocabulary's keys look like).
std::string byte_level_encode(std::string_view bytes);

// Raw bytes of a vocabulary token. A token containing a character outside the alphabet is
// returned as its own UTF-8, as Hugging Face's ByteLevel decoder does.
std::string byte_level_decode(std::string_view token);

}  // namespace vl3::tok
