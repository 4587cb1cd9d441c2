// load_video: the official VideoLLaMA3 frame sampling (processing_videollama3.py load_video and
// load_video_from_ids, plus the processor's per-reference time window), on top of video_ffmpeg.h.
// docs/video.md states the semantics; the numpy expressions the official code evaluates are
// reproduced operation by operation so that indices and timestamps come out bit-identical.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <thread>
#include <unordered_map>

#include "preprocess/video_ffmpeg.h"
#include "vl3/error.h"
#include "vl3/media.h"

extern "C" {
#include <libavutil/avutil.h>
#include <libavutil/mathematics.h>
}

namespace vl3 {
namespace {

using namespace video_detail;
namespace fs = std::filesystem;
using SizeFn = std::function<std::pair<int, int>(const VideoInfo&)>;

[[noreturn]] void fail(const std::string& origin, const std::string& what) {
  throw Error("video " + origin + ": " + what);
}

// ------------------------------------------------------------------ numpy / Python arithmetic
// np.linspace(0, n - 1, m, dtype=int) (numpy 1.24: float64 ramp times step, last = stop, truncated).
std::vector<int64_t> linspace_int(int64_t n, int64_t m) {
  std::vector<int64_t> r(size_t(m), 0);
  if (m == 1) return r;
  const double delta = double(n - 1), div = double(m - 1), step = delta / div;
  for (int64_t i = 0; i < m; ++i) r[size_t(i)] = int64_t(step == 0 ? double(i) / div * delta : double(i) * step);
  r.back() = n - 1;
  return r;
}

// Python's float floor division (Objects/floatobject.c float_floor_div).
double py_floordiv(double a, double b) {
  double mod = std::fmod(a, b), div = (a - mod) / b;
  if (mod != 0 && ((b < 0) != (mod < 0))) div -= 1.0;
  if (div == 0) return std::copysign(0.0, a / b);
  double f = std::floor(div);
  return div - f > 0.5 ? f + 1.0 : f;
}

// len(np.arange(start, stop, step)): ceil((stop - start) / step), at least 0.
int64_t arange_len(double start, double stop, double step) {
  double len = std::ceil((stop - start) / step);
  if (!(len > 0)) return 0;
  return len > 1e18 ? int64_t(1e18) : int64_t(len);
}

// np.arange(start, stop, step, dtype=int): numpy stores int(start) and int(start + step), then fills
// with their difference.
std::vector<int64_t> arange_int(double start, double stop, double step) {
  const int64_t len = arange_len(start, stop, step);
  const int64_t a0 = int64_t(start), delta = int64_t(start + step) - a0;
  std::vector<int64_t> r;
  for (int64_t i = 0; i < len; ++i) r.push_back(a0 + i * delta);
  return r;
}

// Element i of np.arange(start, stop, step) in float64: numpy fills start + i * ((start + step) - start).
double arange_at(double start, double step, int64_t i) {
  if (i == 0) return start;
  return start + double(i) * ((start + step) - start);
}

// The official code hands times to ffmpeg as Python's str(float); ffmpeg reads whole microseconds from
// that text, dropping further digits.
int64_t ffmpeg_micros(double seconds, const std::string& origin) {
  if (!(std::fabs(seconds) < 1e12)) fail(origin, "time out of range");
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, std::fabs(seconds), std::chars_format::fixed);
  std::string text(buf, res.ptr);
  size_t dot = text.find('.');
  int64_t whole = std::stoll(text.substr(0, dot)), frac = 0;
  std::string digits = dot == std::string::npos ? "" : text.substr(dot + 1, 6);
  digits.resize(6, '0');
  frac = std::stoll(digits);
  int64_t us = whole * 1000000 + frac;
  return seconds < 0 ? -us : us;
}

// ------------------------------------------------------------------ frames to keep
struct Pick {
  int64_t key;  // fps tick (ffmpeg path) or frame index (index path)
  double ts;
};

// The processor keeps, per video reference, the frames with start <= timestamp <= end, its defaults
// being 0 and infinity.
std::vector<Pick> time_window(std::vector<Pick> picks, const VideoOptions& opt) {
  const double lo = opt.start_time.value_or(0.0);
  const double hi = opt.end_time.value_or(std::numeric_limits<double>::infinity());
  picks.erase(std::remove_if(picks.begin(), picks.end(), [&](const Pick& p) { return !(lo <= p.ts && p.ts <= hi); }),
              picks.end());
  return picks;
}

// Receives decoded frames by key and fills every slot that wants them, converting and resizing each
// frame once, when it arrives.
class Collector {
 public:
  Collector(const std::vector<Pick>& picks, const VideoInfo& info, std::pair<int, int> size, std::string origin)
      : picks_(picks), info_(info), size_(size), origin_(std::move(origin)), conv_(origin_) {
    for (size_t i = 0; i < picks_.size(); ++i) slots_[picks_[i].key].push_back(i);
    frames_.resize(picks_.size());
    source_.assign(picks_.size(), -1);
  }

  bool wants(int64_t key) const { return slots_.count(key) != 0; }

  void put(int64_t key, int64_t source_index, Image rgb) {
    auto it = slots_.find(key);
    if (it == slots_.end()) return;
    if (rgb.width != info_.width || rgb.height != info_.height)
      fail(origin_, "decoded frame is " + std::to_string(rgb.width) + "x" + std::to_string(rgb.height) +
                        ", the stream said " + std::to_string(info_.width) + "x" + std::to_string(info_.height));
    if (size_.first != rgb.width || size_.second != rgb.height) rgb = resize_bicubic(rgb, size_.first, size_.second);
    for (size_t i : it->second) {
      frames_[i] = rgb;
      source_[i] = source_index;
    }
    slots_.erase(it);
  }

  void put(int64_t key, int64_t source_index, const AVFrame* frame) {
    if (wants(key)) put(key, source_index, conv_.convert(frame));
  }

  bool complete() const { return slots_.empty(); }

  VideoClip finish() {
    if (!complete()) fail(origin_, "the decoder delivered fewer frames than the stream announced");
    VideoClip clip;
    clip.info = info_;
    clip.info.num_frames = int(picks_.size());
    clip.frames = std::move(frames_);
    for (const Pick& p : picks_) clip.timestamps.push_back(p.ts);
    clip.source_frame_index = std::move(source_);
    return clip;
  }

 private:
  std::vector<Pick> picks_;
  VideoInfo info_;
  std::pair<int, int> size_;
  std::string origin_;
  RgbConverter conv_;
  std::unordered_map<int64_t, std::vector<size_t>> slots_;
  std::vector<Image> frames_;
  std::vector<int64_t> source_;
};

std::pair<int, int> ask_size(const SizeFn& choose_size, const VideoInfo& info, const std::string& origin) {
  std::pair<int, int> size = choose_size(info);
  if (size.first <= 0 || size.second <= 0) fail(origin, "choose_size returned an empty size");
  return size;
}

// ------------------------------------------------------------------ the ffmpeg path
// Output -ss/-t of the official precise mode: the CLI's trim filter after fps, and its -t check.
struct Trim {
  int64_t start_us, duration_us;
};

// The ticks the official ffmpeg command writes, in order. Besides the fps filter's span this follows
// the CLI's output side: the trim filter (start rounded to the nearest tick; the duration counted from
// the first kept tick and ignored when it rounds to zero ticks), constant-frame-rate sync (a first tick
// past the output's zero is written several times, with -ss as the zero) and -t (no frame written at or
// after it).
std::vector<int64_t> cli_ticks(TickSpan span, const FpsRate& rate, const std::optional<Trim>& trim,
                               int64_t max_outputs, const std::string& origin) {
  const AVRational us{1, AV_TIME_BASE}, tb{rate.tb_num, rate.tb_den};
  const int extra_bits = av_clip(29 - av_log2(unsigned(tb.den)), 0, 16);
  const AVRational tbx{tb.num, tb.den << extra_bits};
  const int64_t start_tick = trim ? av_rescale_q(trim->start_us, us, tb) : std::numeric_limits<int64_t>::min();
  const int64_t duration_ticks = trim ? av_rescale_q(trim->duration_us, us, tb) : 0;
  const int64_t start_x = trim ? av_rescale_q(trim->start_us, us, tbx) : 0;
  const double frame_duration = 1 / (av_q2d(AVRational{tb.den, tb.num}) * av_q2d(tb));
  // The filter emits every tick of the span, so a longer span exceeds the limit while decoding anyway.
  if (span.end > span.first && uint64_t(span.end) - uint64_t(span.first) > uint64_t(max_outputs))
    fail(origin, "more sampled frames than limits.max_outputs");
  std::vector<int64_t> out;
  int64_t sync = 0;
  const int64_t first_kept = std::max(span.first, start_tick);
  for (int64_t p = first_kept; p < span.end; ++p) {
    if (duration_ticks && p - first_kept >= duration_ticks) break;
    double fpts = (double(av_rescale_q(p, tb, tbx)) - double(start_x)) / double(int64_t(1) << extra_bits);
    fpts += (fpts > 0 ? 1 : -1) / double(1 << 17);  // FFSIGN: zero counts as negative
    double delta0 = fpts - double(sync), delta = delta0 + frame_duration;
    long copies = 1;
    if (delta < -1.1) copies = 0;
    else if (delta > double(max_outputs)) fail(origin, "more sampled frames than limits.max_outputs");
    else if (delta > 1.1) copies = std::lrintf(float(delta));
    for (long c = 0; c < copies; ++c) {
      if (trim && av_compare_ts(sync, tb, trim->duration_us, us) >= 0) return out;
      if (int64_t(out.size()) >= max_outputs) fail(origin, "more sampled frames than limits.max_outputs");
      out.push_back(p);
      ++sync;
    }
  }
  return out;
}

VideoClip load_with_ffmpeg(const Source& src, const VideoOptions& opt, const std::optional<double>& s,
                           const std::optional<double>& e, const SizeFn& choose_size, const Context& ctx) {
  const FpsRate rate = parse_fps(opt.fps, src.origin);
  const Survey sv = survey(src, ctx, &rate);
  if (!sv.duration) fail(src.origin, "the container reports no duration");
  // The official arithmetic on ffprobe's start_time/duration (a missing stream start counts as 0).
  double start = sv.stream_start.value_or(0.0), duration = *sv.duration;
  if (s) {
    double clamped = std::max(start, *s);
    duration -= clamped - *s;
    start = clamped;
  }
  if (e) duration = std::min(duration, *e - start);
  std::optional<Trim> trim;
  if (s || e) {
    trim = Trim{ffmpeg_micros(start, src.origin), ffmpeg_micros(duration, src.origin)};
    if (trim->duration_us <= 0) fail(src.origin, "the requested time window is empty");
  }
  const double step = 1 / opt.fps;
  const int64_t labels = arange_len(start, start + duration + step, step);

  auto plan = [&](TickSpan span) {
    std::vector<int64_t> ticks = cli_ticks(span, rate, trim, ctx.limits.max_outputs, src.origin);
    // The processor zips frames with timestamps, so frames beyond the timestamp range are dropped.
    const int64_t n = std::min<int64_t>(int64_t(ticks.size()), labels);
    std::vector<int64_t> idx;
    if (n > opt.max_frames) {
      idx = linspace_int(n, opt.max_frames);
    } else {
      for (int64_t i = 0; i < n; ++i) idx.push_back(i);
    }
    std::vector<Pick> picks;
    for (int64_t i : idx) picks.push_back({ticks[size_t(i)], arange_at(start, step, i)});
    return time_window(std::move(picks), opt);
  };
  auto same = [](const std::vector<Pick>& a, const std::vector<Pick>& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](const Pick& x, const Pick& y) {
             return x.key == y.key && x.ts == y.ts;
           });
  };

  std::vector<Pick> picks = plan(sv.span.value_or(TickSpan{}));
  if (picks.empty()) fail(src.origin, "no frames to sample (video shorter than 1/fps, or an empty window)");
  VideoInfo info;
  info.width = sv.width;
  info.height = sv.height;
  info.duration = *sv.duration;
  info.start_time = sv.stream_start.value_or(0.0);
  info.num_frames = int(picks.size());
  const std::pair<int, int> size = ask_size(choose_size, info, src.origin);

  auto run = [&](const std::vector<Pick>& p, TickSpan* actual) {
    auto c = std::make_unique<Collector>(p, info, size, src.origin);
    *actual = decode_fps(src, ctx, rate, [&](int64_t tick, int64_t index, const AVFrame* f) { c->put(tick, index, f); });
    return c;
  };
  TickSpan actual;
  std::unique_ptr<Collector> got = run(picks, &actual);
  if (!sv.span || !(actual == *sv.span)) {
    // The packet survey mispredicted the frames' timestamps (damaged or unusual timing): decode once
    // more, now knowing the filter's real output, so that the kept frames are exactly the official ones.
    std::vector<Pick> fixed = plan(actual);
    if (fixed.empty()) fail(src.origin, "no frames to sample");
    if (!same(fixed, picks)) {
      TickSpan again;
      got = run(fixed, &again);
      if (!(again == actual)) fail(src.origin, "decoding is not repeatable");
    }
  }
  return got->finish();
}

// ------------------------------------------------------------------ the index path
// load_video_from_ids: folders (3 fps assumed), ".gif" files (25 fps) and windows shorter than 1 s.
std::vector<Pick> index_picks(int64_t total, double vid_fps, std::optional<double> s, std::optional<double> e,
                              const VideoOptions& opt, const std::string& origin) {
  if (!(vid_fps > 0)) fail(origin, "unknown frame rate");
  if (s && e) {
    s = std::max(*s, 0.0);
    e = std::max(*e, 0.0);
    if (*s > *e) std::swap(s, e);
    else if (*s == *e) e = *s + 1;
  }
  auto trunc_index = [&](double x) {
    if (!(std::fabs(x) < 9e18)) fail(origin, "time out of range");
    return int64_t(x);
  };
  const int64_t f_start = s ? std::max<int64_t>(trunc_index(*s * vid_fps) - 1, 0) : 0;
  const int64_t f_end = e ? std::min<int64_t>(trunc_index(*e * vid_fps) - 1, total - 1) : total - 1;
  const int64_t count = std::max<int64_t>(f_end - f_start + 1, 0);
  std::vector<int64_t> idx;
  if (double(count) / vid_fps < opt.max_frames) {
    double seg = py_floordiv(vid_fps, opt.fps);
    if (double(count) < seg) seg = double(count);
    if (seg == 0) fail(origin, count == 0 ? "no frames in the requested window" : "fps above the frame rate");
    idx = arange_int(py_floordiv(seg, 2), double(count), seg);
  } else if (count <= opt.max_frames) {
    for (int64_t i = 0; i < count; ++i) idx.push_back(i);
  } else {
    idx = linspace_int(count, opt.max_frames);
  }
  std::vector<Pick> picks;
  for (int64_t i : idx) picks.push_back({f_start + i, double(f_start + i) / vid_fps});
  picks = time_window(std::move(picks), opt);
  if (picks.empty()) fail(origin, "no frames in the requested window");
  return picks;
}

VideoClip load_indexed(const Source& src, double vid_fps, const VideoOptions& opt, std::optional<double> s,
                       std::optional<double> e, const SizeFn& choose_size, const Context& ctx) {
  const Survey sv = survey(src, ctx, nullptr);
  const double fps = vid_fps > 0 ? vid_fps : sv.avg_fps;
  std::vector<Pick> picks = index_picks(sv.packets, fps, s, e, opt, src.origin);
  VideoInfo info;
  info.width = sv.width;
  info.height = sv.height;
  info.duration = sv.duration.value_or(double(sv.packets) / fps);
  info.start_time = sv.stream_start.value_or(0.0);
  info.num_frames = int(picks.size());
  Collector c(picks, info, ask_size(choose_size, info, src.origin), src.origin);
  decode_frames(src, ctx, picks.back().key,
                [&](int64_t index, int64_t, const AVFrame* f) { c.put(index, index, f); });
  return c.finish();
}

VideoClip load_folder(const std::string& dir, const VideoOptions& opt, std::optional<double> s,
                      std::optional<double> e, const SizeFn& choose_size) {
  // sorted(os.listdir(dir)): every entry, in code point order (= UTF-8 byte order).
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) names.push_back(entry.path().filename().string());
  if (ec) fail(dir, "cannot list the folder (" + ec.message() + ")");
  if (names.empty()) fail(dir, "empty folder");
  std::sort(names.begin(), names.end());
  std::vector<Pick> picks = index_picks(int64_t(names.size()), 3, s, e, opt, dir);

  std::optional<Collector> c;
  VideoInfo info;
  for (const Pick& p : picks) {
    Image img = load_image((fs::path(dir) / names[size_t(p.key)]).string());
    if (!c) {
      // The frame size is known once the first kept frame is decoded.
      info.width = img.width;
      info.height = img.height;
      info.duration = double(names.size()) / 3;
      info.num_frames = int(picks.size());
      c.emplace(picks, info, ask_size(choose_size, info, dir), dir);
    }
    c->put(p.key, p.key, std::move(img));
  }
  return c->finish();
}

Context make_context(const VideoOptions& opt, const std::string& origin) {
  if (opt.max_frames < 1) fail(origin, "max_frames must be at least 1");
  if (!(opt.fps > 0) || !std::isfinite(opt.fps)) fail(origin, "fps must be positive");
  for (const auto& t : {opt.start_time, opt.end_time})
    if (t && std::isnan(*t)) fail(origin, "start_time/end_time is NaN");
  Context ctx;
  ctx.limits = opt.limits;
  unsigned hw = std::thread::hardware_concurrency();
  ctx.threads = opt.threads > 0 ? opt.threads : int(std::clamp(hw, 1u, 8u));
  ctx.deadline = opt.limits.timeout_s > 0
                     ? std::chrono::steady_clock::now() +
                           std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                               std::chrono::duration<double>(std::min(opt.limits.timeout_s, 1e9)))
                     : std::chrono::steady_clock::time_point::max();
  return ctx;
}

// The processor passes start_time to the loader only when > 0 and end_time only when finite.
std::optional<double> loader_start(const VideoOptions& opt) {
  return opt.start_time && *opt.start_time > 0 ? opt.start_time : std::nullopt;
}
std::optional<double> loader_end(const VideoOptions& opt) {
  return opt.end_time && *opt.end_time < std::numeric_limits<double>::infinity() ? opt.end_time : std::nullopt;
}
bool short_window(const std::optional<double>& s, const std::optional<double>& e) { return s && e && *e - *s < 1; }

}  // namespace

VideoClip load_video(const std::string& source, const VideoOptions& opt, const SizeFn& choose_size) {
  const Context ctx = make_context(opt, source);
  const std::optional<double> s = loader_start(opt), e = loader_end(opt);
  std::error_code ec;
  if (fs::is_directory(source, ec)) return load_folder(source, opt, s, e, choose_size);
  if (!fs::exists(source, ec)) fail(source, "no such file");
  Source src{source, source, nullptr, 0};
  // The official test is a case-sensitive suffix match; "x.GIF" takes the ffmpeg path.
  const bool gif = source.size() >= 4 && source.compare(source.size() - 4, 4, ".gif") == 0;
  if (gif) return load_indexed(src, 25, opt, s, e, choose_size, ctx);
  if (short_window(s, e)) return load_indexed(src, 0, opt, s, e, choose_size, ctx);
  return load_with_ffmpeg(src, opt, s, e, choose_size, ctx);
}

VideoClip decode_video(const uint8_t* data, size_t size, const std::string& origin, const VideoOptions& opt,
                       const SizeFn& choose_size) {
  const Context ctx = make_context(opt, origin);
  const std::optional<double> s = loader_start(opt), e = loader_end(opt);
  Source src{origin, "", data, size};
  if (short_window(s, e)) return load_indexed(src, 0, opt, s, e, choose_size, ctx);
  return load_with_ffmpeg(src, opt, s, e, choose_size, ctx);
}

}  // namespace vl3
