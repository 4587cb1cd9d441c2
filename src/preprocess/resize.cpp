// resize_bicubic: Pillow 9.4's Image.resize((w, h), BICUBIC) for 8-bit RGB, reproduced bit for bit.
//
// The reference pipeline resizes with Pillow, and the vision tower sees the resized bytes, so any
// difference (even one least-significant bit) changes pixel_values. What has to match Pillow
// (libImaging/Resample.c), described here in our words:
//  * Separable convolution: a horizontal pass first (only over the source rows the vertical pass
//    will read), then a vertical pass. A pass whose size is unchanged is skipped, as in Pillow (at
//    scale 1 the weights are exactly 0, 1, 0, 0, so running it would change nothing but the time).
//    Both sizes unchanged -> a copy.
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
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

// acc[i] += a[i] * ka + b[i] * kb for i < n, exactly: the multiply-add of both passes, two taps at
// a time. SSE2 (every x86-64) has no 32-bit multiply but multiplies 16-bit pairs and adds them
// (pmaddwd), so each weight is split as hi * 2^15 + lo with lo in [0, 2^15): the sums are the same
// integers Pillow computes, and they never leave int32 (|sum| <= 255 * 1.2 * 2^22).
void accumulate2(const uint8_t* a, const uint8_t* b, int32_t ka, int32_t kb, int32_t* acc, size_t n) {
  size_t i = 0;
#if defined(__SSE2__)
  auto pair = [](int32_t x, int32_t y) { return int32_t(uint32_t(uint16_t(x)) | uint32_t(uint16_t(y)) << 16); };
  const __m128i klo = _mm_set1_epi32(pair(ka & 0x7FFF, kb & 0x7FFF));
  const __m128i khi = _mm_set1_epi32(pair(ka >> 15, kb >> 15));
  const __m128i zero = _mm_setzero_si128();
  for (; i + 16 <= n; i += 16) {
    const __m128i va = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i));
    const __m128i vb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i));
    const __m128i ab0 = _mm_unpacklo_epi8(va, vb);  // a0 b0 a1 b1 ... a7 b7
    const __m128i ab1 = _mm_unpackhi_epi8(va, vb);
    const __m128i words[4] = {_mm_unpacklo_epi8(ab0, zero), _mm_unpackhi_epi8(ab0, zero),
                              _mm_unpacklo_epi8(ab1, zero), _mm_unpackhi_epi8(ab1, zero)};
    for (int q = 0; q < 4; ++q) {
      const __m128i lo = _mm_madd_epi16(words[q], klo);
      const __m128i hi = _mm_madd_epi16(words[q], khi);
      __m128i* d = reinterpret_cast<__m128i*>(acc + i + 4 * q);
      _mm_storeu_si128(d, _mm_add_epi32(_mm_loadu_si128(d), _mm_add_epi32(lo, _mm_slli_epi32(hi, 15))));
    }
  }
#endif
  for (; i < n; ++i) acc[i] += a[i] * ka + b[i] * kb;
}

// out[i] = clip8(acc[i]) for i < n. SSE2 lacks 32-bit min/max, but saturating packs do the same
// clamp: acc >> 22 lies in [-640, 640), so int32 -> int16 is exact and int16 -> uint8 saturates.
void store_clipped(const int32_t* acc, uint8_t* out, size_t n) {
  size_t i = 0;
#if defined(__SSE2__)
  for (; i + 16 <= n; i += 16) {
    __m128i v[4];
    for (int q = 0; q < 4; ++q)
      v[q] = _mm_srai_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(acc + i + 4 * q)), kPrecisionBits);
    const __m128i words0 = _mm_packs_epi32(v[0], v[1]), words1 = _mm_packs_epi32(v[2], v[3]);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm_packus_epi16(words0, words1));
  }
#endif
  for (; i < n; ++i) out[i] = clip8(acc[i]);
}

// All taps of one output: acc[i] += sum_j src_j[i] * w[j], where src_j = base + (first + j) * step.
void accumulate_taps(const uint8_t* base, size_t step, const int32_t* w, int count, int32_t* acc, size_t n) {
  int j = 0;
  for (; j + 1 < count; j += 2) accumulate2(base + j * step, base + (j + 1) * step, w[j], w[j + 1], acc, n);
  if (j < count) accumulate2(base + j * step, base + j * step, w[j], 0, acc, n);
}

// Rows [row0, row0 + rows) of `src` (width sw) resampled horizontally into `dst` (width dw).
// A direct loop (per output pixel, per tap, per channel) runs at scalar speed. Instead, bands of
// kBand rows are transposed so that each source column is one contiguous run of kBand * 3 bytes;
// an output column is then a weighted sum of whole runs, as in the vertical pass, and is transposed
// back into the output rows.
constexpr int kBand = 16;
constexpr int kRun = kBand * 3;

void horizontal_pass(const uint8_t* src, int sw, int row0, int rows, const Taps& t, int dw,
                     uint8_t* dst) {
  std::vector<uint8_t> cols(size_t(sw) * kRun), out_cols(size_t(dw) * kRun);
  for (int y0 = 0; y0 < rows; y0 += kBand) {
    const int n = std::min(kBand, rows - y0);
    const uint8_t* band_rows[kBand];
    for (int r = 0; r < kBand; ++r) band_rows[r] = src + size_t(row0 + y0 + std::min(r, n - 1)) * sw * 3;
    // Column-major walk, each run written once and contiguously; pixels move as 4-byte words whose
    // extra byte is overwritten by the next pixel (the last column, with no next pixel, byte-wise).
    for (int x = 0; x + 1 < sw; ++x) {
      uint8_t* c = &cols[size_t(x) * kRun];
      for (int r = 0; r < kBand; ++r) std::memcpy(c + r * 3, band_rows[r] + x * 3, 4);
    }
    for (int r = 0; r < kBand; ++r) std::memcpy(&cols[size_t(sw - 1) * kRun + r * 3], band_rows[r] + (sw - 1) * 3, 3);
    for (int x = 0; x < dw; ++x) {
      int32_t acc[kRun];
      for (int i = 0; i < kRun; ++i) acc[i] = 1 << (kPrecisionBits - 1);
      accumulate_taps(&cols[size_t(t.first[x]) * kRun], kRun, &t.w[size_t(x) * t.stride], t.count[x], acc, kRun);
      store_clipped(acc, &out_cols[size_t(x) * kRun], kRun);
    }
    uint8_t* out_rows[kBand];
    for (int r = 0; r < n; ++r) out_rows[r] = dst + size_t(y0 + r) * dw * 3;
    for (int x = 0; x + 1 < dw; ++x) {
      const uint8_t* o = &out_cols[size_t(x) * kRun];
      for (int r = 0; r < n; ++r) std::memcpy(out_rows[r] + x * 3, o + r * 3, 4);
    }
    for (int r = 0; r < n; ++r) std::memcpy(out_rows[r] + (dw - 1) * 3, &out_cols[size_t(dw - 1) * kRun + r * 3], 3);
  }
}

// Vertical pass: output row y is a weighted sum of whole source rows, contiguous runs of w * 3 bytes;
// `first` is relative to `src`'s first row.
void vertical_pass(const uint8_t* src, int w, const Taps& t, int dh, uint8_t* dst) {
  const size_t n = size_t(w) * 3;
  std::vector<int32_t> acc(n);
  for (int y = 0; y < dh; ++y) {
    std::fill(acc.begin(), acc.end(), int32_t(1) << (kPrecisionBits - 1));
    accumulate_taps(src + size_t(t.first[y]) * n, n, &t.w[size_t(y) * t.stride], t.count[y], acc.data(), n);
    store_clipped(acc.data(), dst + size_t(y) * n, n);
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
  if (!need_v) return mid;

  Image out;
  out.width = width;
  out.height = height;
  out.rgb.resize(size_t(width) * height * 3);
  vertical_pass(h_out->rgb.data() + size_t(row0) * h_out->width * 3, h_out->width, vt, height,
                out.rgb.data());
  return out;
}

}  // namespace vl3
