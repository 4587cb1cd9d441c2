// Video loading (load_video / decode_video in include/vl3/media.h).
//
// Ground truth: the golden cases (frames, timestamps and source indices of the official loader, and
// through pixel_values the PIL-resized frames), and for self-made videos the official ffmpeg command
// itself, run here with the ffmpeg CLI: frames must equal its rgb24 output byte for byte. Expected
// indices and timestamps are worked out by hand from the official formulas (docs/video.md).
#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "test_util.h"
#include "vl3/error.h"
#include "vl3/media.h"
#include "vl3/safetensors.h"

namespace {

namespace fs = std::filesystem;
using vl3::Image;
using vl3::VideoClip;
using vl3::VideoInfo;
using vl3::VideoOptions;

bool have_ffmpeg() {
  static const bool ok = std::system("ffmpeg -version >/dev/null 2>&1 && ffprobe -version >/dev/null 2>&1") == 0;
  return ok;
}
#define REQUIRE_FFMPEG() \
  if (!have_ffmpeg()) GTEST_SKIP() << "the ffmpeg CLI is needed to make test videos"

// Runs the ffmpeg CLI quietly; paths in the tests have no spaces or quotes.
bool ffmpeg(const std::string& args) {
  const std::string cmd = "ffmpeg -nostdin -v fatal -y " + args + " </dev/null";
  const bool ok = std::system(cmd.c_str()) == 0;
  EXPECT_TRUE(ok) << cmd;
  return ok;
}

std::string capture(const std::string& cmd) {
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    pclose(p);
  }
  return out;
}

// Python's str(float), which the official code puts on ffmpeg's command line.
std::string py_str(double x) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::fixed);
  std::string s(buf, r.ptr);
  return s.find('.') == std::string::npos ? s + ".0" : s;
}

// The official command's rgb24 output, cut into frames.
std::vector<std::string> official_frames(const std::string& path, int width, int height, const std::string& fps = "1",
                                         const std::string& output_args = "") {
  const std::string out = path + ".official.rgb";
  ffmpeg("-i " + path + " -filter_complex '[0]fps=fps=" + fps + ":round=down[s0]' -map '[s0]' -f rawvideo -pix_fmt rgb24 " +
         output_args + " " + out);
  const std::string raw = vl3test::read_file(out);
  const size_t fb = size_t(width) * height * 3;
  std::vector<std::string> frames;
  for (size_t o = 0; o + fb <= raw.size(); o += fb) frames.push_back(raw.substr(o, fb));
  EXPECT_EQ(raw.size() % fb, 0u);
  return frames;
}

// Frame `index` of the full decode, as rgb24 through the same kind of graph.
std::string official_frame_at(const std::string& path, int64_t index) {
  const std::string out = path + ".at.rgb";
  ffmpeg("-i " + path + " -filter_complex '[0]select=eq(n\\," + std::to_string(index) +
         ")[s0]' -map '[s0]' -frames:v 1 -f rawvideo -pix_fmt rgb24 " + out);
  return vl3test::read_file(out);
}

std::string bytes(const Image& im) { return std::string(im.rgb.begin(), im.rgb.end()); }

struct Loaded {
  VideoClip clip;
  int calls = 0;
  VideoInfo info;
};

// load_video with choose_size keeping the native size (so frames are the decoded pixels).
Loaded load(const std::string& path, const VideoOptions& opt = {}) {
  Loaded r;
  r.clip = vl3::load_video(path, opt, [&](const VideoInfo& i) {
    ++r.calls;
    r.info = i;
    return std::make_pair(i.width, i.height);
  });
  EXPECT_EQ(r.calls, 1);
  EXPECT_EQ(r.clip.frames.size(), size_t(r.info.num_frames));
  EXPECT_EQ(r.clip.timestamps.size(), r.clip.frames.size());
  EXPECT_EQ(r.clip.source_frame_index.size(), r.clip.frames.size());
  return r;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const vl3::Error& e) {
    return e.what();
  }
  return "(no error)";
}

VideoClip load_sized(const std::string& path, const VideoOptions& opt, int w, int h) {
  return vl3::load_video(path, opt, [&](const VideoInfo&) { return std::make_pair(w, h); });
}

// A 64x48 testsrc2 clip (its content changes every frame).
std::string make_clip(const vl3test::TempDir& dir, const std::string& name, int rate, double seconds,
                      const std::string& extra = "-c:v libx264 -preset ultrafast -pix_fmt yuv420p") {
  const std::string path = dir.str(name);
  ffmpeg("-f lavfi -i testsrc2=size=64x48:rate=" + std::to_string(rate) + ":duration=" + py_str(seconds) + " " + extra +
         " " + path);
  return path;
}

// ------------------------------------------------------------------------------------- golden
struct GoldenVideo {
  std::string case_name;
  int item;
  std::string media;
  VideoOptions opt;
};

std::vector<GoldenVideo> golden_videos() {
  std::vector<GoldenVideo> out;
  for (const auto& dir : fs::directory_iterator(vl3test::golden_dir() + "/cases")) {
    std::ifstream f(dir.path() / "meta.json");
    if (!f) continue;
    const auto meta = nlohmann::json::parse(f);
    if (!meta.contains("video_load_args")) continue;
    for (const auto& [item, args] : meta["video_load_args"].items()) {
      GoldenVideo g{dir.path().filename().string(), std::stoi(item),
                    vl3test::golden_dir() + "/media/" + fs::path(args["video_path"].get<std::string>()).filename().string(),
                    {}};
      g.opt.fps = args.value("fps", 1.0);
      g.opt.max_frames = args.value("max_frames", 180);
      out.push_back(g);
    }
  }
  return out;
}

TEST(VideoGolden, FramesTimestampsAndIndicesMatchOfficial) {
  VL3_REQUIRE_GOLDEN();
  int checked = 0;
  for (const GoldenVideo& g : golden_videos()) {
    SCOPED_TRACE(g.case_name + " item " + std::to_string(g.item));
    auto st = vl3::SafetensorsFile::open(vl3test::golden_dir() + "/cases/" + g.case_name + "/inputs.safetensors");
    const std::string p = "item" + std::to_string(g.item) + "_";
    const vl3::TensorView* src = st->find(p + "source_u8");
    const vl3::TensorView* ts = st->find(p + "timestamps");
    const vl3::TensorView* idx = st->find(p + "source_frame_index");
    ASSERT_TRUE(src && ts && idx);
    const int64_t t = src->shape[0], h = src->shape[1], w = src->shape[2];

    const Loaded r = load(g.media, g.opt);
    EXPECT_EQ(r.info.width, w);
    EXPECT_EQ(r.info.height, h);
    EXPECT_EQ(r.info.num_frames, t);
    EXPECT_GT(r.info.duration, 0);
    ASSERT_EQ(int64_t(r.clip.frames.size()), t);
    const size_t fb = size_t(w * h * 3);
    for (int64_t i = 0; i < t; ++i) {
      EXPECT_EQ(bytes(r.clip.frames[size_t(i)]), std::string(reinterpret_cast<const char*>(src->data) + i * fb, fb))
          << "frame " << i;
      float want_ts;
      int64_t want_idx;
      std::memcpy(&want_ts, ts->data + i * 4, 4);
      std::memcpy(&want_idx, idx->data + i * 8, 8);
      EXPECT_EQ(float(r.clip.timestamps[size_t(i)]), want_ts) << "frame " << i;
      EXPECT_EQ(r.clip.source_frame_index[size_t(i)], want_idx) << "frame " << i;
    }
    ++checked;
  }
  EXPECT_GT(checked, 0) << "no video in the golden cases";
}

// Streaming resize: frames resized to the case's target while decoding equal the official PIL output,
// recovered from pixel_values (u8 = round((p + 1) * 127.5); rows ordered (t, by, bx, my, mx), each
// (channel, py, px) of a 14x14 patch).
TEST(VideoGolden, ResizedFramesMatchPixelValues) {
  VL3_REQUIRE_GOLDEN();
  int checked = 0;
  for (const GoldenVideo& g : golden_videos()) {
    SCOPED_TRACE(g.case_name);
    auto st = vl3::SafetensorsFile::open(vl3test::golden_dir() + "/cases/" + g.case_name + "/inputs.safetensors");
    const auto* grid = st->find("grid_sizes");
    const auto* merge = st->find("merge_sizes");
    const auto* pv = st->find("pixel_values");
    ASSERT_TRUE(grid && merge && pv);
    auto i64 = [](const vl3::TensorView* v, int64_t i) {
      int64_t x;
      std::memcpy(&x, v->data + i * 8, 8);
      return x;
    };
    int64_t row0 = 0;
    for (int64_t it = 0; it < g.item; ++it) row0 += i64(grid, it * 3) * i64(grid, it * 3 + 1) * i64(grid, it * 3 + 2);
    const int64_t t = i64(grid, g.item * 3), gh = i64(grid, g.item * 3 + 1), gw = i64(grid, g.item * 3 + 2);
    const int64_t m = i64(merge, g.item), H = gh * 14, W = gw * 14;
    const VideoClip clip = load_sized(g.media, g.opt, int(W), int(H));
    ASSERT_EQ(int64_t(clip.frames.size()), t);
    for (int64_t f = 0; f < t; ++f) {
      const Image& im = clip.frames[size_t(f)];
      ASSERT_EQ(im.width, W);
      ASSERT_EQ(im.height, H);
      int64_t mismatches = 0;
      for (int64_t y = 0; y < gh; ++y)
        for (int64_t x = 0; x < gw; ++x) {
          const int64_t row = row0 + f * gh * gw + (((y / m) * (gw / m) + x / m) * m + y % m) * m + x % m;
          for (int c = 0; c < 3; ++c)
            for (int py = 0; py < 14; ++py)
              for (int px = 0; px < 14; ++px) {
                float p;
                std::memcpy(&p, pv->data + (row * 588 + (c * 14 + py) * 14 + px) * 4, 4);
                const int want = int(std::lround((double(p) + 1) * 127.5));
                mismatches += im.rgb[size_t(((y * 14 + py) * W + x * 14 + px) * 3 + c)] != want;
              }
        }
      EXPECT_EQ(mismatches, 0) << "frame " << f;
    }
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

TEST(VideoGolden, MemoryInputEqualsFileInput) {
  VL3_REQUIRE_GOLDEN();
  const std::string path = vl3test::golden_dir() + "/media/video_160x120_8fps.mp4";
  const std::string data = vl3test::read_file(path);
  const Loaded f = load(path);
  const VideoClip m = vl3::decode_video(reinterpret_cast<const uint8_t*>(data.data()), data.size(), "mem", {},
                                        [](const VideoInfo& i) { return std::make_pair(i.width, i.height); });
  ASSERT_EQ(m.frames.size(), f.clip.frames.size());
  for (size_t i = 0; i < m.frames.size(); ++i) EXPECT_EQ(m.frames[i].rgb, f.clip.frames[i].rgb);
  EXPECT_EQ(m.timestamps, f.clip.timestamps);
  EXPECT_EQ(m.source_frame_index, f.clip.source_frame_index);
}

// ------------------------------------------------------------------------------- self-made videos
TEST(VideoSynthetic, StaticVideoGivesIdenticalFrames) {
  REQUIRE_FFMPEG();
  vl3test::TempDir dir;
  const std::string path = dir.str("static.mp4");
  ASSERT_TRUE(ffmpeg("-f lavfi -i color=c=0x3366cc:size=64x48:rate=10:duration=5 -c:v libx264 -pix_fmt yuv420p " + path));
  const Loaded r = load(path);
  ASSERT_EQ(r.clip.frames.size(), 5u);
  EXPECT_EQ(r.clip.timestamps, (std::vector<double>{0, 1, 2, 3, 4}));
  // The last source frame before each second ends: 10 fps -> 9, 19, ...
  EXPECT_EQ(r.clip.source_frame_index, (std::vector<int64_t>{9, 19, 29, 39, 49}));
  for (const Image& im : r.clip.frames) {
    EXPECT_EQ(im.rgb, r.clip.frames[0].rgb);
    EXPECT_NEAR(im.rgb[0], 0x33, 4);
    EXPECT_NEAR(im.rgb[1], 0x66, 4);
    EXPECT_NEAR(im.rgb[2], 0xcc, 4);
  }
  const auto want = official_frames(path, 64, 48);
  ASSERT_EQ(want.size(), 5u);
  EXPECT_EQ(bytes(r.clip.frames[0]), want[0]);
}

TEST(VideoSynthetic, MovingSquareMatchesOfficialCommand) {
  REQUIRE_FFMPEG();
  vl3test::TempDir dir;
  const std::string path = dir.str("square.mp4");
  ASSERT_TRUE(ffmpeg("-f lavfi -i 'color=c=black:size=96x64:rate=12:duration=6[bg];color=c=white:size=12x12:rate=12[fg];"
                     "[bg][fg]overlay=x=t*12:y=26:shortest=1' -c:v libx264 -pix_fmt yuv420p " + path));
  const Loaded r = load(path);
  ASSERT_EQ(r.clip.frames.size(), 6u);
  EXPECT_EQ(r.clip.source_frame_index, (std::vector<int64_t>{11, 23, 35, 47, 59, 71}));
  const auto want = official_frames(path, 96, 64);
  ASSERT_EQ(want.size(), 6u);
  double last_x = -1;
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(bytes(r.clip.frames[i]), want[i]) << "frame " << i;
    double sx = 0, n = 0;  // the square's centre moves right by 12 px per second
    for (int y = 0; y < 64; ++y)
      for (int x = 0; x < 96; ++x)
        if (r.clip.frames[i].rgb[size_t(y * 96 + x) * 3] > 128) sx += x, n += 1;
    ASSERT_GT(n, 0);
    EXPECT_NEAR(sx / n, 12.0 * (double(i) + 11.0 / 12.0) + 5.5, 1.5) << "frame " << i;
    EXPECT_GT(sx / n, last_x);
    last_x = sx / n;
  }
}

// Ten minutes: 600 sampled frames, reduced to floor(linspace(0, 599, 180)).
TEST(VideoSynthetic, TenMinuteVideoKeeps180Frames) {
  REQUIRE_FFMPEG();
  vl3test::TempDir dir;
  const std::string path = dir.str("long.mp4");
  ASSERT_TRUE(ffmpeg("-f lavfi -i testsrc2=size=32x32:rate=1:duration=600 -c:v libx264 -preset ultrafast " + path));
  const Loaded r = load(path);
  ASSERT_EQ(r.clip.frames.size(), 180u);
  const auto all = official_frames(path, 32, 32);
  ASSERT_EQ(all.size(), 600u);
  for (size_t i = 0; i < 180; ++i) {
    const int64_t k = i == 179 ? 599 : int64_t(double(i) * (599.0 / 179.0));
    EXPECT_EQ(r.clip.timestamps[i], double(k)) << i;
    EXPECT_EQ(r.clip.source_frame_index[i], k) << i;
    EXPECT_EQ(bytes(r.clip.frames[i]), all[size_t(k)]) << i;
  }
  EXPECT_EQ(r.clip.timestamps[1], 3.0);  // 599/179 = 3.35
  EXPECT_NE(r.clip.frames[0].rgb, r.clip.frames[1].rgb);
}

// start/end as the official precise mode: -ss/-t after the fps filter, with the official arithmetic
// on ffprobe's start_time and duration, then the processor's start <= t <= end window.
TEST(VideoSynthetic, TrimMatchesOfficialCommand) {
  REQUIRE_FFMPEG();
  vl3test::TempDir dir;
  const std::string path = make_clip(dir, "trim.mp4", 30, 10);
  const std::string probe =
      capture("ffprobe -v error -select_streams v:0 -show_entries format=duration:stream=start_time -of csv=p=0 " + path);
  double stream_start = 0, file_duration = 0;
  ASSERT_EQ(std::sscanf(probe.c_str(), "%lf %lf", &stream_start, &file_duration), 2) << probe;
  struct Case {
    std::optional<double> s, e;
    size_t n;  // worked out by hand from the rules in docs/video.md
  };
  const Case cases[] = {{1.0, 5.0, 4}, {2.5, std::nullopt, 8}, {2.4, 7.25, 5}, {std::nullopt, 3.2, 3}, {0.3, 9.9, 10}, {3.7, 5.5, 2}};
  for (const Case& c : cases) {
    SCOPED_TRACE("start " + (c.s ? py_str(*c.s) : "-") + " end " + (c.e ? py_str(*c.e) : "-"));
    double start = stream_start, duration = file_duration;
    if (c.s) {
      const double clamped = std::max(stream_start, *c.s);
      duration -= clamped - *c.s;
      start = clamped;
    }
    if (c.e) duration = std::min(duration, *c.e - start);
    const auto want = official_frames(path, 64, 48, "1", "-ss " + py_str(start) + " -t " + py_str(duration));
    VideoOptions opt;
    opt.start_time = c.s;
    opt.end_time = c.e;
    const Loaded r = load(path, opt);
    ASSERT_EQ(r.clip.frames.size(), c.n);
    ASSERT_GE(want.size(), c.n);
    for (size_t i = 0; i < c.n; ++i) {
      EXPECT_EQ(bytes(r.clip.frames[i]), want[i]) << "frame " << i;
      // np.arange(start, ..., 1.0) fills start + i * ((start + 1) - start).
      EXPECT_EQ(r.clip.timestamps[i], i ? start + double(i) * ((start + 1) - start) : start) << "frame " << i;
    }
  }
}

// The CLI writes the first frame again for every whole second its stream starts after the file's start.
TEST(VideoSynthetic, LateVideoStreamRepeatsFirstFrameAsOfficial) {
  REQUIRE_FFMPEG();
  vl3test::TempDir dir;
  const std::string path = dir.str("late.mkv");
  ASSERT_TRUE(ffmpeg("-f lavfi -i sine=duration=8 -itsoffset 1.5 -f lavfi -i testsrc2=size=64x48:rate=8:duration=5 "
                     "-map 0:a -map 1:v -c:a pcm_s16le -c:v libx264 -pix_fmt yuv420p " + path));
  const Loaded r = load(path);
  const auto want = official_frames(path, 64, 48);
  ASSERT_EQ(want.size(), 6u);
  ASSERT_EQ(r.clip.frames.size(), 6u);
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(bytes(r.clip.frames[i]), want[i]) << "frame " << i;
  EXPECT_EQ(r.clip.frames[0].rgb, r.clip.frames[1].rgb);
  // Frames 0-3 (1.503 s + k/8) all fall in second 1; the fps filter keeps the last of them.
  EXPECT_EQ(r.clip.source_frame_index[0], 3);
  EXPECT_EQ(r.clip.source_frame_index[1], 3);
  EXPECT_EQ(r.clip.source_frame_index[2], 11);
  EXPECT_NEAR(r.info.start_time, 1.5, 0.01);
  EXPECT_EQ(r.clip.timestamps[1], r.info.start_time + 1);
}

// A transport stream cut in the middle of a group of pictures: the decoder drops the frames before the
// next keyframe, so the packet timestamps mispredict the fps filter's first tick and the video is
// decoded a second time with the real span. The result must still be the official command's.
TEST(VideoSynthetic, StreamCutMidGopMatchesOfficialCommand) {
  REQUIRE_FFMPEG();
  vl3test::TempDir dir;
  const std::string full = make_clip(dir, "gop.ts", 25, 10,
                                     "-c:v libx264 -preset ultrafast -g 50 -bf 0 -x264-params repeat-headers=1 -f mpegts");
  const std::string data = vl3test::read_file(full);
  const std::string cut = dir.str("cut.ts");
  std::ofstream(cut, std::ios::binary) << data.substr(data.size() * 3 / 10 / 188 * 188);  // whole TS packets
  const Loaded r = load(cut);
  const auto want = official_frames(cut, 64, 48);
  ASSERT_EQ(r.clip.frames.size(), want.size());
  ASSERT_GE(want.size(), 5u);
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(bytes(r.clip.frames[i]), want[i]) << "frame " << i;
  // The first decodable frame (the next keyframe) comes more than a second after the file's start,
  // so the CLI writes it twice.
  EXPECT_EQ(r.clip.frames[0].rgb, r.clip.frames[1].rgb);
}

// Windows under a second take the frame-index path (decord in the official code) at the stream's
// average rate: 30 fps, 2.0-2.8 s -> frames 59..83 (25), fps 1: segment 25 -> frame 59 + 12.
TEST(VideoSynthetic, ShortWindowPicksSegmentCentres) {
  REQUIRE_FFMPEG();
  vl3test::TempDir dir;
  const std::string path = make_clip(dir, "short.mp4", 30, 10);
  VideoOptions opt;
  opt.start_time = 2.0;
  opt.end_time = 2.8;
  Loaded r = load(path, opt);
  EXPECT_EQ(r.clip.source_frame_index, (std::vector<int64_t>{71}));
  EXPECT_EQ(r.clip.timestamps, (std::vector<double>{71 / 30.0}));
  ASSERT_EQ(r.clip.frames.size(), 1u);
  EXPECT_EQ(bytes(r.clip.frames[0]), official_frame_at(path, 71));
  // fps 4: segment 30 // 4 = 7 -> arange(3, 25, 7) = 3, 10, 17, 24.
  opt.fps = 4;
  r = load(path, opt);
  EXPECT_EQ(r.clip.source_frame_index, (std::vector<int64_t>{62, 69, 76, 83}));
  EXPECT_EQ(r.clip.timestamps, (std::vector<double>{62 / 30.0, 69 / 30.0, 76 / 30.0, 83 / 30.0}));
  ASSERT_EQ(r.clip.frames.size(), 4u);
  EXPECT_EQ(bytes(r.clip.frames[3]), official_frame_at(path, 83));
}

// ".gif" files are read at an assumed 25 fps: 40 frames -> segment 25 -> frames 12 and 37. Any other
// spelling takes the ffmpeg path at the file's own rate.
TEST(VideoSynthetic, GifAssumes25Fps) {
  REQUIRE_FFMPEG();
  vl3test::TempDir dir;
  const std::string gif = make_clip(dir, "anim.gif", 10, 4, "-c:v gif");
  const Loaded r = load(gif);
  EXPECT_EQ(r.clip.source_frame_index, (std::vector<int64_t>{12, 37}));
  EXPECT_EQ(r.clip.timestamps, (std::vector<double>{12 / 25.0, 37 / 25.0}));
  ASSERT_EQ(r.clip.frames.size(), 2u);
  EXPECT_EQ(bytes(r.clip.frames[0]), official_frame_at(gif, 12));
  EXPECT_EQ(bytes(r.clip.frames[1]), official_frame_at(gif, 37));

  const std::string upper = dir.str("anim.GIF");
  fs::copy_file(gif, upper);
  const Loaded u = load(upper);
  const auto want = official_frames(upper, 64, 48);
  ASSERT_EQ(u.clip.frames.size(), 4u);
  ASSERT_EQ(want.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(bytes(u.clip.frames[i]), want[i]);
}

// Folders are read at an assumed 3 fps: 12 files -> segment 3 -> files 1, 4, 7, 10.
TEST(VideoFolder, PngFramesAtThreeFps) {
  REQUIRE_FFMPEG();
  vl3test::TempDir dir;
  fs::create_directory(dir.path / "frames");
  ASSERT_TRUE(ffmpeg("-f lavfi -i testsrc2=size=32x24:rate=3:duration=4 " + dir.str("frames/f%03d.png")));
  const Loaded r = load(dir.str("frames"));
  EXPECT_EQ(r.clip.source_frame_index, (std::vector<int64_t>{1, 4, 7, 10}));
  EXPECT_EQ(r.clip.timestamps, (std::vector<double>{1 / 3.0, 4 / 3.0, 7 / 3.0, 10 / 3.0}));
  EXPECT_EQ(r.info.width, 32);
  EXPECT_EQ(r.info.height, 24);
  ASSERT_EQ(r.clip.frames.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "frames/f%03d.png", int(r.clip.source_frame_index[i]) + 1);
    EXPECT_EQ(r.clip.frames[i].rgb, vl3::load_image(dir.str(name)).rgb) << name;
  }
}

// 600 files = 200 s at 3 fps, not under max_frames seconds: uniform floor(linspace(0, 599, 180)).
TEST(VideoFolder, LongFolderIsSampledUniformly) {
  REQUIRE_FFMPEG();
  vl3test::TempDir dir;
  fs::create_directory(dir.path / "frames");
  ASSERT_TRUE(ffmpeg("-f lavfi -i testsrc2=size=16x16:rate=3:duration=200 " + dir.str("frames/f%04d.png")));
  const Loaded r = load(dir.str("frames"));
  ASSERT_EQ(r.clip.frames.size(), 180u);
  for (size_t i = 0; i < 180; ++i) {
    const int64_t k = i == 179 ? 599 : int64_t(double(i) * (599.0 / 179.0));
    EXPECT_EQ(r.clip.source_frame_index[i], k);
    EXPECT_EQ(r.clip.timestamps[i], double(k) / 3);
  }
  EXPECT_EQ(r.clip.frames[179].rgb, vl3::load_image(dir.str("frames/f0600.png")).rgb);
}

// ------------------------------------------------------------------------------------- errors
TEST(VideoErrors, BadInputsNameTheFileAndTheProblem) {
  REQUIRE_FFMPEG();
  vl3test::TempDir dir;
  const std::string good = make_clip(dir, "good.mp4", 10, 3);
  const std::string good_bytes = vl3test::read_file(good);
  auto write = [&](const std::string& name, const std::string& data) {
    std::ofstream(dir.str(name), std::ios::binary) << data;
    return dir.str(name);
  };
  std::string noise(4096, '\0');
  uint32_t x = 12345;
  for (char& c : noise) c = char((x = x * 1664525u + 1013904223u) >> 24);
  const std::string audio = dir.str("audio.m4a");
  ASSERT_TRUE(ffmpeg("-f lavfi -i sine=duration=2 " + audio));
  const std::pair<std::string, std::string> cases[] = {
      {write("empty.mp4", ""), "empty file"},
      {write("truncated.mp4", good_bytes.substr(0, good_bytes.size() / 3)), "cannot open"},
      {write("noise.mp4", noise), "cannot open"},
      {audio, "no video stream"},
      {dir.str("missing.mp4"), "no such file"},
  };
  for (const auto& c : cases) {
    // (no structured binding: C++17 lambdas cannot capture one, and clang rejects it)
    const std::string& path = c.first;
    const std::string& problem = c.second;
    const std::string msg = error_of([&] { load_sized(path, {}, 8, 8); });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(problem), std::string::npos) << msg;
  }
  const std::string mem = error_of([&] {
    vl3::decode_video(reinterpret_cast<const uint8_t*>(noise.data()), noise.size(), "blob", {},
                      [](const VideoInfo&) { return std::make_pair(8, 8); });
  });
  EXPECT_NE(mem.find("video blob: cannot open"), std::string::npos) << mem;
}

// Damaged packets: decoding goes on as the CLI's does (same frames), or the file is rejected cleanly.
TEST(VideoErrors, DamagedPacketsDecodeAsTheCommandLine) {
  REQUIRE_FFMPEG();
  vl3test::TempDir dir;
  const std::string good = make_clip(dir, "good.mp4", 10, 4, "-c:v libx264 -pix_fmt yuv420p -movflags +faststart");
  std::string data = vl3test::read_file(good);
  for (size_t i = data.size() / 2; i < data.size(); i += 97) data[i] = char(data[i] ^ 0x5a);
  const std::string bad = dir.str("damaged.mp4");
  std::ofstream(bad, std::ios::binary) << data;
  try {
    const Loaded r = load(bad);
    const auto want = official_frames(bad, 64, 48);
    ASSERT_EQ(r.clip.frames.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(bytes(r.clip.frames[i]), want[i]) << i;
  } catch (const vl3::Error& e) {
    EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
  }
}

TEST(VideoErrors, LimitsAndArgumentsAreEnforced) {
  REQUIRE_FFMPEG();
  vl3test::TempDir dir;
  const std::string path = make_clip(dir, "clip.mp4", 10, 10);
  auto msg = [&](const VideoOptions& opt, int w = 8, int h = 8) { return error_of([&] { load_sized(path, opt, w, h); }); };
  VideoOptions o;
  o.limits.max_outputs = 3;
  EXPECT_NE(msg(o).find("limits.max_outputs"), std::string::npos);
  o = {};
  o.limits.max_pixels = 100;
  EXPECT_NE(msg(o).find("limits.max_pixels"), std::string::npos);
  o = {};
  o.limits.max_packets = 5;
  EXPECT_NE(msg(o).find("limits.max_packets"), std::string::npos);
  o = {};
  o.limits.timeout_s = 1e-9;
  EXPECT_NE(msg(o).find("timed out"), std::string::npos);
  o = {};
  o.fps = 0;
  EXPECT_NE(msg(o).find("fps"), std::string::npos);
  o = {};
  o.max_frames = 0;
  EXPECT_NE(msg(o).find("max_frames"), std::string::npos);
  EXPECT_NE(msg({}, 0, 5).find("choose_size"), std::string::npos);
  o = {};
  o.start_time = 20;  // after the end
  EXPECT_NE(msg(o).find("no frames"), std::string::npos);
}

}  // namespace
