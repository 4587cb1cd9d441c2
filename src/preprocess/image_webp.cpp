// WebP through libwebp's animation decoder with its default options (RGBA output), exactly what
// Pillow 9.4 uses for every WebP file when built with WebP animation support (Debian's is): still
// and animated, lossy and lossless. The first frame is composited on a transparent canvas by libwebp;
// alpha is then dropped (convert("RGB")), so uncovered canvas is black. Using the same library for
// the lossy YUV->RGB step is what makes the pixels identical; FFmpeg's decoder converts differently.
#include <webp/decode.h>
#include <webp/demux.h>

#include <cstring>
#include <memory>

#include "preprocess/image_codecs.h"

namespace vl3::img {

Image decode_webp(const uint8_t* data, size_t size, const std::string& origin, const ImageLimits& lim) {
  // The header gives the canvas size without decoding: check the pixel cap before libwebp allocates.
  WebPBitstreamFeatures features;
  const VP8StatusCode status = WebPGetFeatures(data, size, &features);
  if (status == VP8_STATUS_NOT_ENOUGH_DATA) fail(origin, "WebP: file is truncated");
  if (status != VP8_STATUS_OK) fail(origin, "WebP: invalid header (libwebp status " + std::to_string(int(status)) + ")");
  Image im = make_image(features.width, features.height, lim, origin, "WebP");

  WebPData webp{data, size};
  struct DecoderDeleter {
    void operator()(WebPAnimDecoder* d) const { WebPAnimDecoderDelete(d); }
  };
  std::unique_ptr<WebPAnimDecoder, DecoderDeleter> dec(WebPAnimDecoderNew(&webp, nullptr));
  if (!dec) fail(origin, "WebP: invalid or truncated file (cannot parse its chunks)");
  WebPAnimInfo info;
  if (!WebPAnimDecoderGetInfo(dec.get(), &info) || int64_t(info.canvas_width) != im.width ||
      int64_t(info.canvas_height) != im.height)
    fail(origin, "WebP: canvas size disagrees with the header");
  uint8_t* rgba = nullptr;
  int timestamp = 0;
  if (!WebPAnimDecoderGetNext(dec.get(), &rgba, &timestamp))
    fail(origin, "WebP: cannot decode the first frame (corrupt or truncated data)");
  const size_t n = size_t(im.width) * im.height;
  for (size_t i = 0; i < n; ++i) std::memcpy(&im.rgb[i * 3], rgba + i * 4, 3);
  return im;
}

}  // namespace vl3::img
