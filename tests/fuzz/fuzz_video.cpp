// libFuzzer target for decode_video: any byte string, read through a custom AVIOContext over the
// input, must either yield frames that agree with the reported info or be rejected with vl3::Error.
// Work per input is bounded by tight VideoLimits (packets, filter outputs, frame size, wall clock), so
// no input can hang the fuzzer. The input's length picks the sampling mode: the fps-filter path, the
// same with a start/end trim, or a window shorter than a second (the frame-index path).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "vl3/error.h"
#include "vl3/media.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vl3::VideoOptions opt;
  opt.max_frames = 4;
  opt.threads = 1;
  opt.limits.max_pixels = 1 << 18;
  opt.limits.max_packets = 1000;
  opt.limits.max_outputs = 500;
  opt.limits.timeout_s = 2;
  if (size % 3 == 1) {
    opt.start_time = 0.5;
    opt.end_time = 2.7;
  } else if (size % 3 == 2) {
    opt.start_time = 0.1;
    opt.end_time = 0.9;
  }
  int calls = 0;
  vl3::VideoInfo seen;
  try {
    vl3::VideoClip clip = vl3::decode_video(data, size, "fuzz", opt, [&](const vl3::VideoInfo& info) {
      ++calls;
      seen = info;
      // Downscale when possible so that the bicubic resize runs too.
      return std::make_pair(info.width > 8 ? info.width / 2 : info.width, info.height > 8 ? info.height / 2 : info.height);
    });
    if (calls != 1 || clip.frames.empty() || clip.frames.size() > size_t(opt.max_frames) ||
        clip.timestamps.size() != clip.frames.size() || clip.source_frame_index.size() != clip.frames.size())
      std::abort();
    const int w = seen.width > 8 ? seen.width / 2 : seen.width, h = seen.height > 8 ? seen.height / 2 : seen.height;
    for (const vl3::Image& im : clip.frames)
      if (im.width != w || im.height != h || im.rgb.size() != size_t(w) * h * 3) std::abort();
  } catch (const vl3::Error&) {
  }
  return 0;
}
