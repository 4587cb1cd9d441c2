#include "vl3/assets.h"

#include <lzma.h>

#include "vl3/error.h"

extern "C" {
extern const unsigned char vl3_asset_tokenizer_xz_begin[];
extern const unsigned char vl3_asset_tokenizer_xz_end[];
extern const unsigned char vl3_asset_tokenizer_config_begin[];
extern const unsigned char vl3_asset_tokenizer_config_end[];
extern const unsigned char vl3_asset_chat_template_begin[];
extern const unsigned char vl3_asset_chat_template_end[];
}

namespace vl3 {

std::string xz_decompress(const void* data, size_t size, const std::string& origin) {
  lzma_stream strm = LZMA_STREAM_INIT;
  if (lzma_stream_decoder(&strm, UINT64_MAX, LZMA_CONCATENATED) != LZMA_OK)
    throw Error(origin + ": cannot initialise the xz decoder");
  std::string out;
  char buf[1 << 16];
  strm.next_in = static_cast<const uint8_t*>(data);
  strm.avail_in = size;
  lzma_ret ret = LZMA_OK;
  while (ret == LZMA_OK) {
    strm.next_out = reinterpret_cast<uint8_t*>(buf);
    strm.avail_out = sizeof(buf);
    ret = lzma_code(&strm, LZMA_FINISH);
    out.append(buf, sizeof(buf) - strm.avail_out);
  }
  lzma_end(&strm);
  if (ret != LZMA_STREAM_END) throw Error(origin + ": corrupt or truncated xz data (lzma error " +
                                          std::to_string(int(ret)) + ")");
  return out;
}

std::string embedded_tokenizer_json() {
  return xz_decompress(vl3_asset_tokenizer_xz_begin,
                       size_t(vl3_asset_tokenizer_xz_end - vl3_asset_tokenizer_xz_begin),
                       "embedded tokenizer.json.xz");
}

std::string embedded_tokenizer_config() {
  return std::string(reinterpret_cast<const char*>(vl3_asset_tokenizer_config_begin),
                     size_t(vl3_asset_tokenizer_config_end - vl3_asset_tokenizer_config_begin));
}

std::string embedded_chat_template() {
  return std::string(reinterpret_cast<const char*>(vl3_asset_chat_template_begin),
                     size_t(vl3_asset_chat_template_end - vl3_asset_chat_template_begin));
}

}  // namespace vl3
