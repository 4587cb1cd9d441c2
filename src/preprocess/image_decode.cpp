// decode_image / load_image: format detection from the bytes, size limits, and the three kinds of
// source (file, stdin, data: URI). The per-format decoders live in image_{png,jpeg,webp,gif,bmp}.cpp.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "preprocess/image_codecs.h"
#include "vl3/media.h"

namespace vl3 {
namespace img {

void check_dimensions(int64_t width, int64_t height, const ImageLimits& lim, const std::string& origin,
                      const char* format) {
  const std::string dims = std::to_string(width) + "x" + std::to_string(height);
  if (width <= 0 || height <= 0) fail(origin, std::string(format) + " image has an empty size (" + dims + ")");
  const std::string limit = ", over the limit of " + std::to_string(lim.max_pixels) + " pixels";
  if (width > INT32_MAX || height > INT32_MAX) fail(origin, std::string(format) + " image is " + dims + limit);
  const int64_t pixels = width * height;  // both factors are below 2^31
  if (pixels > lim.max_pixels)
    fail(origin, std::string(format) + " image is " + dims + " = " + std::to_string(pixels) + " pixels" + limit);
}

Image make_image(int64_t width, int64_t height, const ImageLimits& lim, const std::string& origin,
                 const char* format) {
  check_dimensions(width, height, lim, origin, format);
  Image im;
  im.width = int(width);
  im.height = int(height);
  im.rgb.assign(size_t(width) * size_t(height) * 3, 0);
  return im;
}

Palette::Palette() {
  for (int i = 0; i < 256; ++i) rgb[i * 3] = rgb[i * 3 + 1] = rgb[i * 3 + 2] = uint8_t(i);
}

}  // namespace img

namespace {

bool starts_with(const uint8_t* d, size_t n, const char* magic, size_t m) {
  return n >= m && std::memcmp(d, magic, m) == 0;
}

std::string hex_prefix(const uint8_t* d, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n && i < 8; ++i) {
    if (i) s += ' ';
    s += digits[d[i] >> 4];
    s += digits[d[i] & 15];
  }
  return s;
}

// Reads a whole stream, refusing to go past `max_bytes`.
std::vector<uint8_t> read_stream(std::FILE* f, const std::string& origin, int64_t max_bytes) {
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  for (;;) {
    const size_t got = std::fread(buf, 1, sizeof buf, f);
    if (got == 0) break;
    if (int64_t(out.size() + got) > max_bytes)
      img::fail(origin, "image data is over the limit of " + std::to_string(max_bytes) + " bytes");
    out.insert(out.end(), buf, buf + got);
  }
  if (std::ferror(f)) img::fail(origin, std::string("read error: ") + std::strerror(errno));
  return out;
}

std::vector<uint8_t> read_path(const std::string& path, int64_t max_bytes) {
  struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) img::fail(path, std::string("cannot open image: ") + std::strerror(errno));
  struct stat st {};
  if (fstat(fileno(f.get()), &st) == 0) {
    if (S_ISDIR(st.st_mode)) img::fail(path, "is a directory, not an image file");
    if (S_ISREG(st.st_mode) && st.st_size > max_bytes)
      img::fail(path, "file is " + std::to_string(int64_t(st.st_size)) + " bytes, over the limit of " +
                          std::to_string(max_bytes));
  }
  return read_stream(f.get(), path, max_bytes);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;  // '-' and '_': the URL-safe alphabet, seen in the wild
  if (c == '/' || c == '_') return 63;
  return -1;
}

bool iequals_prefix(const std::string& s, size_t pos, const char* lit) {
  for (size_t i = 0; lit[i]; ++i) {
    if (pos + i >= s.size()) return false;
    char c = s[pos + i];
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    if (c != lit[i]) return false;
  }
  return true;
}

// RFC 2397: data:[<mediatype>][;base64],<data>. The payload is percent-decoded first (a URI may
// escape any byte, base64's '+' and '/' included), then base64-decoded when ";base64" is given;
// ASCII whitespace inside base64 is skipped and the '=' padding is optional.
std::vector<uint8_t> decode_data_uri(const std::string& uri, const std::string& origin, int64_t max_bytes) {
  const size_t comma = uri.find(',');
  if (comma == std::string::npos) img::fail(origin, "data: URI has no ',' before its data");
  const std::string meta = uri.substr(5, comma - 5);
  const bool b64 = meta.size() >= 7 && iequals_prefix(meta, meta.size() - 7, ";base64");

  std::string payload;
  payload.reserve(uri.size() - comma);
  for (size_t i = comma + 1; i < uri.size(); ++i) {
    if (uri[i] != '%') {
      payload += uri[i];
      continue;
    }
    const int hi = i + 1 < uri.size() ? hex_value(uri[i + 1]) : -1;
    const int lo = i + 2 < uri.size() ? hex_value(uri[i + 2]) : -1;
    if (hi < 0 || lo < 0) img::fail(origin, "data: URI has a bad percent-escape at offset " + std::to_string(i));
    payload += char(hi * 16 + lo);
    i += 2;
  }
  if (!b64) {
    if (int64_t(payload.size()) > max_bytes) img::fail(origin, "image data is over the byte limit");
    return std::vector<uint8_t>(payload.begin(), payload.end());
  }

  std::vector<uint8_t> out;
  out.reserve(payload.size() / 4 * 3 + 3);
  uint32_t acc = 0;
  int bits = 0;
  size_t symbols = 0, pad = 0;
  for (size_t i = 0; i < payload.size(); ++i) {
    const char c = payload[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    if (c == '=') {
      ++pad;
      continue;
    }
    const int v = base64_value(c);
    if (v < 0 || pad)
      img::fail(origin, "data: URI has invalid base64 (byte " + std::to_string(int(uint8_t(c))) +
                            " at offset " + std::to_string(i) + ")");
    ++symbols;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(uint8_t(acc >> bits));
      acc &= (1u << bits) - 1;
    }
  }
  // One symbol alone cannot carry a byte; padding, when present, must complete the last group.
  if (symbols % 4 == 1 || pad > 2 || (pad && (symbols + pad) % 4 != 0))
    img::fail(origin, "data: URI has truncated or mis-padded base64");
  if (int64_t(out.size()) > max_bytes) img::fail(origin, "image data is over the byte limit");
  return out;
}

}  // namespace

Image decode_image(const uint8_t* data, size_t size, const std::string& origin, const ImageLimits& lim) {
  if (size == 0) img::fail(origin, "image data is empty");
  if (int64_t(size) > lim.max_bytes)
    img::fail(origin, "image data is " + std::to_string(size) + " bytes, over the limit of " +
                          std::to_string(lim.max_bytes));
  // The prefixes Pillow's plugins accept (their _accept functions).
  if (starts_with(data, size, "\x89PNG\r\n\x1a\n", 8)) return img::decode_png(data, size, origin, lim);
  if (starts_with(data, size, "\xff\xd8\xff", 3)) return img::decode_jpeg(data, size, origin, lim);
  if (starts_with(data, size, "GIF87a", 6) || starts_with(data, size, "GIF89a", 6))
    return img::decode_gif(data, size, origin, lim);
  if (starts_with(data, size, "BM", 2)) return img::decode_bmp(data, size, origin, lim);
  if (starts_with(data, size, "RIFF", 4) && size >= 16 && std::memcmp(data + 8, "WEBP", 4) == 0)
    return img::decode_webp(data, size, origin, lim);
  img::fail(origin, "not a supported image (PNG, JPEG, WebP, BMP or GIF); first bytes: " +
                        hex_prefix(data, size));
}

Image load_image(const std::string& source, const ImageLimits& lim) {
  std::vector<uint8_t> bytes;
  std::string origin;
  if (source == "-") {
    origin = "<stdin>";
    bytes = read_stream(stdin, origin, lim.max_bytes);
  } else if (iequals_prefix(source, 0, "data:")) {
    // The URI itself may be megabytes long: name it by its head only.
    origin = "data: URI '" + source.substr(0, std::min<size_t>(source.find(','), 48)) + ",...'";
    bytes = decode_data_uri(source, origin, lim.max_bytes);
  } else {
    origin = source;
    bytes = read_path(source, lim.max_bytes);
  }
  return decode_image(bytes.data(), bytes.size(), origin, lim);
}

}  // namespace vl3
