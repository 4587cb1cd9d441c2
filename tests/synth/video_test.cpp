// vl3 synth videos: what write_mp4 writes decodes through vl3::load_video (1 fps, as the model samples) into
// the intended frames: one per second, timestamps 0, 1, ..., the event first visible in the frame labelled
// with its second, and identical frames over the static stretches.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "test_util.h"
#include "vl3/error.h"
#include "vl3/media.h"
#include "vl3/synth.h"

using namespace vl3::synth;

namespace {

vl3::VideoClip decode(const std::string& path) {
  vl3::VideoOptions o;
  o.fps = 1.0;
  return vl3::load_video(path, o, [](const vl3::VideoInfo& i) { return std::make_pair(i.width, i.height); });
}

vl3::VideoClip encode_and_decode(const VideoSpec& v, const std::string& path) {
  std::vector<vl3::Image> frames;
  for (int i = 0; i < video_frame_count(v); ++i) frames.push_back(render_video_frame(v, i));
  write_mp4(path, frames, v.fps);
  return decode(path);
}

// Mean absolute difference of the pixels of a small square around (x, y) from a colour.
double patch_diff(const vl3::Image& img, int x, int y, Rgb c) {
  double sum = 0;
  int n = 0;
  for (int dy = -2; dy <= 2; ++dy)
    for (int dx = -2; dx <= 2; ++dx) {
      const Rgb p = pixel(img, x + dx, y + dy);
      sum += std::abs(p.r - c.r) + std::abs(p.g - c.g) + std::abs(p.b - c.b);
      ++n;
    }
  return sum / (3.0 * n);
}

int max_abs_diff(const vl3::Image& a, const vl3::Image& b) {
  int m = 0;
  for (size_t i = 0; i < a.rgb.size(); ++i) m = std::max(m, std::abs(int(a.rgb[i]) - int(b.rgb[i])));
  return m;
}

VideoSpec base_spec(Event ev) {
  VideoSpec v;
  v.width = 168;
  v.height = 112;
  v.seconds = 6;
  v.fps = 4;
  v.bg.base = Colour::White;
  v.event = ev;
  v.t0 = 3;
  v.t1 = 5;
  v.actor.shape = Shape::Square;
  v.actor.colour = Colour::Red;
  v.actor.cell = 3;  // middle left
  v.actor.size = 24;
  cell_centre(v.width, v.height, v.actor.cell, &v.actor.cx, &v.actor.cy);
  ShapeItem s;
  s.shape = Shape::Circle;
  s.colour = Colour::Blue;
  s.cell = 2;
  s.size = 24;
  cell_centre(v.width, v.height, s.cell, &s.cx, &s.cy);
  v.statics.push_back(s);
  return v;
}

}  // namespace

TEST(SynthVideo, CodecIsAvailable) {
  const std::string c = video_codec();
  EXPECT_TRUE(c == "libx264" || c == "mpeg4") << c;
}

TEST(SynthVideo, AppearDecodesAtTheStatedSecond) {
  vl3test::TempDir tmp;
  const VideoSpec v = base_spec(Event::Appear);
  const vl3::VideoClip clip = encode_and_decode(v, tmp.str("appear.mp4"));
  ASSERT_EQ(clip.frames.size(), 6u);
  ASSERT_EQ(clip.timestamps.size(), 6u);
  for (size_t k = 0; k < 6; ++k) EXPECT_DOUBLE_EQ(clip.timestamps[k], double(k));
  EXPECT_EQ(clip.info.width, 168);
  EXPECT_EQ(clip.info.height, 112);
  const Rgb red = colour_rgb(Colour::Red), white = colour_rgb(Colour::White), blue = colour_rgb(Colour::Blue);
  for (int k = 0; k < 6; ++k) {
    const vl3::Image& f = clip.frames[size_t(k)];
    const bool shown = k >= v.t0;
    EXPECT_LT(patch_diff(f, v.actor.cx, v.actor.cy, shown ? red : white), 12) << "frame " << k;
    EXPECT_LT(patch_diff(f, v.statics[0].cx, v.statics[0].cy, blue), 12) << "frame " << k;
  }
  // Static stretches decode to identical frames (lossless H.264), so frame pruning can drop them.
  EXPECT_EQ(max_abs_diff(clip.frames[0], clip.frames[2]), 0);
  EXPECT_EQ(max_abs_diff(clip.frames[3], clip.frames[5]), 0);
  EXPECT_GT(max_abs_diff(clip.frames[2], clip.frames[3]), 100);
}

TEST(SynthVideo, DisappearAndColourChange) {
  vl3test::TempDir tmp;
  const Rgb red = colour_rgb(Colour::Red), white = colour_rgb(Colour::White), green = colour_rgb(Colour::Green);
  {
    const VideoSpec v = base_spec(Event::Disappear);
    const auto clip = encode_and_decode(v, tmp.str("gone.mp4"));
    ASSERT_EQ(clip.frames.size(), 6u);
    for (int k = 0; k < 6; ++k)
      EXPECT_LT(patch_diff(clip.frames[size_t(k)], v.actor.cx, v.actor.cy, k < v.t0 ? red : white), 12) << k;
  }
  {
    VideoSpec v = base_spec(Event::ColourChange);
    v.new_colour = Colour::Green;
    v.seconds = 5;
    v.t0 = 1;
    const auto clip = encode_and_decode(v, tmp.str("change.mp4"));
    ASSERT_EQ(clip.frames.size(), 5u);
    for (int k = 0; k < 5; ++k)
      EXPECT_LT(patch_diff(clip.frames[size_t(k)], v.actor.cx, v.actor.cy, k < v.t0 ? red : green), 12) << k;
  }
}

TEST(SynthVideo, MoveStartsAndStopsAtTheStatedSeconds) {
  vl3test::TempDir tmp;
  VideoSpec v = base_spec(Event::Move);
  v.seconds = 8;
  v.t0 = 2;
  v.t1 = 5;
  v.direction = Direction::Right;
  v.end_cell = 5;  // middle right
  cell_centre(v.width, v.height, v.end_cell, &v.end_cx, &v.end_cy);
  v.statics.clear();
  const auto clip = encode_and_decode(v, tmp.str("move.mp4"));
  ASSERT_EQ(clip.frames.size(), 8u);
  const Rgb red = colour_rgb(Colour::Red);
  // Still at the start up to the frame before t0, moving in t0..t1-1, at the end from t1 on.
  for (int k = 0; k < v.t0; ++k) {
    EXPECT_LT(patch_diff(clip.frames[size_t(k)], v.actor.cx, v.actor.cy, red), 12) << k;
    EXPECT_EQ(max_abs_diff(clip.frames[size_t(k)], clip.frames[0]), 0) << k;
  }
  for (int k = v.t0; k < v.t1; ++k) EXPECT_GT(max_abs_diff(clip.frames[size_t(k)], clip.frames[size_t(k - 1)]), 100) << k;
  for (int k = v.t1; k < 8; ++k) {
    EXPECT_LT(patch_diff(clip.frames[size_t(k)], v.end_cx, v.end_cy, red), 12) << k;
    EXPECT_EQ(max_abs_diff(clip.frames[size_t(k)], clip.frames[size_t(v.t1)]), 0) << k;
  }
  EXPECT_GT(patch_diff(clip.frames[size_t(v.t1 - 1)], v.end_cx + 11, v.end_cy, red), 60) << "not at the end before t1";
}

TEST(SynthVideo, EncodingIsDeterministic) {
  vl3test::TempDir tmp;
  const VideoSpec v = base_spec(Event::Appear);
  encode_and_decode(v, tmp.str("a.mp4"));
  encode_and_decode(v, tmp.str("b.mp4"));
  const std::string a = vl3test::read_file(tmp.str("a.mp4")), b = vl3test::read_file(tmp.str("b.mp4"));
  EXPECT_GT(a.size(), 100u);
  EXPECT_EQ(a, b);
}

TEST(SynthVideo, RejectsOddSizes) {
  vl3test::TempDir tmp;
  std::vector<vl3::Image> frames = {blank_image(33, 32, colour_rgb(Colour::White))};
  EXPECT_THROW(write_mp4(tmp.str("odd.mp4"), frames, 4), vl3::Error);
}
