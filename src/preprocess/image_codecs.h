// Internals of decode_image: one decoder per format, each producing RGB8 exactly as Pillow 9.4's
// Image.open(...).convert("RGB") would, plus the helpers they share. See docs/images.md.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "vl3/error.h"
#include "vl3/media.h"

namespace vl3::img {

[[noreturn]] inline void fail(const std::string& origin, const std::string& what) {
  throw Error(origin + ": " + what);
}

// Rejects empty images and images over the pixel cap; called with the header's dimensions before any
// pixel memory is allocated.
void check_dimensions(int64_t width, int64_t height, const ImageLimits& lim, const std::string& origin,
                      const char* format);
// check_dimensions, then an Image with its RGB buffer allocated (zero-filled).
Image make_image(int64_t width, int64_t height, const ImageLimits& lim, const std::string& origin,
                 const char* format);

// A Pillow palette: entries the file does not define keep Pillow's default grey ramp (i, i, i), which
// is what an out-of-range index looks up. `rgb` holds 256 RGB triplets.
struct Palette {
  std::array<uint8_t, 768> rgb;
  Palette();
};

Image decode_png(const uint8_t* data, size_t size, const std::string& origin, const ImageLimits& lim);
Image decode_jpeg(const uint8_t* data, size_t size, const std::string& origin, const ImageLimits& lim);
Image decode_webp(const uint8_t* data, size_t size, const std::string& origin, const ImageLimits& lim);
Image decode_gif(const uint8_t* data, size_t size, const std::string& origin, const ImageLimits& lim);
Image decode_bmp(const uint8_t* data, size_t size, const std::string& origin, const ImageLimits& lim);

}  // namespace vl3::img
