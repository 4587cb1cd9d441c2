// FFmpeg side of load_video. The official loader runs
//   ffmpeg -i F -filter_complex [0]fps=fps=R:round=down[s0] -map [s0] -f rawvideo -pix_fmt rgb24 pipe:
// so every timestamp decision here copies what FFmpeg 5.1's command-line tool does before its frames
// reach that filter: packet timestamps shifted by -(file start time), the decoder's best-effort
// timestamp as frame pts, and an end-of-stream timestamp of "last frame pts + its duration" (which
// decides whether the fps filter emits a final tick), plus its automatic rotation filters.
#include "preprocess/video_ffmpeg.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <limits>
#include <mutex>
#include <vector>

#include "vl3/error.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/parseutils.h>
}

namespace vl3::video_detail {
namespace {

constexpr AVRational kMicro{1, AV_TIME_BASE};

// FFmpeg logs through one process-wide callback; ours prints nothing and keeps the last error line of
// the calling thread so that it can be quoted in the vl3::Error.
thread_local std::string t_last_log;

void log_callback(void*, int level, const char* fmt, va_list vl) {
  if (level > AV_LOG_ERROR) return;
  char line[512];
  int print_prefix = 0;
  av_log_format_line2(nullptr, level, fmt, vl, line, sizeof line, &print_prefix);
  std::string s(line);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  if (!s.empty()) t_last_log = s;
}

void install_log() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_callback(log_callback); });
  t_last_log.clear();
}

[[noreturn]] void fail(const std::string& origin, const std::string& what, int err = 0) {
  std::string msg = "video " + origin + ": " + what;
  if (err < 0) {
    char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
    av_strerror(err, buf, sizeof buf);
    msg += std::string(" (") + buf + ")";
  }
  if (!t_last_log.empty()) msg += " [ffmpeg: " + t_last_log + "]";
  t_last_log.clear();
  throw Error(msg);
}

void check_deadline(const Source& src, const Context& ctx) {
  if (std::chrono::steady_clock::now() > ctx.deadline) fail(src.origin, "timed out (limits.timeout_s)");
}

int interrupt_cb(void* opaque) {
  return std::chrono::steady_clock::now() > *static_cast<const std::chrono::steady_clock::time_point*>(opaque);
}

// Timestamps from damaged files can be anything: sums saturate instead of overflowing.
int64_t sat_add(int64_t a, int64_t b) {
  int64_t r;
  if (!__builtin_add_overflow(a, b, &r)) return r;
  return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
}

// ffprobe prints times with "%f" and the official code parses that text with float().
double ffprobe_seconds(int64_t ts, AVRational tb) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%f", double(ts) * av_q2d(tb));
  return std::strtod(buf, nullptr);
}

struct MemReader {
  const uint8_t* data;
  size_t size, pos;
};

int mem_read(void* opaque, uint8_t* buf, int n) {
  auto* m = static_cast<MemReader*>(opaque);
  size_t k = std::min(m->size - m->pos, size_t(std::max(n, 0)));
  if (k == 0) return AVERROR_EOF;
  std::memcpy(buf, m->data + m->pos, k);
  m->pos += k;
  return int(k);
}

int64_t mem_seek(void* opaque, int64_t offset, int whence) {
  auto* m = static_cast<MemReader*>(opaque);
  whence &= ~AVSEEK_FORCE;
  if (whence == AVSEEK_SIZE) return int64_t(m->size);
  int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? int64_t(m->pos) : int64_t(m->size);
  if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) return AVERROR(EINVAL);
  if (offset > int64_t(m->size) || offset < -int64_t(m->size)) return AVERROR(EINVAL);
  int64_t pos = base + offset;
  if (pos < 0 || pos > int64_t(m->size)) return AVERROR(EINVAL);
  m->pos = size_t(pos);
  return pos;
}

struct PacketDeleter { void operator()(AVPacket* p) const { av_packet_free(&p); } };
struct FrameDeleter { void operator()(AVFrame* f) const { av_frame_free(&f); } };
struct CodecDeleter { void operator()(AVCodecContext* c) const { avcodec_free_context(&c); } };
struct GraphDeleter { void operator()(AVFilterGraph* g) const { avfilter_graph_free(&g); } };
using PacketPtr = std::unique_ptr<AVPacket, PacketDeleter>;
using FramePtr = std::unique_ptr<AVFrame, FrameDeleter>;

struct Demuxer {
  AVFormatContext* fmt = nullptr;
  AVIOContext* avio = nullptr;
  MemReader mem{};
  AVStream* st = nullptr;
  int64_t ts_offset = 0;  // added to packet timestamps (stream time base), as the CLI does
  ~Demuxer() {
    avformat_close_input(&fmt);
    if (avio) {
      av_freep(&avio->buffer);
      avio_context_free(&avio);
    }
  }
};

int64_t max_pixels_option(const Context& ctx) {
  return std::clamp<int64_t>(ctx.limits.max_pixels, 1, std::numeric_limits<int>::max());
}

std::unique_ptr<Demuxer> open_demuxer(const Source& src, const Context& ctx) {
  install_log();
  auto d = std::make_unique<Demuxer>();
  d->fmt = avformat_alloc_context();
  if (!d->fmt) fail(src.origin, "out of memory");
  d->fmt->interrupt_callback.callback = interrupt_cb;
  d->fmt->interrupt_callback.opaque = const_cast<std::chrono::steady_clock::time_point*>(&ctx.deadline);
  AVDictionary* opts = nullptr;
  std::string url;
  std::error_code ec;
  if (src.path.empty() ? src.size == 0 : std::filesystem::file_size(src.path, ec) == 0 && !ec)
    fail(src.origin, "empty file");
  if (src.path.empty()) {
    d->mem = {src.data, src.size, 0};
    constexpr int kBuf = 1 << 16;
    auto* buf = static_cast<uint8_t*>(av_malloc(kBuf));
    d->avio = buf ? avio_alloc_context(buf, kBuf, 0, &d->mem, mem_read, nullptr, mem_seek) : nullptr;
    if (!d->avio) {
      av_free(buf);
      fail(src.origin, "out of memory");
    }
    d->fmt->pb = d->avio;
    d->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    // Bytes in memory must not make a playlist-style demuxer open other files.
    av_dict_set(&opts, "protocol_whitelist", "none", 0);
  } else {
    // "file:" keeps a ':' in the path from being read as a protocol; nothing but local files is opened.
    url = "file:" + src.path;
    av_dict_set(&opts, "protocol_whitelist", "file", 0);
  }
  int r = avformat_open_input(&d->fmt, url.c_str(), nullptr, &opts);
  av_dict_free(&opts);
  if (r < 0) {
    check_deadline(src, ctx);
    fail(src.origin, r == AVERROR(ENOENT) ? "no such file" : "cannot open as a video", r);
  }
  // Decoders opened while probing must not allocate frames over the pixel limit either.
  std::vector<AVDictionary*> stream_opts(d->fmt->nb_streams, nullptr);
  for (AVDictionary*& o : stream_opts) av_dict_set_int(&o, "max_pixels", max_pixels_option(ctx), 0);
  r = avformat_find_stream_info(d->fmt, stream_opts.data());
  for (AVDictionary*& o : stream_opts) av_dict_free(&o);
  check_deadline(src, ctx);
  if (r < 0) fail(src.origin, "cannot read stream information", r);
  for (unsigned i = 0; i < d->fmt->nb_streams; ++i) {
    AVStream* s = d->fmt->streams[i];
    // The first video stream, as ffprobe's stream list and the filter input "[0]" both pick.
    if (!d->st && s->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) d->st = s;
    else s->discard = AVDISCARD_ALL;
  }
  if (!d->st) fail(src.origin, "no video stream");
  if (d->fmt->start_time != AV_NOPTS_VALUE)
    d->ts_offset = av_rescale_q(-d->fmt->start_time, kMicro, d->st->time_base);
  return d;
}

// The CLI's autorotation (fftools configure_input_video_filter), as a filter chain ("" for none);
// `transposed` tells whether width and height swap.
std::string rotation_filters(const AVStream* st, bool* transposed) {
  *transposed = false;
  size_t size = 0;
  const auto* m = reinterpret_cast<const int32_t*>(av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size));
  if (!m || size < 9 * sizeof(int32_t)) return "";
  double theta = -std::round(av_display_rotation_get(m));
  theta -= 360 * std::floor(theta / 360 + 0.9 / 360);
  if (std::isnan(theta)) return "";
  if (std::fabs(theta - 90) < 1.0) {
    *transposed = true;
    return m[3] > 0 ? "transpose=cclock_flip" : "transpose=clock";
  }
  if (std::fabs(theta - 180) < 1.0) {
    std::string f;
    if (m[0] < 0) f = "hflip";
    if (m[4] < 0) f += f.empty() ? "vflip" : ",vflip";
    return f;
  }
  if (std::fabs(theta - 270) < 1.0) {
    *transposed = true;
    return m[3] < 0 ? "transpose=clock_flip" : "transpose=cclock";
  }
  if (std::fabs(theta) > 1.0) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "rotate=%f*PI/180", theta);
    return buf;
  }
  return std::fabs(theta) < 1.0 && m[4] < 0 ? "vflip" : "";
}

// The CLI's end-of-stream timestamp for the filter input: next_pts = last frame pts + its duration
// (microseconds), rounded back to the stream time base.
int64_t eof_pts(int64_t next_pts_us, AVRational tb) {
  return av_rescale_q_rnd(next_pts_us, kMicro, tb, AVRounding(AV_ROUND_NEAR_INF | AV_ROUND_PASS_MINMAX));
}

int64_t to_tick(int64_t pts, AVRational tb, const FpsRate& rate) {
  return av_rescale_q_rnd(pts, tb, AVRational{rate.tb_num, rate.tb_den},
                          AVRounding(AV_ROUND_DOWN | AV_ROUND_PASS_MINMAX));
}

// Microseconds one frame lasts when its packet carries no duration (the CLI uses the decoder's rate).
int64_t fallback_duration_us(AVRational framerate) {
  if (framerate.num <= 0 || framerate.den <= 0) return 0;
  return int64_t(AV_TIME_BASE) * framerate.den / framerate.num;
}

// A filter graph: buffer -> `chain` -> buffersink, configured from the first frame it is given.
struct Graph {
  std::unique_ptr<AVFilterGraph, GraphDeleter> graph;
  AVFilterContext* src = nullptr;
  AVFilterContext* sink = nullptr;
  int width = 0, height = 0, format = -1;
};

void build_graph(Graph& g, const AVFrame* f, AVRational tb, const std::string& chain, int threads,
                 const std::string& origin) {
  g.graph.reset(avfilter_graph_alloc());
  if (!g.graph) fail(origin, "out of memory");
  g.graph->nb_threads = threads;
  AVRational sar = f->sample_aspect_ratio.den ? f->sample_aspect_ratio : AVRational{0, 1};
  char args[256];
  std::snprintf(args, sizeof args, "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=%d/%d", f->width,
                f->height, f->format, tb.num, tb.den, sar.num, sar.den);
  int r = avfilter_graph_create_filter(&g.src, avfilter_get_by_name("buffer"), "in", args, nullptr, g.graph.get());
  if (r >= 0)
    r = avfilter_graph_create_filter(&g.sink, avfilter_get_by_name("buffersink"), "out", nullptr, nullptr,
                                     g.graph.get());
  if (r >= 0 && chain.empty()) r = avfilter_link(g.src, 0, g.sink, 0);
  if (r >= 0 && !chain.empty()) {
    AVFilterInOut* outputs = avfilter_inout_alloc();
    AVFilterInOut* inputs = avfilter_inout_alloc();
    if (!outputs || !inputs) {
      r = AVERROR(ENOMEM);
    } else {
      outputs->name = av_strdup("in");
      outputs->filter_ctx = g.src;
      inputs->name = av_strdup("out");
      inputs->filter_ctx = g.sink;
      r = avfilter_graph_parse_ptr(g.graph.get(), chain.c_str(), &inputs, &outputs, nullptr);
    }
    avfilter_inout_free(&inputs);
    avfilter_inout_free(&outputs);
  }
  if (r >= 0) r = avfilter_graph_config(g.graph.get(), nullptr);
  if (r < 0) fail(origin, "cannot set up the filter graph \"" + chain + "\"", r);
  g.width = f->width;
  g.height = f->height;
  g.format = f->format;
}

// Decodes the video stream of `d`, handing each frame (pts = the CLI's best-effort timestamp,
// opaque = 1 + its index in decoder output order) to `on_frame`, which returns false to stop.
// Returns the CLI's end-of-stream pts (stream time base).
int64_t decode_stream(Demuxer& d, const Source& src, const Context& ctx,
                      const std::function<bool(AVFrame*)>& on_frame) {
  const AVCodecParameters* par = d.st->codecpar;
  const AVCodec* codec = avcodec_find_decoder(par->codec_id);
  if (!codec) fail(src.origin, std::string("unsupported video codec ") + avcodec_get_name(par->codec_id));
  std::unique_ptr<AVCodecContext, CodecDeleter> dec(avcodec_alloc_context3(codec));
  if (!dec) fail(src.origin, "out of memory");
  int r = avcodec_parameters_to_context(dec.get(), par);
  if (r < 0) fail(src.origin, "bad codec parameters", r);
  dec->pkt_timebase = d.st->time_base;
  dec->framerate = d.st->avg_frame_rate;  // as the CLI sets it
  dec->thread_count = std::max(1, ctx.threads);
  dec->max_pixels = max_pixels_option(ctx);
  dec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
  r = avcodec_open2(dec.get(), codec, nullptr);
  if (r < 0) fail(src.origin, std::string("cannot open the ") + codec->name + " decoder", r);

  const AVRational tb = d.st->time_base;
  PacketPtr pkt(av_packet_alloc());
  FramePtr frame(av_frame_alloc());
  if (!pkt || !frame) fail(src.origin, "out of memory");
  int64_t packets = 0, index = 0, next_pts_us = 0;
  bool stop = false, flushing = false;
  while (!stop) {
    check_deadline(src, ctx);
    if (!flushing) {
      r = av_read_frame(d.fmt, pkt.get());
      if (r < 0) {
        check_deadline(src, ctx);
        flushing = true;  // end of file, or a read error: the CLI decodes what it got
        r = avcodec_send_packet(dec.get(), nullptr);
      } else if (pkt->stream_index != d.st->index) {
        av_packet_unref(pkt.get());
        continue;
      } else {
        if (++packets > ctx.limits.max_packets) fail(src.origin, "more video packets than limits.max_packets");
        if (pkt->pts != AV_NOPTS_VALUE) pkt->pts = sat_add(pkt->pts, d.ts_offset);
        if (pkt->dts != AV_NOPTS_VALUE) pkt->dts = sat_add(pkt->dts, d.ts_offset);
        r = avcodec_send_packet(dec.get(), pkt.get());  // a damaged packet is skipped, as the CLI does
        av_packet_unref(pkt.get());
      }
    }
    while (!stop) {
      r = avcodec_receive_frame(dec.get(), frame.get());
      if (r == AVERROR(EAGAIN) && flushing) return eof_pts(next_pts_us, tb);
      if (r == AVERROR(EAGAIN)) break;
      if (r == AVERROR_EOF) return eof_pts(next_pts_us, tb);
      if (r < 0) {
        if (flushing) return eof_pts(next_pts_us, tb);
        break;
      }
      if (int64_t(frame->width) * frame->height > ctx.limits.max_pixels)
        fail(src.origin, "frame larger than limits.max_pixels");
      const int64_t best = frame->best_effort_timestamp;
      frame->pts = best;
      if (best != AV_NOPTS_VALUE) next_pts_us = av_rescale_q(best, tb, kMicro);
      next_pts_us = sat_add(next_pts_us, frame->pkt_duration > 0 ? av_rescale_q(frame->pkt_duration, tb, kMicro)
                                                                 : fallback_duration_us(dec->framerate));
      frame->opaque = reinterpret_cast<void*>(intptr_t(++index));
      stop = !on_frame(frame.get());
      av_frame_unref(frame.get());
    }
  }
  return eof_pts(next_pts_us, tb);
}

// Runs frames through a graph built from the first one and passes what comes out to `out`.
class Chain {
 public:
  Chain(std::string filters, AVRational tb, const Source& src, const Context& ctx)
      : filters_(std::move(filters)), tb_(tb), src_(src), ctx_(ctx), out_(av_frame_alloc()) {
    if (!out_) fail(src.origin, "out of memory");
  }

  void push(AVFrame* f, const std::function<void(AVFrame*)>& out) {
    if (!g_.graph) build_graph(g_, f, tb_, filters_, ctx_.threads, src_.origin);
    // A mid-stream change of size or format would need the graph rebuilt (the CLI does, and its raw
    // output then no longer has one frame size); filters configured for the old size must not see it.
    if (f->width != g_.width || f->height != g_.height || f->format != g_.format)
      fail(src_.origin, "frame size or pixel format changes mid-stream");
    int r = av_buffersrc_add_frame_flags(g_.src, f, AV_BUFFERSRC_FLAG_KEEP_REF | AV_BUFFERSRC_FLAG_PUSH);
    if (r < 0) fail(src_.origin, "filter graph rejected a frame", r);
    drain(out);
  }

  void close(int64_t pts, const std::function<void(AVFrame*)>& out) {
    if (!g_.graph) return;  // no frame was decoded: the graph was never configured (the CLI emits nothing)
    int r = av_buffersrc_close(g_.src, pts, AV_BUFFERSRC_FLAG_PUSH);
    if (r < 0) fail(src_.origin, "cannot flush the filter graph", r);
    drain(out);
  }

 private:
  void drain(const std::function<void(AVFrame*)>& out) {
    for (;;) {
      int r = av_buffersink_get_frame(g_.sink, out_.get());
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
      if (r < 0) fail(src_.origin, "filter graph failed", r);
      out(out_.get());
      av_frame_unref(out_.get());
    }
  }

  std::string filters_;
  AVRational tb_;
  const Source& src_;
  const Context& ctx_;
  FramePtr out_;
  Graph g_;
};

int64_t source_index_of(const AVFrame* f) { return int64_t(reinterpret_cast<intptr_t>(f->opaque)) - 1; }

}  // namespace

FpsRate parse_fps(double fps, const std::string& origin) {
  // The official filter string holds Python's str(fps); %.17g round-trips the same double, and the fps
  // option parses the number into a rational exactly as it would that text.
  char text[64];
  std::snprintf(text, sizeof text, "%.17g", fps);
  AVRational q;
  if (av_parse_video_rate(&q, text) < 0 || q.num <= 0 || q.den <= 0)
    throw Error("video " + origin + ": unusable fps " + text);
  return FpsRate{text, q.den, q.num};
}

Survey survey(const Source& src, const Context& ctx, const FpsRate* rate) {
  auto d = open_demuxer(src, ctx);
  const AVStream* st = d->st;
  Survey s;
  if (d->fmt->duration != AV_NOPTS_VALUE) s.duration = ffprobe_seconds(d->fmt->duration, kMicro);
  if (st->start_time != AV_NOPTS_VALUE) s.stream_start = ffprobe_seconds(st->start_time, st->time_base);
  bool transposed;
  rotation_filters(st, &transposed);
  s.width = transposed ? st->codecpar->height : st->codecpar->width;
  s.height = transposed ? st->codecpar->width : st->codecpar->height;
  if (s.width <= 0 || s.height <= 0) fail(src.origin, "video stream has no frame size");
  if (int64_t(s.width) * s.height > ctx.limits.max_pixels) fail(src.origin, "frame larger than limits.max_pixels");
  AVRational fr = st->avg_frame_rate.num > 0 && st->avg_frame_rate.den > 0 ? st->avg_frame_rate : st->r_frame_rate;
  if (fr.num > 0 && fr.den > 0) s.avg_fps = av_q2d(fr);

  // Packet timestamps predict what the decoder will stamp its frames with (see decode_stream).
  PacketPtr pkt(av_packet_alloc());
  if (!pkt) fail(src.origin, "out of memory");
  int64_t first = AV_NOPTS_VALUE, last = AV_NOPTS_VALUE, last_duration = 0;
  for (;;) {
    check_deadline(src, ctx);
    int r = av_read_frame(d->fmt, pkt.get());
    if (r < 0) break;
    if (pkt->stream_index == st->index && !(pkt->flags & AV_PKT_FLAG_DISCARD)) {
      if (++s.packets > ctx.limits.max_packets) fail(src.origin, "more video packets than limits.max_packets");
      int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
      if (ts != AV_NOPTS_VALUE) {
        ts = sat_add(ts, d->ts_offset);
        if (first == AV_NOPTS_VALUE || ts < first) first = ts;
        if (last == AV_NOPTS_VALUE || ts >= last) {
          last = ts;
          last_duration = pkt->duration;
        }
      }
    }
    av_packet_unref(pkt.get());
  }
  check_deadline(src, ctx);
  if (rate && first != AV_NOPTS_VALUE) {
    int64_t next_us = sat_add(av_rescale_q(last, st->time_base, kMicro),
                              last_duration > 0 ? av_rescale_q(last_duration, st->time_base, kMicro)
                                                : fallback_duration_us(st->avg_frame_rate));
    s.span = TickSpan{to_tick(first, st->time_base, *rate), to_tick(eof_pts(next_us, st->time_base), st->time_base, *rate)};
  }
  return s;
}

TickSpan decode_fps(const Source& src, const Context& ctx, const FpsRate& rate, const FrameSink& sink) {
  auto d = open_demuxer(src, ctx);
  bool transposed;
  std::string filters = rotation_filters(d->st, &transposed);
  filters += (filters.empty() ? "" : ",") + std::string("fps=fps=") + rate.text + ":round=down";
  Chain chain(filters, d->st->time_base, src, ctx);
  TickSpan span;
  int64_t emitted = 0;
  auto out = [&](AVFrame* f) {
    if (++emitted > ctx.limits.max_outputs) fail(src.origin, "fps filter output exceeds limits.max_outputs");
    if (emitted == 1) span.first = f->pts;
    span.end = sat_add(f->pts, 1);
    sink(f->pts, source_index_of(f), f);
  };
  int64_t eof = decode_stream(*d, src, ctx, [&](AVFrame* f) {
    chain.push(f, out);
    return true;
  });
  chain.close(eof, out);
  return span;
}

int64_t decode_frames(const Source& src, const Context& ctx, int64_t last, const FrameSink& sink) {
  auto d = open_demuxer(src, ctx);
  bool transposed;
  std::string filters = rotation_filters(d->st, &transposed);
  Chain chain(filters.empty() ? "null" : filters, d->st->time_base, src, ctx);
  int64_t seen = 0;
  auto out = [&](AVFrame* f) {
    int64_t i = source_index_of(f);
    if (i <= last) sink(i, i, f);
  };
  int64_t eof = decode_stream(*d, src, ctx, [&](AVFrame* f) {
    seen = source_index_of(f) + 1;
    chain.push(f, out);
    return seen <= last;
  });
  chain.close(eof, out);
  return seen;
}

// ------------------------------------------------------------------------------------- rgb24
struct RgbConverter::State {
  Graph g;
  FramePtr out{av_frame_alloc()};
};

RgbConverter::RgbConverter(std::string origin) : origin_(std::move(origin)) {}
RgbConverter::~RgbConverter() { delete state_; }

Image RgbConverter::convert(const AVFrame* f) {
  if (!state_) {
    state_ = new State;
    if (!state_->out) fail(origin_, "out of memory");
  }
  Graph& g = state_->g;
  // A -filter_complex graph gets no sws_flags from the CLI, so its auto-inserted scale filter runs
  // with libavfilter's defaults: the same graph built here (threads do not change the bytes).
  if (!g.graph || f->width != g.width || f->height != g.height || f->format != g.format)
    build_graph(g, f, AVRational{1, 1}, "format=pix_fmts=rgb24", 1, origin_);
  FramePtr in(av_frame_clone(f));
  if (!in) fail(origin_, "out of memory");
  int r = av_buffersrc_add_frame(g.src, in.get());
  if (r >= 0) r = av_buffersink_get_frame(g.sink, state_->out.get());
  if (r < 0) fail(origin_, "rgb24 conversion failed", r);
  AVFrame* o = state_->out.get();
  Image img;
  img.width = o->width;
  img.height = o->height;
  img.rgb.resize(size_t(o->width) * o->height * 3);
  for (int y = 0; y < o->height; ++y)
    std::memcpy(img.rgb.data() + size_t(y) * o->width * 3, o->data[0] + ptrdiff_t(y) * o->linesize[0],
                size_t(o->width) * 3);
  av_frame_unref(o);
  return img;
}

}  // namespace vl3::video_detail
