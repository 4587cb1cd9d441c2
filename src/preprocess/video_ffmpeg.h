// FFmpeg access for load_video (internal): opening and probing, a packet-only survey, decoding with the
// ffmpeg CLI's timestamp handling (so the fps filter picks the same frames as the official command),
// and the rgb24 conversion of its auto-inserted scaler. Sampling policy lives in video.cpp.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "vl3/media.h"

struct AVFrame;

namespace vl3::video_detail {

struct Source {
  std::string origin;             // names the input in errors
  std::string path;               // a file; empty: the bytes below
  const uint8_t* data = nullptr;
  size_t size = 0;
};

struct Context {
  VideoLimits limits;
  int threads = 1;
  std::chrono::steady_clock::time_point deadline;  // time_point::max(): none
};

// One output tick every 1/fps seconds; `tb` is its time base (1/fps as FFmpeg parses the filter option).
struct FpsRate {
  std::string text;  // the fps option as written into the filter string
  int tb_num = 1, tb_den = 1;
};
FpsRate parse_fps(double fps, const std::string& origin);

// The fps filter emits ticks [first, end) (end <= first: nothing).
struct TickSpan {
  int64_t first = 0, end = 0;
  bool operator==(const TickSpan& o) const { return first == o.first && end == o.end; }
};

struct Survey {
  // ffprobe's numbers as the official code reads them (float() of ffprobe's "%f" text).
  std::optional<double> duration;      // format duration
  std::optional<double> stream_start;  // video stream start_time
  int width = 0, height = 0;           // frames after autorotation
  double avg_fps = 0;                  // stream average frame rate (what decord reports), 0 unknown
  int64_t packets = 0;                 // video packets the decoder will see (its frame count)
  std::optional<TickSpan> span;        // predicted fps filter output, when a rate was given
};
// Opens the file, probes it and reads every video packet (no decoding).
Survey survey(const Source& src, const Context& ctx, const FpsRate* rate);

// A decoded frame handed to a callback: `source_index` counts frames in decoder output order.
using FrameSink = std::function<void(int64_t key, int64_t source_index, const AVFrame* frame)>;

// Decodes through autorotation and `fps=fps=R:round=down`, calling `sink(tick, ...)` for every frame
// the filter emits; returns the span it actually emitted.
TickSpan decode_fps(const Source& src, const Context& ctx, const FpsRate& rate, const FrameSink& sink);
// Decodes every frame (after autorotation), calling `sink(index, index, ...)`, and stops after frame
// `last` (inclusive); returns the number of frames seen.
int64_t decode_frames(const Source& src, const Context& ctx, int64_t last, const FrameSink& sink);

// rgb24 exactly as `-pix_fmt rgb24` gets it from a -filter_complex graph (the auto-inserted scale).
class RgbConverter {
 public:
  explicit RgbConverter(std::string origin);
  ~RgbConverter();
  RgbConverter(const RgbConverter&) = delete;
  RgbConverter& operator=(const RgbConverter&) = delete;
  Image convert(const AVFrame* frame);

 private:
  struct State;
  std::string origin_;
  State* state_ = nullptr;
};

}  // namespace vl3::video_detail
