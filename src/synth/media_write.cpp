// vl3 synth output files: PNG (libpng) and MP4 video (libavcodec/libavformat). Both are deterministic:
// no time chunk or creation time, fixed compression settings, a single-threaded encoder, bit-exact flags.
#include <png.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>

#include "vl3/error.h"
#include "vl3/synth.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
}

namespace vl3::synth {

// ------------------------------------------------------------------------------------------ PNG
namespace {

void png_append(png_structp png, png_bytep data, png_size_t size) {
  auto* out = static_cast<std::string*>(png_get_io_ptr(png));
  out->append(reinterpret_cast<const char*>(data), size);
}
void png_noflush(png_structp) {}
[[noreturn]] void png_fail(png_structp png, png_const_charp msg) {
  *static_cast<std::string*>(png_get_error_ptr(png)) = msg;
  png_longjmp(png, 1);
}
void png_nowarn(png_structp, png_const_charp) {}

}  // namespace

std::string encode_png(const Image& img) {
  if (img.width <= 0 || img.height <= 0 || img.rgb.size() != size_t(img.width) * size_t(img.height) * 3)
    throw Error("synth: encode_png: bad image");
  std::string out, err;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &err, png_fail, png_nowarn);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info) {
    png_destroy_write_struct(&png, nullptr);
    throw Error("synth: encode_png: out of memory");
  }
  std::vector<png_bytep> rows(size_t(img.height));
  for (int y = 0; y < img.height; ++y)
    rows[size_t(y)] = const_cast<png_bytep>(&img.rgb[size_t(y) * size_t(img.width) * 3]);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    throw Error("synth: encode_png: " + err);
  }
  png_set_write_fn(png, &out, png_append, png_noflush);
  png_set_IHDR(png, info, png_uint_32(img.width), png_uint_32(img.height), 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(png, 6);
  png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_ALL_FILTERS);
  png_write_info(png, info);
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

static void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), std::streamsize(bytes.size()));
  if (!f) throw Error(path + ": cannot write");
}

void write_png(const std::string& path, const Image& img) { write_bytes(path, encode_png(img)); }

// ------------------------------------------------------------------------------------------ MP4
std::string video_codec() {
  return avcodec_find_encoder_by_name("libx264") ? "libx264" : "mpeg4";
}

namespace {

std::string av_err(int e) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(e, buf, sizeof buf);
  return buf;
}

struct CodecCtxDel { void operator()(AVCodecContext* c) const { avcodec_free_context(&c); } };
struct FrameDel { void operator()(AVFrame* f) const { av_frame_free(&f); } };
struct PacketDel { void operator()(AVPacket* p) const { av_packet_free(&p); } };
struct FormatDel {
  void operator()(AVFormatContext* f) const {
    if (f->pb) avio_closep(&f->pb);
    avformat_free_context(f);
  }
};

// RGB8 -> yuv420p, BT.601 limited range (what FFmpeg assumes for untagged video), chroma from 2x2 averages.
void rgb_to_yuv420(const Image& img, AVFrame* f) {
  const int w = img.width, h = img.height;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const uint8_t* p = &img.rgb[(size_t(y) * size_t(w) + size_t(x)) * 3];
      f->data[0][y * f->linesize[0] + x] = uint8_t(((66 * p[0] + 129 * p[1] + 25 * p[2] + 128) >> 8) + 16);
    }
  for (int y = 0; y < h / 2; ++y)
    for (int x = 0; x < w / 2; ++x) {
      int r = 0, g = 0, b = 0;
      for (int dy = 0; dy < 2; ++dy)
        for (int dx = 0; dx < 2; ++dx) {
          const uint8_t* p = &img.rgb[(size_t(2 * y + dy) * size_t(w) + size_t(2 * x + dx)) * 3];
          r += p[0], g += p[1], b += p[2];
        }
      r = (r + 2) / 4, g = (g + 2) / 4, b = (b + 2) / 4;
      f->data[1][y * f->linesize[1] + x] = uint8_t(((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128);
      f->data[2][y * f->linesize[2] + x] = uint8_t(((112 * r - 94 * g - 18 * b + 128) >> 8) + 128);
    }
}

}  // namespace

void write_mp4(const std::string& path, const std::vector<Image>& frames, int fps) {
  if (frames.empty()) throw Error(path + ": no frames to encode");
  const int w = frames[0].width, h = frames[0].height;
  if (w % 2 || h % 2) throw Error(path + ": video frames must have even sizes");
  auto fail = [&](const std::string& what, int e) { throw Error(path + ": " + what + " (" + av_err(e) + ")"); };
  // The library never prints: x264 reports its settings and statistics through av_log at INFO level, which
  // FFmpeg's default callback would print. (vl3's video decoder installs its own silent callback.)
  static std::once_flag quiet;
  std::call_once(quiet, [] { av_log_set_level(AV_LOG_QUIET); });

  const AVCodec* codec = avcodec_find_encoder_by_name("libx264");
  const bool x264 = codec != nullptr;
  if (!codec) codec = avcodec_find_encoder(AV_CODEC_ID_MPEG4);
  if (!codec) throw Error(path + ": this FFmpeg has neither libx264 nor an MPEG-4 encoder");

  AVFormatContext* fmt_raw = nullptr;
  int e = avformat_alloc_output_context2(&fmt_raw, nullptr, "mp4", path.c_str());
  if (e < 0 || !fmt_raw) fail("cannot create an MP4 muxer", e);
  std::unique_ptr<AVFormatContext, FormatDel> fmt(fmt_raw);
  fmt->flags |= AVFMT_FLAG_BITEXACT;  // no encoder version string

  std::unique_ptr<AVCodecContext, CodecCtxDel> enc(avcodec_alloc_context3(codec));
  enc->width = w;
  enc->height = h;
  enc->pix_fmt = AV_PIX_FMT_YUV420P;
  enc->time_base = AVRational{1, fps};
  enc->framerate = AVRational{fps, 1};
  enc->gop_size = 10 * fps;
  enc->max_b_frames = 0;  // pts == dts, stream starts at 0 (no edit list)
  enc->thread_count = 1;  // deterministic output
  enc->flags |= AV_CODEC_FLAG_BITEXACT;
  if (fmt->oformat->flags & AVFMT_GLOBALHEADER) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  if (x264) {
    av_opt_set(enc->priv_data, "preset", "veryfast", 0);
    // Lossless (qp 0): static stretches decode to identical frames, colours stay exact up to 4:2:0. Lossy CRF
    // with mbtree gave slightly different bitstreams from run to run for the same input (x264 core 164, seen
    // with several encoders running in the process); mbtree stays off explicitly.
    av_opt_set(enc->priv_data, "qp", "0", 0);
    av_opt_set(enc->priv_data, "x264-params", "bframes=0:threads=1:lookahead-threads=1:sliced-threads=0:mbtree=0", 0);
  } else {
    enc->flags |= AV_CODEC_FLAG_QSCALE;
    enc->global_quality = FF_QP2LAMBDA * 2;
  }
  if ((e = avcodec_open2(enc.get(), codec, nullptr)) < 0) fail("cannot open the video encoder", e);

  AVStream* st = avformat_new_stream(fmt.get(), nullptr);
  if (!st) throw Error(path + ": cannot add a video stream");
  st->time_base = enc->time_base;
  if ((e = avcodec_parameters_from_context(st->codecpar, enc.get())) < 0) fail("codec parameters", e);
  if ((e = avio_open(&fmt->pb, path.c_str(), AVIO_FLAG_WRITE)) < 0) fail("cannot open for writing", e);
  if ((e = avformat_write_header(fmt.get(), nullptr)) < 0) fail("cannot write the MP4 header", e);

  std::unique_ptr<AVPacket, PacketDel> pkt(av_packet_alloc());
  auto drain = [&] {
    for (;;) {
      int r = avcodec_receive_packet(enc.get(), pkt.get());
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
      if (r < 0) fail("encoding failed", r);
      if (pkt->duration <= 0) pkt->duration = 1;  // one frame, in the encoder time base
      av_packet_rescale_ts(pkt.get(), enc->time_base, st->time_base);
      pkt->stream_index = st->index;
      if ((r = av_interleaved_write_frame(fmt.get(), pkt.get())) < 0) fail("cannot write a packet", r);
    }
  };

  std::unique_ptr<AVFrame, FrameDel> frame(av_frame_alloc());
  frame->format = AV_PIX_FMT_YUV420P;
  frame->width = w;
  frame->height = h;
  if ((e = av_frame_get_buffer(frame.get(), 0)) < 0) fail("cannot allocate a frame", e);
  for (size_t i = 0; i < frames.size(); ++i) {
    if (frames[i].width != w || frames[i].height != h) throw Error(path + ": frames change size");
    if ((e = av_frame_make_writable(frame.get())) < 0) fail("frame not writable", e);
    // Clear the whole planes, row padding included: the encoder may read past the width, and garbage there
    // would make the output differ from run to run.
    for (int p = 0; p < 3; ++p) std::memset(frame->data[p], 0, size_t(frame->linesize[p]) * size_t(p ? h / 2 : h));
    rgb_to_yuv420(frames[i], frame.get());
    frame->pts = int64_t(i);
    if ((e = avcodec_send_frame(enc.get(), frame.get())) < 0) fail("encoding failed", e);
    drain();
  }
  if ((e = avcodec_send_frame(enc.get(), nullptr)) < 0) fail("encoder flush failed", e);
  drain();
  if ((e = av_write_trailer(fmt.get())) < 0) fail("cannot finish the MP4 file", e);
}

}  // namespace vl3::synth
