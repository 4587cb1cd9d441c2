// PNG through libpng, samples taken raw (no libpng colour transforms) and converted to RGB with
// Pillow 9.4's rules (PngImagePlugin's mode table, then Image.convert("RGB")):
//   grey 1-bit -> 0/255; grey 2/4-bit -> v*85 / v*17; grey 8 -> v;
//   grey 16 ("I" mode) -> min(v, 255) (Pillow's I->RGB clips: a 16-bit grey PNG is mostly white);
//   grey+alpha 8/16, RGB 16, RGBA 8/16 -> the high byte of each sample, alpha dropped;
//   palette -> PLTE lookup, entries past PLTE being Pillow's grey ramp; tRNS ignored.
// Gamma, sRGB, iCCP and sBIT are ignored, as Pillow's convert ignores them.
//
// libpng reports errors by longjmp. Every libpng call that can fail runs inside a small function
// that holds only plain C data and returns false on the jump, so no C++ frame is ever jumped over.
#include <png.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "preprocess/image_codecs.h"

namespace vl3::img {
namespace {

struct PngReader {
  png_structp png = nullptr;
  png_infop info = nullptr;
  const uint8_t* data = nullptr;
  size_t size = 0, pos = 0;
  char msg[256] = {};
};

void on_error(png_structp png, png_const_charp msg) {
  auto* r = static_cast<PngReader*>(png_get_error_ptr(png));
  std::snprintf(r->msg, sizeof r->msg, "%s", msg);
  png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}  // the library never prints

void on_read(png_structp png, png_bytep out, size_t n) {
  auto* r = static_cast<PngReader*>(png_get_io_ptr(png));
  if (r->size - r->pos < n) png_error(png, "file is truncated");
  std::memcpy(out, r->data + r->pos, n);
  r->pos += n;
}

bool read_header(PngReader* r) {
  if (setjmp(png_jmpbuf(r->png))) return false;
  png_read_info(r->png, r->info);
  return true;
}

bool start_rows(PngReader* r, int* passes) {
  if (setjmp(png_jmpbuf(r->png))) return false;
  if (png_get_bit_depth(r->png, r->info) < 8) png_set_packing(r->png);  // one byte per sample, unscaled
  *passes = png_set_interlace_handling(r->png);
  png_read_update_info(r->png, r->info);
  return true;
}

bool read_rows(PngReader* r, png_bytepp rows, png_uint_32 n) {
  if (setjmp(png_jmpbuf(r->png))) return false;
  png_read_rows(r->png, rows, nullptr, n);
  return true;
}

struct ReaderGuard {
  PngReader* r;
  ~ReaderGuard() { png_destroy_read_struct(&r->png, r->info ? &r->info : nullptr, nullptr); }
};

// One row of raw samples (after png_set_packing) to RGB.
void convert_row(const uint8_t* in, uint8_t* out, int width, int color_type, int depth,
                 const Palette& pal) {
  const bool wide = depth == 16;
  switch (color_type) {
    case PNG_COLOR_TYPE_GRAY:
      for (int x = 0; x < width; ++x) {
        uint8_t v;
        if (wide) {
          const int s = (in[2 * x] << 8) | in[2 * x + 1];
          v = uint8_t(s > 255 ? 255 : s);
        } else {
          const uint8_t s = in[x];
          v = depth == 1 ? (s ? 255 : 0) : depth == 2 ? uint8_t(s * 85) : depth == 4 ? uint8_t(s * 17) : s;
        }
        out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = v;
      }
      break;
    case PNG_COLOR_TYPE_GRAY_ALPHA: {
      const int step = wide ? 4 : 2;
      for (int x = 0; x < width; ++x) out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = in[step * x];
      break;
    }
    case PNG_COLOR_TYPE_RGB:
    case PNG_COLOR_TYPE_RGB_ALPHA: {
      const int channels = color_type == PNG_COLOR_TYPE_RGB ? 3 : 4;
      const int bps = wide ? 2 : 1;  // big-endian: the first byte of a 16-bit sample is the high byte
      for (int x = 0; x < width; ++x)
        for (int c = 0; c < 3; ++c) out[3 * x + c] = in[(x * channels + c) * bps];
      break;
    }
    default:  // palette
      for (int x = 0; x < width; ++x) std::memcpy(out + 3 * x, &pal.rgb[in[x] * 3], 3);
      break;
  }
}

}  // namespace

Image decode_png(const uint8_t* data, size_t size, const std::string& origin, const ImageLimits& lim) {
  PngReader r;
  r.data = data;
  r.size = size;
  r.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &r, on_error, on_warning);
  if (!r.png) fail(origin, "PNG: cannot create the libpng reader");
  ReaderGuard guard{&r};
  r.info = png_create_info_struct(r.png);
  if (!r.info) fail(origin, "PNG: cannot create the libpng reader");
  png_set_read_fn(r.png, &r, on_read);
  // Our pixel cap replaces libpng's default 1e6 width/height limit (a 1x2000000 strip is fine).
  png_set_user_limits(r.png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
  // Pillow never checks the CRC of IDAT chunks; check none of the critical chunks' so that a file
  // Pillow decodes decodes here too (ancillary chunks with a bad CRC are skipped, as by default).
  png_set_crc_action(r.png, PNG_CRC_QUIET_USE, PNG_CRC_DEFAULT);

  if (!read_header(&r)) fail(origin, std::string("PNG: ") + r.msg);
  png_uint_32 w = 0, h = 0;
  int depth = 0, color_type = 0, interlace = 0;
  png_get_IHDR(r.png, r.info, &w, &h, &depth, &color_type, &interlace, nullptr, nullptr);
  Image im = make_image(w, h, lim, origin, "PNG");

  Palette pal;
  if (color_type == PNG_COLOR_TYPE_PALETTE) {
    png_colorp entries = nullptr;
    int n = 0;
    if (!png_get_PLTE(r.png, r.info, &entries, &n)) fail(origin, "PNG: palette image without a PLTE chunk");
    for (int i = 0; i < n && i < 256; ++i) {
      pal.rgb[i * 3] = entries[i].red;
      pal.rgb[i * 3 + 1] = entries[i].green;
      pal.rgb[i * 3 + 2] = entries[i].blue;
    }
  }

  int passes = 1;
  if (!start_rows(&r, &passes)) fail(origin, std::string("PNG: ") + r.msg);
  const size_t rowbytes = png_get_rowbytes(r.png, r.info);
  // Interlaced images are assembled by libpng over all passes, so they need every raw row at once;
  // others are converted in bands, keeping memory near the RGB output's.
  const int band = interlace != PNG_INTERLACE_NONE ? im.height : std::min(im.height, 64);
  std::vector<uint8_t> raw(rowbytes * size_t(band));
  std::vector<png_bytep> rows(band);
  for (int i = 0; i < band; ++i) rows[i] = raw.data() + rowbytes * size_t(i);
  for (int y0 = 0; y0 < im.height; y0 += band) {
    const int n = std::min(band, im.height - y0);
    for (int p = 0; p < passes; ++p)
      if (!read_rows(&r, rows.data(), png_uint_32(n)))
        fail(origin, std::string("PNG: ") + r.msg + " (at row " + std::to_string(y0) + ")");
    for (int i = 0; i < n; ++i)
      convert_row(rows[i], im.rgb.data() + size_t(y0 + i) * im.width * 3, im.width, color_type, depth, pal);
  }
  return im;
}

}  // namespace vl3::img
