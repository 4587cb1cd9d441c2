// resize_bicubic: Pillow 9.4's Image.resize((w, h), BICUBIC) for 8-bit RGB, reproduced bit for bit.
//
// The reference pipeline resizes with Pillow, and the vision tower sees the resized bytes, so any
// difference (even one least-significant bit) changes pixel_values. What has to match Pillow
// (libImaging/Resample.c), described here in our words:
//  * Separable convolution: a horizontal pass first (only over the source rows the vertical pass
//    will read), then a vertical pass. A pass whose size is unchanged is skipped entirely (it is not
//    an identity convolution: skipping it is observable only through rounding, which is why it
//    matters). Both sizes unchanged -> a copy.
//  * Per output index i: centre c = (i + 0.5) * scale with scale = in / out (double); filter scale
//    fs = max(scale, 1); support s = 2 * fs; taps j in [(int)(c - s + 0.5), (int)(c + s + 0.5))
//    clamped to [0, in); weight w_j = cubic((j - c + 0.5) / fs) with a = -0.5; weights divided by
//    their sum (when it is non-zero).
//  * Fixed point: each weight becomes round-half-away-from-zero(w * 2^22) as int32; a pass computes
//    2^21 + sum(pixel * weight) in int32 and stores clamp(acc >> 22, 0, 255) (arithmetic shift).
//  * The intermediate image is 8-bit, so the vertical pass rounds the horizontal pass's output.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "vl3/error.h"
#include "vl3/media.h"

namespace vl3 {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's: 8 bits of result, 2 of headroom for overshoot

double cubic(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// Taps of one resampling direction: output i reads `count[i]` inputs from `first[i]` with weights
// `w[i * stride ...]` (fixed point).
struct Taps {
  int stride = 0;
  std::vector<int> first, count;
  std::vector<int32_t> w;
};

Taps compute_taps(int in_size, int out_size) {
  // Pillow passes the box edges as float; for sizes below 2^24 the float is exact.
  const double scale = double(float(in_size) - 0.0f) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = 2.0 * filter_scale;
  Taps t;
  t.stride = int(std::ceil(support)) * 2 + 1;
  t.first.resize(out_size);
  t.count.resize(out_size);
  t.w.assign(size_t(out_size) * t.stride, 0);
  std::vector<double> k(t.stride);
  const double inv_fs = 1.0 / filter_scale;
  for (int i = 0; i < out_size; ++i) {
    const double center = (i + 0.5) * scale;
    int lo = int(center - support + 0.5);  // truncation toward zero, as Pillow's (int) cast
    int hi = int(center + support + 0.5);
    lo = std::max(lo, 0);
    hi = std::min(hi, in_size);
    const int n = std::max(hi - lo, 0);
    double sum = 0.0;
    for (int j = 0; j < n; ++j) {
      k[j] = cubic((j + lo - center + 0.5) * inv_fs);
      sum += k[j];
    }
    int32_t* w = &t.w[size_t(i) * t.stride];
    for (int j = 0; j < n; ++j) {
      const double v = sum != 0.0 ? k[j] / sum : k[j];
      const double f = v * (1 << kPrecisionBits);
      w[j] = v < 0 ? int32_t(-0.5 + f) : int32_t(0.5 + f);
    }
    t.first[i] = lo;
    t.count[i] = n;
  }
  return t;
}

inline uint8_t clip8(int32_t acc) {
  const int32_t v = acc >> kPrecisionBits;
  return uint8_t(v < 0 ? 0 : v > 255 ? 255 : v);
}

// Rows [row0, row0 + rows) of `src` (width sw) resampled horizontally into `dst` (width dw).
void horizontal_pass(const uint8_t* src, int sw, int row0, int rows, const Taps& t, int dw,
                     uint8_t* dst) {
  for (int y = 0; y < rows; ++y) {
    const uint8_t* s = src + size_t(row0 + y) * sw * 3;
    uint8_t* d = dst + size_t(y) * dw * 3;
    for (int x = 0; x < dw; ++x) {
      const int32_t* w = &t.w[size_t(x) * t.stride];
      const uint8_t* p = s + size_t(t.first[x]) * 3;
      int32_t r = 1 << (kPrecisionBits - 1), g = r, b = r;
      for (int j = 0, n = t.count[x]; j < n; ++j, p += 3) {
        r += p[0] * w[j];
        g += p[1] * w[j];
        b += p[2] * w[j];
      }
      d[x * 3 + 0] = clip8(r);
      d[x * 3 + 1] = clip8(g);
      d[x * 3 + 2] = clip8(b);
    }
  }
}

// Vertical pass: output row y mixes whole source rows, so it runs along rows (contiguous, and the
// compiler vectorises the multiply-add over the row); `first` is relative to `src`'s first row.
void vertical_pass(const uint8_t* src, int w, const Taps& t, int dh, uint8_t* dst) {
  const size_t n = size_t(w) * 3;
  std::vector<int32_t> acc(n);
  for (int y = 0; y < dh; ++y) {
    std::fill(acc.begin(), acc.end(), int32_t(1) << (kPrecisionBits - 1));
    const int32_t* k = &t.w[size_t(y) * t.stride];
    for (int j = 0; j < t.count[y]; ++j) {
      const uint8_t* s = src + size_t(t.first[y] + j) * n;
      const int32_t kj = k[j];
      int32_t* a = acc.data();
      for (size_t i = 0; i < n; ++i) a[i] += int32_t(s[i]) * kj;
    }
    uint8_t* d = dst + size_t(y) * n;
    for (size_t i = 0; i < n; ++i) d[i] = clip8(acc[i]);
  }
}

}  // namespace

Image resize_bicubic(const Image& src, int width, int height) {
  if (width < 1 || height < 1)
    throw Error("resize_bicubic: target size " + std::to_string(width) + "x" + std::to_string(height) +
                " must be at least 1x1");
  if (src.width < 1 || src.height < 1 || src.rgb.size() != size_t(src.width) * src.height * 3)
    throw Error("resize_bicubic: source image " + std::to_string(src.width) + "x" +
                std::to_string(src.height) + " is empty or its buffer has the wrong size");
  if (width == src.width && height == src.height) return src;

  const bool need_h = width != src.width;
  const bool need_v = height != src.height;
  Taps vt;
  int row0 = 0, rows = src.height;
  if (need_v) {
    vt = compute_taps(src.height, height);
    // Only the rows the vertical pass reads go through the horizontal pass.
    row0 = vt.first.front();
    rows = vt.first.back() + vt.count.back() - row0;
    for (int& f : vt.first) f -= row0;
  }

  Image mid;
  const Image* h_out = &src;
  if (need_h) {
    const Taps ht = compute_taps(src.width, width);
    mid.width = width;
    mid.height = rows;
    mid.rgb.resize(size_t(width) * rows * 3);
    horizontal_pass(src.rgb.data(), src.width, row0, rows, ht, width, mid.rgb.data());
    h_out = &mid;
    row0 = 0;
  }
  if (!need_v) return need_h ? mid : src;

  Image out;
  out.width = width;
  out.height = height;
  out.rgb.resize(size_t(width) * height * 3);
  vertical_pass(h_out->rgb.data() + size_t(row0) * h_out->width * 3, h_out->width, vt, height,
                out.rgb.data());
  return out;
}

}  // namespace vl3
