// GIF, first frame, with our own parser and LZW decoder. Pillow 9.4 does not use giflib either: it
// has its own decoder, whose behaviour on imperfect files differs from giflib's, and those files are
// common. What we reproduce from Pillow (GifImagePlugin.py, GifDecode.c), in our words:
//  * The image is the logical screen, enlarged when the first frame reaches past it.
//  * It starts filled with the frame's transparent index (graphic control extension) or with 0; the
//    frame is written over it unmasked (a transparent index keeps its palette colour), and the result
//    is looked up in the frame's local colour table, else the global one, else the grey ramp; indices
//    past the table are Pillow's ramp too (an identity table, which Pillow loads as mode "L", gives
//    the same pixels).
//  * LZW: codes read LSB-first across data sub-blocks, where a zero-length block does not end the
//    data (Pillow reads the next length byte as the next block). Decoding stops as soon as the last
//    pixel is written. An end-of-information code before that is an error (Pillow: "image file is
//    truncated"; it would read on only if more of the file arrived in a later 64 KiB read), and so
//    is running out of bytes (or a block announcing more bytes than remain).
//    A code above the next free table slot, or a first code after a clear above the clear code, is
//    "broken data". The table stops growing at 4096 entries (no implicit clear).
//  * Minimum code sizes up to 12 are accepted, a literal keeping its low 8 bits, as in Pillow.
//  * Bytes that start no known block between blocks are skipped.
#include <algorithm>
#include <cstring>
#include <vector>

#include "preprocess/image_codecs.h"

namespace vl3::img {
namespace {

struct Cursor {
  const uint8_t* data;
  size_t size, pos = 0;
  const std::string& origin;

  bool at_end() const { return pos >= size; }
  uint8_t byte() {
    if (pos >= size) fail(origin, "GIF: file is truncated");
    return data[pos++];
  }
  int u16() {
    const int lo = byte();
    return lo | (byte() << 8);
  }
  const uint8_t* take(size_t n) {
    if (size - pos < n) fail(origin, "GIF: file is truncated");
    const uint8_t* p = data + pos;
    pos += n;
    return p;
  }
  void skip_sub_blocks() {
    for (uint8_t n; (n = byte()) != 0;) take(n);
  }
};

void read_color_table(Cursor& in, int flags, Palette& pal) {
  const size_t entries = size_t(1) << ((flags & 7) + 1);
  const uint8_t* p = in.take(entries * 3);
  pal = Palette();
  std::memcpy(pal.rgb.data(), p, entries * 3);
}

// Writes decoded indices into the frame rectangle in GIF row order (interlaced: rows 0, 8, ...;
// 4, 12, ...; 2, 6, ...; 1, 3, ...). Returns false once the frame is complete.
class FrameWriter {
 public:
  FrameWriter(uint8_t* canvas, int canvas_w, int x0, int y0, int w, int h, bool interlaced)
      : canvas_(canvas), cw_(canvas_w), x0_(x0), y0_(y0), w_(w), h_(h),
        pass_(interlaced ? 1 : 0), step_(interlaced ? 8 : 1) {}

  bool put(uint8_t v) {
    canvas_[size_t(y0_ + y_) * cw_ + x0_ + x_] = v;
    if (++x_ < w_) return true;
    x_ = 0;
    y_ += step_;
    while (y_ >= h_) {
      switch (pass_) {
        case 1: y_ = 4; pass_ = 2; break;
        case 2: y_ = 2; step_ = 4; pass_ = 3; break;
        case 3: y_ = 1; step_ = 2; pass_ = 4; break;
        default: return false;
      }
    }
    return true;
  }

 private:
  uint8_t* canvas_;
  int cw_, x0_, y0_, w_, h_, pass_, step_;
  int x_ = 0, y_ = 0;
};

void decode_lzw(Cursor& in, int min_bits, FrameWriter& out) {
  const std::string& origin = in.origin;
  if (min_bits > 12) fail(origin, "GIF: LZW minimum code size " + std::to_string(min_bits) + " is over 12");
  constexpr int kTable = 4096;
  const int clear = 1 << min_bits, end = clear + 1;
  std::vector<uint8_t> suffix(kTable), stack(kTable);
  std::vector<int> prefix(kTable);
  int next = clear + 2, code_size = min_bits + 1, code_mask = (1 << code_size) - 1;
  bool after_clear = true;
  int prev_code = 0;
  uint8_t prev_first = 0;
  uint32_t bitbuf = 0;
  int bitcount = 0;
  size_t block_left = 0;

  for (;;) {
    while (bitcount < code_size) {
      while (block_left == 0) {
        block_left = in.byte();
        if (in.size - in.pos < block_left) fail(origin, "GIF: file is truncated (inside image data)");
      }
      bitbuf |= uint32_t(in.byte()) << bitcount;
      bitcount += 8;
      --block_left;
    }
    int code = int(bitbuf & uint32_t(code_mask));
    bitbuf >>= code_size;
    bitcount -= code_size;

    if (code == clear) {
      next = clear + 2;
      code_size = min_bits + 1;
      code_mask = (1 << code_size) - 1;
      after_clear = true;
      continue;
    }
    if (code == end) fail(origin, "GIF: frame data ends early (end code before the last pixel)");

    int top = kTable;  // the string is built right to left in stack[top..)
    uint8_t first;
    if (after_clear) {
      if (code > clear) fail(origin, "GIF: broken data stream (bad first code after a clear)");
      first = uint8_t(code);
      after_clear = false;
    } else {
      const int this_code = code;
      if (code > next) fail(origin, "GIF: broken data stream (code past the table)");
      if (code == next) {  // the string being defined: previous string + its first byte
        stack[--top] = prev_first;
        code = prev_code;
      }
      while (code >= clear) {
        if (top <= 0 || code >= kTable) fail(origin, "GIF: broken data stream");
        stack[--top] = suffix[code];
        code = prefix[code];
      }
      first = uint8_t(code);
      if (next < kTable) {
        suffix[next] = first;
        prefix[next] = prev_code;
        if (next == code_mask && code_size < 12) {
          ++code_size;
          code_mask = (1 << code_size) - 1;
        }
        ++next;
      }
      code = this_code;
    }
    prev_code = code;
    prev_first = first;
    if (!out.put(first)) return;
    for (int i = top; i < kTable; ++i)
      if (!out.put(stack[i])) return;
  }
}

}  // namespace

Image decode_gif(const uint8_t* data, size_t size, const std::string& origin, const ImageLimits& lim) {
  Cursor in{data, size, 0, origin};
  in.take(6);  // signature, checked by the caller
  const int screen_w = in.u16(), screen_h = in.u16();
  const int flags = in.byte();
  in.take(2);  // background index, aspect ratio: no effect on the first frame's pixels
  Palette global;
  const bool has_global = flags & 0x80;
  if (has_global) read_color_table(in, flags, global);

  int transparency = -1;
  for (;;) {
    if (in.at_end()) fail(origin, "GIF: no image in the file");
    const uint8_t b = in.byte();
    if (b == ';') fail(origin, "GIF: no image in the file");
    if (b == '!') {
      const uint8_t label = in.byte();
      if (label == 0xF9) {  // graphic control extension: flags, delay (2), transparent index
        const uint8_t n = in.byte();
        const uint8_t* p = in.take(n);
        // Pillow reads the delay unconditionally and the index only when flagged (and a later
        // extension without the flag leaves an earlier index in force).
        if (n < 3 || ((p[0] & 1) && n < 4)) fail(origin, "GIF: graphic control extension is too short");
        if (p[0] & 1) transparency = p[3];
      }
      in.skip_sub_blocks();
      continue;
    }
    if (b != ',') continue;  // stray byte between blocks: skipped, as Pillow does

    const int x0 = in.u16(), y0 = in.u16(), w = in.u16(), h = in.u16();
    const int iflags = in.byte();
    Palette pal = has_global ? global : Palette();
    if (iflags & 0x80) read_color_table(in, iflags, pal);
    if (w == 0 || h == 0)
      fail(origin, "GIF: first frame is empty (" + std::to_string(w) + "x" + std::to_string(h) + ")");
    const int min_bits = in.byte();

    Image im = make_image(std::max(screen_w, x0 + w), std::max(screen_h, y0 + h), lim, origin, "GIF");
    std::vector<uint8_t> index(size_t(im.width) * im.height, uint8_t(transparency < 0 ? 0 : transparency));
    FrameWriter writer(index.data(), im.width, x0, y0, w, h, iflags & 0x40);
    decode_lzw(in, min_bits, writer);
    for (size_t i = 0; i < index.size(); ++i) std::memcpy(&im.rgb[i * 3], &pal.rgb[index[i] * 3], 3);
    return im;
  }
}

}  // namespace vl3::img
