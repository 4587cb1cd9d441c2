// Media input: images decoded to RGB8, PIL-exact bicubic resizing, and video frame sampling.
// Pure C++ (no libtorch). Every failure on untrusted bytes is a vl3::Error naming the source.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace vl3 {

// Interleaved RGB, 8 bits per channel, row-major: rgb[(y * width + x) * 3 + c].
struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
};

struct ImageLimits {
  int64_t max_pixels = int64_t(1) << 28;  // 268 M pixels: checked from the header, before decoding pixels
  int64_t max_bytes = int64_t(1) << 30;   // encoded size
};

// PNG, JPEG, WebP, BMP, GIF (first frame), detected from the bytes (not the extension). Grey, palette,
// 16-bit and alpha images become RGB as PIL's Image.convert("RGB") does (alpha dropped, not blended).
Image decode_image(const uint8_t* data, size_t size, const std::string& origin, const ImageLimits& lim = {});
// A path, "-" (stdin) or a data: URI (base64 or percent-encoded).
Image load_image(const std::string& source, const ImageLimits& lim = {});

// PIL's Image.resize((w, h), BICUBIC) on RGB8: separable convolution, a = -0.5, support scaled by the
// downscale factor (antialiasing), PIL's fixed-point rounding, so the output equals PIL's exactly.
Image resize_bicubic(const Image& src, int width, int height);

// ------------------------------------------------------------------------------------------ video
// Bounds for untrusted input; exceeding one is a vl3::Error (see docs/video.md).
struct VideoLimits {
  int64_t max_pixels = int64_t(1) << 26;   // per decoded frame (width * height)
  int64_t max_packets = int64_t(1) << 24;  // video packets read in one pass over the file
  int64_t max_outputs = int64_t(1) << 20;  // frames the fps filter may emit (it fills gaps with copies)
  double timeout_s = 3600;                 // wall clock for the whole call; <= 0: none
};

struct VideoOptions {
  double fps = 1.0;                   // sampling rate (the official ffmpeg fps filter, round=down)
  int max_frames = 180;               // more sampled frames -> floor(linspace(0, n-1, max_frames)) subset
  std::optional<double> start_time;   // trim (seconds, as the official precise mode)
  std::optional<double> end_time;
  int threads = 0;                    // decoder threads; 0: min(cores, 8)
  VideoLimits limits;
};

struct VideoInfo {
  int width = 0, height = 0;  // of the decoded frames
  double duration = 0;        // seconds (container duration)
  double start_time = 0;      // of the video stream, seconds
  int num_frames = 0;         // frames that will be returned (after the max_frames subset)
};

struct VideoClip {
  VideoInfo info;
  std::vector<Image> frames;              // resized to the size chosen by the callback
  std::vector<double> timestamps;         // seconds, one per frame
  std::vector<int64_t> source_frame_index;  // index of each frame in the full decode (diagnostic)
};

// Decodes a video file (or a folder of frames / an animated GIF, as the official loader does), sampling
// as the official implementation. `choose_size(info)` is called once, after probing and before any
// pixels are kept, and returns the (width, height) every frame is resized to (PIL bicubic); only resized
// frames are held in memory.
VideoClip load_video(const std::string& source, const VideoOptions& opt,
                     const std::function<std::pair<int, int>(const VideoInfo&)>& choose_size);
// The same for an encoded video held in memory (`origin` names it in errors). Always the ffmpeg path:
// folders and the ".gif" rule need a path.
VideoClip decode_video(const uint8_t* data, size_t size, const std::string& origin, const VideoOptions& opt,
                       const std::function<std::pair<int, int>(const VideoInfo&)>& choose_size);

}  // namespace vl3
