// BMP with our own parser, following Pillow 9.4's BmpImagePlugin (Pillow has no BMP library either):
//  * Info headers of 12 (OS/2 v1), 40, 64, 108 and 124 bytes; 1, 4, 8, 16, 24 and 32 bits per pixel;
//    uncompressed, BI_BITFIELDS (only the masks Pillow accepts) and RLE8/RLE4.
//  * Height is read as unsigned; a top byte of 0xFF means a negative (top-down) height.
//  * Palette: `colors` entries (0 -> 2^bits), BGR(X); indices past it get Pillow's grey ramp. Like
//    Pillow, when the pixel offset points right after the header, it is moved past 4 * colors bytes.
//  * 16-bit: 5-5-5 (or 5-6-5 with those bitfields), each channel scaled by v * 255 / max.
//  * 32-bit: alpha (if any) dropped; all-zero bitfield masks mean BGRA.
//  * Rows are padded to 4 bytes; the last row's padding may be missing (Pillow's raw decoder does not
//    need it).
//  * RLE follows Pillow 9.4's decoder, quirks included, because the reference pixels come from it: a
//    delta escape skips two bytes before reading (right, up); an odd RLE4 literal run yields one pixel
//    less than it counts; runs are clipped at the row end; decoding must produce every pixel.
// Where Pillow 9.4 misreads a file (a 2-colour black/white palette on a 4- or 8-bit image, or a
// 16-entry dark ramp on a 4-bit one, which it decodes as if they were 1- or 8-bit data), we decode
// the data as the header describes it. See docs/images.md.
#include <algorithm>
#include <cstring>
#include <vector>

#include "preprocess/image_codecs.h"

namespace vl3::img {
namespace {

uint32_t le32(const uint8_t* p) { return p[0] | p[1] << 8 | p[2] << 16 | uint32_t(p[3]) << 24; }
uint16_t le16(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }

struct Header {
  uint32_t header_size = 0;
  int64_t width = 0, height = 0;
  bool top_down = false;
  int bits = 0;
  uint32_t compression = 0;
  uint32_t colors = 0;
  uint32_t masks[4] = {0, 0, 0, 0};  // r, g, b, a
};

enum Compression : uint32_t { kRaw = 0, kRle8 = 1, kRle4 = 2, kBitfields = 3 };

// Channel c of a 16/24/32-bit pixel `v` (little-endian) under the masks Pillow accepts: every 32-bit
// mask is one whole byte and the 16-bit ones are the 5-5-5 and 5-6-5 layouts.
inline uint8_t channel(uint32_t v, uint32_t mask) {
  if (mask == 0) return 0;
  int shift = 0;
  while (!((mask >> shift) & 1)) ++shift;
  const uint32_t max = mask >> shift;
  const uint32_t x = (v & mask) >> shift;
  return uint8_t(max == 255 ? x : x * 255 / max);
}

// Pillow 9.4's BmpRleDecoder, in our words; returns the index rows in file order (xsize each).
std::vector<uint8_t> decode_rle(const uint8_t* data, size_t size, size_t pos, int64_t w, int64_t h,
                                bool rle4, const std::string& origin) {
  const size_t need = size_t(w) * size_t(h);
  std::vector<uint8_t> out;
  out.reserve(need);
  int64_t x = 0;
  auto avail = [&]() { return size - std::min(pos, size); };
  while (out.size() < need) {
    if (avail() < 2) break;
    const uint8_t count = data[pos], value = data[pos + 1];
    pos += 2;
    if (count) {
      const int64_t n = x + count > w ? std::max<int64_t>(0, w - x) : count;
      for (int64_t i = 0; i < n; ++i)
        out.push_back(rle4 ? uint8_t(i % 2 == 0 ? value >> 4 : value & 15) : value);
      x += n;
    } else if (value == 0) {  // end of line
      while (out.size() % size_t(w) != 0) out.push_back(0);
      x = 0;
    } else if (value == 1) {  // end of bitmap
      break;
    } else if (value == 2) {  // delta: Pillow 9.4 skips two bytes before reading (right, up)
      if (avail() < 2) break;
      pos += 2;
      if (avail() < 2) fail(origin, "BMP: RLE delta escape is truncated");
      const int64_t right = data[pos], up = data[pos + 1];
      pos += 2;
      out.insert(out.end(), size_t(right + up * w), 0);
      x = int64_t(out.size() % size_t(w));
    } else {  // literal run
      const size_t bytes = rle4 ? value / 2 : value;
      const size_t got = std::min(bytes, avail());
      for (size_t i = 0; i < got; ++i) {
        const uint8_t b = data[pos + i];
        if (rle4) {
          out.push_back(b >> 4);
          out.push_back(b & 15);
        } else {
          out.push_back(b);
        }
      }
      pos += got;
      if (got < bytes) break;
      x += value;
      if (pos % 2) ++pos;  // runs are word-aligned in the file
    }
  }
  if (out.size() < need) fail(origin, "BMP: RLE data ends before the image is complete");
  return out;
}

}  // namespace

Image decode_bmp(const uint8_t* data, size_t size, const std::string& origin, const ImageLimits& lim) {
  auto need = [&](size_t end, const char* what) {
    if (size < end) fail(origin, std::string("BMP: file is truncated (") + what + ")");
  };
  need(18, "file header");
  uint32_t offset = le32(data + 10);
  Header hd;
  hd.header_size = le32(data + 14);
  const uint32_t hs = hd.header_size;
  if (hs != 12 && hs != 40 && hs != 64 && hs != 108 && hs != 124)
    fail(origin, "BMP: unsupported header type (size " + std::to_string(hs) + ")");
  need(14 + size_t(hs), "info header");
  const uint8_t* h = data + 18;  // the info header after its size field
  size_t pos = 14 + hs;
  int palette_entry = 4;
  if (hs == 12) {
    hd.width = le16(h);
    hd.height = le16(h + 2);
    hd.bits = le16(h + 6);
    palette_entry = 3;
  } else {
    hd.width = le32(h);
    const uint32_t raw_h = le32(h + 4);
    hd.top_down = (raw_h >> 24) == 0xFF;
    hd.height = hd.top_down ? int64_t(0x100000000LL - raw_h) : int64_t(raw_h);
    hd.bits = le16(h + 10);
    hd.compression = le32(h + 12);
    hd.colors = le32(h + 28);
    if (hd.compression == kBitfields) {
      if (hs >= 56) {
        for (int i = 0; i < 4; ++i) hd.masks[i] = le32(h + 36 + 4 * i);
      } else {
        need(pos + 12, "bitfield masks");
        for (int i = 0; i < 3; ++i) hd.masks[i] = le32(data + pos + 4 * i);
        pos += 12;
      }
    }
  }
  const int bits = hd.bits;
  if (bits != 1 && bits != 4 && bits != 8 && bits != 16 && bits != 24 && bits != 32)
    fail(origin, "BMP: unsupported pixel depth (" + std::to_string(bits) + " bits)");
  const uint64_t colors = hd.colors ? hd.colors : uint64_t(1) << bits;
  if (offset == 14 + hs && bits <= 8) offset += uint32_t(4 * colors);

  // Bitfields: only the layouts Pillow knows; anything else is an error there too.
  uint32_t* m = hd.masks;
  if (hd.compression == kBitfields) {
    const bool ok32 = bits == 32 && ((m[0] == 0xFF0000 && m[1] == 0xFF00 && m[2] == 0xFF && (m[3] == 0 || m[3] == 0xFF000000)) ||
                                     (m[0] == 0xFF000000 && m[1] == 0xFF0000 && m[2] == 0xFF00 && (m[3] == 0 || m[3] == 0xFF)) ||
                                     (m[0] == 0xFF && m[1] == 0xFF00 && m[2] == 0xFF0000 && m[3] == 0xFF000000) ||
                                     (m[0] == 0 && m[1] == 0 && m[2] == 0 && m[3] == 0));
    const bool ok24 = bits == 24 && m[0] == 0xFF0000 && m[1] == 0xFF00 && m[2] == 0xFF;
    const bool ok16 = bits == 16 && ((m[0] == 0xF800 && m[1] == 0x7E0 && m[2] == 0x1F) ||
                                     (m[0] == 0x7C00 && m[1] == 0x3E0 && m[2] == 0x1F));
    if (!ok32 && !ok24 && !ok16) fail(origin, "BMP: unsupported bitfields layout");
    if (bits == 32 && m[0] == 0 && m[1] == 0 && m[2] == 0) {  // Pillow reads this as BGRA
      m[0] = 0xFF0000;
      m[1] = 0xFF00;
      m[2] = 0xFF;
    }
  } else if (hd.compression == kRaw) {
    m[0] = bits == 16 ? 0x7C00 : 0xFF0000;  // 16-bit is 5-5-5; 24 and 32 are BGR(X)
    m[1] = bits == 16 ? 0x3E0 : 0xFF00;
    m[2] = bits == 16 ? 0x1F : 0xFF;
  } else if (hd.compression == kRle8 || hd.compression == kRle4) {
    if (bits > 8) fail(origin, "BMP: RLE compression on a " + std::to_string(bits) + "-bit image");
  } else {
    fail(origin, "BMP: unsupported compression (" + std::to_string(hd.compression) + ")");
  }

  Palette pal;
  if (bits <= 8) {
    if (colors > 256) fail(origin, "BMP: unsupported palette size (" + std::to_string(colors) + ")");
    const size_t avail = size > pos ? size - pos : 0;
    const size_t entries = std::min<size_t>(colors, avail / palette_entry);
    for (size_t i = 0; i < entries; ++i) {
      const uint8_t* e = data + pos + i * palette_entry;
      pal.rgb[i * 3] = e[2];
      pal.rgb[i * 3 + 1] = e[1];
      pal.rgb[i * 3 + 2] = e[0];
    }
    pos += std::min<size_t>(colors * palette_entry, avail);
  }
  if (offset) pos = offset;

  // For uncompressed data the file size bounds the image: check it before allocating, so that a
  // 100-byte file cannot claim (and make us zero-fill) hundreds of megabytes.
  check_dimensions(hd.width, hd.height, lim, origin, "BMP");
  const bool rle = hd.compression == kRle8 || hd.compression == kRle4;
  const size_t row_bytes = (size_t(hd.width) * bits + 7) / 8;
  const size_t stride = ((size_t(hd.width) * bits + 31) >> 3) & ~size_t(3);
  if (!rle && (pos > size || size - pos < stride * size_t(hd.height - 1) + row_bytes))
    fail(origin, "BMP: file is truncated (pixel data)");
  Image im = make_image(hd.width, hd.height, lim, origin, "BMP");
  const int64_t w = im.width, hgt = im.height;
  auto put_row = [&](int64_t file_row) {  // rows are stored bottom-up unless the height was negative
    return im.rgb.data() + size_t(hd.top_down ? file_row : hgt - 1 - file_row) * size_t(w) * 3;
  };

  if (rle) {
    const std::vector<uint8_t> idx = decode_rle(data, size, pos, w, hgt, hd.compression == kRle4, origin);
    for (int64_t y = 0; y < hgt; ++y) {
      uint8_t* out = put_row(y);
      for (int64_t x = 0; x < w; ++x) std::memcpy(out + 3 * x, &pal.rgb[idx[size_t(y * w + x)] * 3], 3);
    }
    return im;
  }

  for (int64_t y = 0; y < hgt; ++y) {
    const uint8_t* in = data + pos + stride * size_t(y);
    uint8_t* out = put_row(y);
    for (int64_t x = 0; x < w; ++x) {
      uint8_t* o = out + 3 * x;
      if (bits <= 8) {
        unsigned v;
        if (bits == 8) v = in[x];
        else if (bits == 4) v = (in[x / 2] >> (x % 2 ? 0 : 4)) & 15;
        else v = (in[x / 8] >> (7 - x % 8)) & 1;
        std::memcpy(o, &pal.rgb[v * 3], 3);
      } else {
        const uint8_t* p = in + x * (bits / 8);
        const uint32_t v = bits == 16 ? le16(p) : bits == 24 ? uint32_t(p[0] | p[1] << 8 | p[2] << 16) : le32(p);
        for (int c = 0; c < 3; ++c) o[c] = channel(v, m[c]);
      }
    }
  }
  return im;
}

}  // namespace vl3::img
