// JPEG through libjpeg-turbo, set up as Pillow 9.4's JpegDecode.c sets it up, so the pixels are
// Pillow's: libjpeg's default DCT (islow) and fancy upsampling, no scaling; the output colour space
// follows the component count (1 -> grey, replicated; 3 -> RGB, libjpeg's own YCbCr/RGB detection;
// 4 -> CMYK, YCCK converted by libjpeg, then Pillow's "CMYK;I" + CMYK->RGB below). Any other count,
// or a 12-bit file, is an error, as in Pillow. EXIF orientation is not applied (Pillow's convert
// does not either).
//
// libjpeg reports errors by calling error_exit, which must not return: it longjmps to the small
// functions below, which hold only plain C data. Warnings are ignored (Pillow ignores them) except
// "premature end of file": libjpeg would pad the image with grey, Pillow raises "image file is
// truncated", and so do we.
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <vector>

// jpeglib.h needs size_t and FILE declared before it.
#include <jerror.h>
#include <jpeglib.h>

#include "preprocess/image_codecs.h"

namespace vl3::img {
namespace {

// More scans than any encoder writes; a crafted progressive file can otherwise make decoding take
// minutes (libjpeg-turbo's own tools cap scans the same way).
constexpr int kMaxScans = 1000;

struct JpegReader {
  jpeg_decompress_struct cinfo;
  jpeg_error_mgr err;
  jpeg_progress_mgr progress;
  std::jmp_buf jump;
  char msg[JMSG_LENGTH_MAX];
};

JpegReader* reader_of(j_common_ptr c) { return static_cast<JpegReader*>(c->client_data); }

void on_error_exit(j_common_ptr c) {
  JpegReader* r = reader_of(c);
  (*c->err->format_message)(c, r->msg);
  std::longjmp(r->jump, 1);
}

void on_emit_message(j_common_ptr c, int level) {
  if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF) {
    JpegReader* r = reader_of(c);
    std::snprintf(r->msg, sizeof r->msg, "file is truncated");
    std::longjmp(r->jump, 1);
  }
}

void on_output_message(j_common_ptr) {}  // the library never prints

void on_progress(j_common_ptr c) {
  auto* d = reinterpret_cast<j_decompress_ptr>(c);
  if (d->input_scan_number > kMaxScans) {
    JpegReader* r = reader_of(c);
    std::snprintf(r->msg, sizeof r->msg, "more than %d scans", kMaxScans);
    std::longjmp(r->jump, 1);
  }
}

bool read_header(JpegReader* r, const uint8_t* data, size_t size) {
  if (setjmp(r->jump)) return false;
  jpeg_create_decompress(&r->cinfo);
  r->cinfo.progress = &r->progress;
  jpeg_mem_src(&r->cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&r->cinfo, TRUE);
  return true;
}

inline uint8_t muldiv255(int a, int b) {
  const int t = a * b + 128;
  return uint8_t(((t >> 8) + t) >> 8);
}

// Decodes every scanline into `out` (RGB8, width * 3 bytes per row); `tmp` holds one row of
// width * num_components bytes for the grey and CMYK cases.
bool decode_rows(JpegReader* r, uint8_t* out, uint8_t* tmp) {
  if (setjmp(r->jump)) return false;
  j_decompress_ptr c = &r->cinfo;
  jpeg_start_decompress(c);
  const JDIMENSION w = c->output_width;
  while (c->output_scanline < c->output_height) {
    uint8_t* dst = out + size_t(c->output_scanline) * w * 3;
    JSAMPROW row = c->out_color_space == JCS_RGB ? dst : tmp;
    if (jpeg_read_scanlines(c, &row, 1) != 1) {
      std::snprintf(r->msg, sizeof r->msg, "decoder returned no scanline");
      return false;
    }
    if (c->out_color_space == JCS_GRAYSCALE) {
      for (JDIMENSION x = 0; x < w; ++x) dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = tmp[x];
    } else if (c->out_color_space == JCS_CMYK) {
      // Pillow assumes Adobe's inverted CMYK ("CMYK;I": every sample is 255 - v), then converts
      // with R = clip(nk - nk * C / 255) where nk = 255 - K: here K and C are the inverted values.
      for (JDIMENSION x = 0; x < w; ++x) {
        const uint8_t* p = tmp + 4 * x;
        const int nk = p[3];
        for (int ch = 0; ch < 3; ++ch) {
          const int v = nk - muldiv255(255 - p[ch], nk);
          dst[3 * x + ch] = uint8_t(v < 0 ? 0 : v);
        }
      }
    }
  }
  jpeg_finish_decompress(c);
  return true;
}

}  // namespace

Image decode_jpeg(const uint8_t* data, size_t size, const std::string& origin, const ImageLimits& lim) {
  JpegReader r;
  std::memset(&r, 0, sizeof r);
  r.cinfo.err = jpeg_std_error(&r.err);
  r.err.error_exit = on_error_exit;
  r.err.emit_message = on_emit_message;
  r.err.output_message = on_output_message;
  r.cinfo.client_data = &r;
  r.progress.progress_monitor = on_progress;
  struct Guard {
    JpegReader* r;
    ~Guard() { jpeg_destroy_decompress(&r->cinfo); }  // safe on a zeroed or half-made struct
  } guard{&r};

  if (!read_header(&r, data, size)) fail(origin, std::string("JPEG: ") + r.msg);
  const int comps = r.cinfo.num_components;
  if (comps == 1) r.cinfo.out_color_space = JCS_GRAYSCALE;
  else if (comps == 3) r.cinfo.out_color_space = JCS_RGB;
  else if (comps == 4) r.cinfo.out_color_space = JCS_CMYK;
  else fail(origin, "JPEG: cannot handle " + std::to_string(comps) + "-component images");
  Image im = make_image(r.cinfo.image_width, r.cinfo.image_height, lim, origin, "JPEG");
  std::vector<uint8_t> tmp(size_t(im.width) * comps);
  if (!decode_rows(&r, im.rgb.data(), tmp.data())) fail(origin, std::string("JPEG: ") + r.msg);
  return im;
}

}  // namespace vl3::img
