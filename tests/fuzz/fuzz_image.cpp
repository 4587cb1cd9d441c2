// libFuzzer target for decode_image: any byte string must decode to a well-formed RGB image or be
// rejected with vl3::Error; nothing may crash, leak, read out of bounds or hit undefined behaviour
// (ASan + UBSan), and no input may make the decoders print. The pixel cap is lowered so that a
// header claiming a large image costs little memory; small results also go through resize_bicubic.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "vl3/error.h"
#include "vl3/media.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vl3::ImageLimits lim;
  lim.max_pixels = int64_t(1) << 22;
  try {
    const vl3::Image im = vl3::decode_image(data, size, "fuzz", lim);
    if (im.width <= 0 || im.height <= 0 || im.rgb.size() != size_t(im.width) * im.height * 3) std::abort();
    volatile uint32_t sink = 0;
    for (uint8_t v : im.rgb) sink = sink + v;
    if (int64_t(im.width) * im.height <= 1 << 14) {
      const vl3::Image small = vl3::resize_bicubic(im, im.width / 2 + 1, im.height * 2 / 3 + 1);
      for (uint8_t v : small.rgb) sink = sink + v;
    }
  } catch (const vl3::Error&) {
  }
  return 0;
}
