#include "vl3/processor.h"

#include <cmath>

#include "vl3/error.h"

namespace vl3 {
namespace {

// Python's round(): half to even (the default FE_TONEAREST mode of nearbyint).
int64_t py_round(double x) { return int64_t(std::nearbyint(x)); }

}  // namespace

std::vector<std::pair<int, int>> resize_targets(const std::vector<VisualSize>& items, int patch_size, int min_tokens,
                                                int max_tokens) {
  std::vector<std::pair<int, int>> out;
  if (items.empty()) return out;
  if (max_tokens <= 0 || min_tokens < 0) throw Error("the visual token budget must be positive");
  for (const auto& it : items)
    if (it.height <= 0 || it.width <= 0 || it.frames <= 0 || it.merge <= 0)
      throw Error("an image or video has an empty size (" + std::to_string(it.width) + "x" +
                  std::to_string(it.height) + ", " + std::to_string(it.frames) + " frames)");
  bool same_merge = true;
  for (const auto& it : items) same_merge &= it.merge == items[0].merge;

  auto clamp = [](int64_t v, int64_t f) { return int(std::max<int64_t>(v, f)); };
  if (same_merge) {
    const int64_t f = int64_t(patch_size) * items[0].merge;
    const int64_t max_pixels = int64_t(max_tokens) * f * f, min_pixels = int64_t(min_tokens) * f * f;
    int64_t n = 0;
    for (const auto& it : items) n += it.frames;
    const int64_t budget = max_pixels / n;
    for (const auto& it : items) {
      const double H = it.height, W = it.width;
      int64_t h = py_round(H / double(f)) * f, w = py_round(W / double(f)) * f;
      if (h * w > budget) {
        const double beta = std::sqrt(H * W / double(budget));
        h = int64_t(std::floor(H / beta / double(f))) * f;
        w = int64_t(std::floor(W / beta / double(f))) * f;
      }
      if (h * w < min_pixels) {
        const double beta = std::sqrt(double(min_pixels) / (H * W));
        h = int64_t(std::ceil(H * beta / double(f))) * f;
        w = int64_t(std::ceil(W * beta / double(f))) * f;
      }
      out.emplace_back(clamp(h, f), clamp(w, f));
    }
    return out;
  }
  int64_t total = 0;
  for (const auto& it : items) {
    const double f = double(patch_size) * it.merge;
    total += int64_t(it.frames) * int64_t(std::ceil(it.height / f)) * int64_t(std::ceil(it.width / f));
  }
  const bool shrink = total > max_tokens;
  const double beta = shrink ? std::sqrt(double(total) / double(max_tokens)) : 1.0;
  for (const auto& it : items) {
    const int64_t f = int64_t(patch_size) * it.merge;
    const double H = it.height, W = it.width;
    int64_t h, w;
    if (shrink) {
      h = int64_t(std::floor(H / beta / double(f))) * f;
      w = int64_t(std::floor(W / beta / double(f))) * f;
    } else {
      h = py_round(H / double(f)) * f;
      w = py_round(W / double(f)) * f;
    }
    out.emplace_back(clamp(h, f), clamp(w, f));
  }
  return out;
}

void patchify(const Image& frame, int p, int m, const Normalization& norm, std::vector<float>& out) {
  const int H = frame.height, W = frame.width;
  if (H % (p * m) || W % (p * m))
    throw Error("patchify: a " + std::to_string(W) + "x" + std::to_string(H) + " frame is not a multiple of " +
                std::to_string(p * m));
  // The normalised value of every possible byte per channel: 256 x 3 table, exact float32 arithmetic.
  float lut[3][256];
  for (int c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v) lut[c][v] = (float(double(v) * norm.rescale_factor) - norm.mean[c]) / norm.std[c];
  const int gh = H / p, gw = W / p;
  const size_t row = size_t(3) * p * p;
  size_t pos = out.size();
  out.resize(pos + size_t(gh) * gw * row);
  for (int by = 0; by < gh / m; ++by)
    for (int bx = 0; bx < gw / m; ++bx)
      for (int my = 0; my < m; ++my)
        for (int mx = 0; mx < m; ++mx) {
          const int y0 = (by * m + my) * p, x0 = (bx * m + mx) * p;
          float* dst = out.data() + pos;
          for (int c = 0; c < 3; ++c)
            for (int y = 0; y < p; ++y) {
              const uint8_t* src = frame.rgb.data() + (size_t(y0 + y) * W + x0) * 3 + c;
              for (int x = 0; x < p; ++x) *dst++ = lut[c][src[size_t(x) * 3]];
            }
          pos += row;
        }
}

}  // namespace vl3
