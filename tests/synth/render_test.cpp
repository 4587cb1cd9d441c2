// vl3 synth rendering: palette, shapes at grid cells, the bitmap font, textures, PNG round trip.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "vl3/media.h"
#include "vl3/synth.h"

using namespace vl3::synth;

namespace {

int max_channel_diff(Rgb a, Rgb b) {
  return std::max({std::abs(a.r - b.r), std::abs(a.g - b.g), std::abs(a.b - b.b)});
}
bool same(Rgb a, Rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; }

int count_colour(const vl3::Image& img, Rgb c) {
  int n = 0;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) n += same(pixel(img, x, y), c);
  return n;
}

}  // namespace

TEST(SynthRender, PaletteIsDistinctFromColoursAndTextures) {
  for (int a = 0; a < kNumColours; ++a)
    for (int b = 0; b <= kNumColours; ++b) {  // b: every object colour and Grey, the scene background
      if (a == b) continue;
      EXPECT_GE(max_channel_diff(colour_rgb(Colour(a)), colour_rgb(Colour(b))), 80) << colour_name(Colour(a)) << " " << colour_name(Colour(b));
      // A shape (colour a) on a textured background of base b stands out from both tones.
      EXPECT_GE(max_channel_diff(colour_rgb(Colour(a)), background_shade(Colour(b))), 50) << colour_name(Colour(a));
    }
}

TEST(SynthRender, RedCircleAtGridCell) {
  SceneSpec s;
  s.width = 168;
  s.height = 112;
  s.bg.base = Colour::White;
  ShapeItem c;
  c.shape = Shape::Circle;
  c.colour = Colour::Red;
  c.cell = 0;  // top left
  cell_centre(s.width, s.height, c.cell, &c.cx, &c.cy);
  c.size = 24;
  s.shapes.push_back(c);
  const vl3::Image img = render_scene(s);
  const Rgb red = colour_rgb(Colour::Red), white = colour_rgb(Colour::White);
  EXPECT_EQ(c.cx, 28);
  EXPECT_EQ(c.cy, 18);
  EXPECT_TRUE(same(pixel(img, c.cx, c.cy), red));
  EXPECT_TRUE(same(pixel(img, c.cx - 11, c.cy), red));
  EXPECT_TRUE(same(pixel(img, c.cx + 11, c.cy), red));
  // The corners of its box are outside the disc; every other cell is background.
  EXPECT_TRUE(same(pixel(img, c.cx - 12, c.cy - 12), white));
  EXPECT_TRUE(same(pixel(img, c.cx + 11, c.cy + 11), white));
  for (int cell = 1; cell < 9; ++cell) {
    int x, y;
    cell_centre(s.width, s.height, cell, &x, &y);
    EXPECT_TRUE(same(pixel(img, x, y), white)) << cell_name(cell);
  }
  // Area close to pi r^2 (r = 12): 452.
  EXPECT_NEAR(count_colour(img, red), 452, 20);
  EXPECT_EQ(count_colour(img, red) + count_colour(img, white), s.width * s.height);
}

TEST(SynthRender, SquareAndTriangle) {
  vl3::Image img = blank_image(64, 64, colour_rgb(Colour::Black));
  draw_shape(img, Shape::Square, 16, 16, 10, colour_rgb(Colour::Blue));
  EXPECT_EQ(count_colour(img, colour_rgb(Colour::Blue)), 100);
  draw_shape(img, Shape::Triangle, 44, 44, 20, colour_rgb(Colour::Green));
  const int tri = count_colour(img, colour_rgb(Colour::Green));
  EXPECT_NEAR(tri, 200, 20);  // half its box
  // Narrow at the top, wide at the bottom.
  int top = 0, bottom = 0;
  for (int x = 0; x < 64; ++x) {
    top += same(pixel(img, x, 44 - 10 + 2), colour_rgb(Colour::Green));
    bottom += same(pixel(img, x, 44 + 9), colour_rgb(Colour::Green));
  }
  EXPECT_LT(top, 5);
  EXPECT_GE(bottom, 18);
}

TEST(SynthRender, GlyphsExistAndDiffer) {
  const std::string chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::set<std::vector<uint8_t>> seen;
  for (char ch : chars) {
    uint8_t rows[7];
    ASSERT_TRUE(glyph_rows(ch, rows)) << ch;
    int bits = 0;
    for (uint8_t r : rows) {
      bits += __builtin_popcount(r);
      EXPECT_LT(r, 32);
    }
    EXPECT_GE(bits, 7) << ch;
    EXPECT_TRUE(rows[0] && rows[6]) << ch << ": glyphs span the 7 rows";
    EXPECT_TRUE(seen.insert(std::vector<uint8_t>(rows, rows + 7)).second) << ch << " repeats a glyph";
  }
  uint8_t rows[7];
  EXPECT_FALSE(glyph_rows('a', rows));
  EXPECT_FALSE(glyph_rows(' ', rows));
}

TEST(SynthRender, DigitsRenderDifferently) {
  const Rgb black = colour_rgb(Colour::Black), white = colour_rgb(Colour::White);
  std::set<std::vector<uint8_t>> images;
  for (char d = '0'; d <= '9'; ++d) {
    vl3::Image img = blank_image(40, 40, white);
    draw_text(img, std::string(1, d), 5, 5, 3, black);
    uint8_t rows[7];
    ASSERT_TRUE(glyph_rows(d, rows));
    int bits = 0;
    for (uint8_t r : rows) bits += __builtin_popcount(r);
    EXPECT_EQ(count_colour(img, black), bits * 9) << d;  // every font pixel is a 3x3 block
    EXPECT_TRUE(images.insert(img.rgb).second) << d;
  }
  EXPECT_EQ(text_width("42", 3), 33);
  EXPECT_EQ(text_width("", 3), 0);
}

TEST(SynthRender, TexturesUseTwoTones) {
  for (int t = 0; t < 4; ++t) {
    Background bg;
    bg.base = Colour::Yellow;
    bg.texture = Texture(t);
    bg.period = 4;
    bg.orientation = 2;
    bg.seed = 7;
    vl3::Image img = blank_image(56, 56, colour_rgb(Colour::Red));
    fill_background(img, bg);
    const int base = count_colour(img, colour_rgb(Colour::Yellow)), shade = count_colour(img, background_shade(Colour::Yellow));
    EXPECT_EQ(base + shade, 56 * 56) << t;
    if (bg.texture == Texture::Plain) EXPECT_EQ(shade, 0);
    else EXPECT_GT(shade, 56 * 56 / 5) << t;
  }
  Background bg;
  EXPECT_EQ(background_phrase(bg), "a plain white background");
  bg.base = Colour::Grey;
  EXPECT_EQ(background_phrase(bg), "a plain grey background");
  bg.base = Colour::White;
  bg.texture = Texture::Checker;
  bg.base = Colour::Blue;
  EXPECT_EQ(background_phrase(bg), "a blue background with a checker pattern");
  bg.base = Colour::Orange;
  bg.texture = Texture::Noise;
  EXPECT_EQ(background_phrase(bg), "an orange background with noise");
  EXPECT_EQ(background_description(bg), "orange with noise");
}

TEST(SynthRender, PngRoundTripAndDeterminism) {
  SceneSpec s;
  s.width = 84;
  s.height = 56;
  s.bg = {Colour::Black, Texture::Noise, 2, 0, 42};
  ShapeItem t;
  t.shape = Shape::Triangle;
  t.colour = Colour::Orange;
  t.cell = 4;
  cell_centre(s.width, s.height, 4, &t.cx, &t.cy);
  t.size = 14;
  s.shapes.push_back(t);
  const vl3::Image img = render_scene(s);
  const std::string png = encode_png(img);
  EXPECT_EQ(png, encode_png(render_scene(s)));
  const vl3::Image back = vl3::decode_image(reinterpret_cast<const uint8_t*>(png.data()), png.size(), "test.png");
  EXPECT_EQ(back.width, 84);
  EXPECT_EQ(back.height, 56);
  EXPECT_EQ(back.rgb, img.rgb);
}

TEST(SynthRender, CellNames) {
  EXPECT_STREQ(cell_name(0), "top left");
  EXPECT_STREQ(cell_name(4), "center");
  EXPECT_STREQ(cell_name(8), "bottom right");
  int x, y;
  cell_centre(300, 150, 5, &x, &y);
  EXPECT_EQ(x, 250);
  EXPECT_EQ(y, 75);
}
