// Files linked into the library so that vl3 needs nothing outside its binary (see assets/tokenizer/).
#pragma once
#include <string>

namespace vl3 {

std::string embedded_tokenizer_json();    // the Qwen2.5 + VideoLLaMA3 tokenizer.json (decompressed)
std::string embedded_tokenizer_config();  // VideoLLaMA3 tokenizer_config.json
std::string embedded_chat_template();     // the hub chat_template.json

// Decompresses an .xz byte buffer (throws vl3::Error naming `origin` on corrupt input).
std::string xz_decompress(const void* data, size_t size, const std::string& origin);

}  // namespace vl3
