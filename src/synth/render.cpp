// Rendering for vl3 synth: palette, filled shapes, the 5x7 bitmap font, backgrounds, and the scene, text,
// chart and video-frame renderers. Integer arithmetic only, so every machine draws the same pixels.
#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "rng.h"
#include "vl3/error.h"
#include "vl3/synth.h"

namespace vl3::synth {

// ------------------------------------------------------------------------------------------ palette
// Distinct colours: any two differ by >= 80 in some channel, and a colour differs from any other colour's
// background shade by >= 50, so shapes stand out from every texture. Grey (backgrounds only) is last.
Rgb colour_rgb(Colour c) {
  static const Rgb kRgb[kNumColours + 1] = {
      {220, 30, 30},   // red
      {30, 160, 60},   // green
      {40, 70, 220},   // blue
      {245, 215, 35},  // yellow
      {140, 60, 190},  // purple
      {245, 135, 25},  // orange
      {255, 255, 255}, // white
      {0, 0, 0},       // black
      {110, 110, 110}, // grey
  };
  return kRgb[int(c)];
}

const char* colour_name(Colour c) {
  static const char* kNames[kNumColours + 1] = {"red",    "green", "blue",  "yellow", "purple",
                                                "orange", "white", "black", "grey"};
  return kNames[int(c)];
}

const char* shape_name(Shape s) {
  static const char* kNames[kNumShapes] = {"circle", "square", "triangle"};
  return kNames[int(s)];
}

const char* direction_name(Direction d) {
  static const char* kNames[4] = {"left", "right", "up", "down"};
  return kNames[int(d)];
}

// ------------------------------------------------------------------------------------------ drawing
Image blank_image(int width, int height, Rgb fill) {
  if (width <= 0 || height <= 0) throw Error("synth: image size must be positive");
  Image img;
  img.width = width;
  img.height = height;
  img.rgb.resize(size_t(width) * size_t(height) * 3);
  for (size_t i = 0; i < img.rgb.size(); i += 3) {
    img.rgb[i] = fill.r;
    img.rgb[i + 1] = fill.g;
    img.rgb[i + 2] = fill.b;
  }
  return img;
}

Rgb pixel(const Image& img, int x, int y) {
  const uint8_t* p = &img.rgb[(size_t(y) * size_t(img.width) + size_t(x)) * 3];
  return {p[0], p[1], p[2]};
}

static inline void put(Image& img, int x, int y, Rgb c) {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
  uint8_t* p = &img.rgb[(size_t(y) * size_t(img.width) + size_t(x)) * 3];
  p[0] = c.r;
  p[1] = c.g;
  p[2] = c.b;
}

void fill_rect(Image& img, int x0, int y0, int x1, int y1, Rgb c) {
  x0 = std::max(x0, 0), y0 = std::max(y0, 0);
  x1 = std::min(x1, img.width), y1 = std::min(y1, img.height);
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) put(img, x, y, c);
}

// Coordinates are doubled so that pixel centres (x + 0.5) are integers: 2x + 1.
void draw_shape(Image& img, Shape s, int cx, int cy, int size, Rgb c) {
  const int x0 = cx - size / 2, y0 = cy - size / 2;  // the size x size box
  const int64_t mx = 2 * int64_t(x0) + size, my = 2 * int64_t(y0) + size;  // doubled box centre
  for (int y = y0; y < y0 + size; ++y)
    for (int x = x0; x < x0 + size; ++x) {
      const int64_t px = 2 * int64_t(x) + 1, py = 2 * int64_t(y) + 1;
      bool inside = true;
      if (s == Shape::Circle) {
        inside = (px - mx) * (px - mx) + (py - my) * (py - my) <= int64_t(size) * size;
      } else if (s == Shape::Triangle) {
        // Half-width at height (py - 2*y0)/2 below the apex is half of that: |px - mx| <= (py - 2*y0) / 2.
        inside = 2 * std::llabs(px - mx) <= py - 2 * int64_t(y0);
      }
      if (inside) put(img, x, y, c);
    }
}

// ------------------------------------------------------------------------------------------ font
namespace {

// 5x7 glyphs: 7 rows of 5 columns, '#' set.
struct GlyphDef {
  char ch;
  const char* rows;  // "r0 r1 r2 r3 r4 r5 r6"
};
const GlyphDef kFont[] = {
    {'A', ".###. #...# #...# ##### #...# #...# #...#"}, {'B', "####. #...# #...# ####. #...# #...# ####."},
    {'C', ".###. #...# #.... #.... #.... #...# .###."}, {'D', "####. #...# #...# #...# #...# #...# ####."},
    {'E', "##### #.... #.... ####. #.... #.... #####"}, {'F', "##### #.... #.... ####. #.... #.... #...."},
    {'G', ".###. #...# #.... #.### #...# #...# .####"}, {'H', "#...# #...# #...# ##### #...# #...# #...#"},
    {'I', ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###."}, {'J', "..### ...#. ...#. ...#. ...#. #..#. .##.."},
    {'K', "#...# #..#. #.#.. ##... #.#.. #..#. #...#"}, {'L', "#.... #.... #.... #.... #.... #.... #####"},
    {'M', "#...# ##.## #.#.# #.#.# #...# #...# #...#"}, {'N', "#...# #...# ##..# #.#.# #..## #...# #...#"},
    {'O', ".###. #...# #...# #...# #...# #...# .###."}, {'P', "####. #...# #...# ####. #.... #.... #...."},
    {'Q', ".###. #...# #...# #...# #.#.# #..#. .##.#"}, {'R', "####. #...# #...# ####. #.#.. #..#. #...#"},
    {'S', ".#### #.... #.... .###. ....# ....# ####."}, {'T', "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#.."},
    {'U', "#...# #...# #...# #...# #...# #...# .###."}, {'V', "#...# #...# #...# #...# #...# .#.#. ..#.."},
    {'W', "#...# #...# #...# #.#.# #.#.# #.#.# .#.#."}, {'X', "#...# #...# .#.#. ..#.. .#.#. #...# #...#"},
    {'Y', "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#.."}, {'Z', "##### ....# ...#. ..#.. .#... #.... #####"},
    {'0', ".###. #...# #..## #.#.# ##..# #...# .###."}, {'1', "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###."},
    {'2', ".###. #...# ....# ...#. ..#.. .#... #####"}, {'3', "##### ...#. ..#.. ...#. ....# #...# .###."},
    {'4', "...#. ..##. .#.#. #..#. ##### ...#. ...#."}, {'5', "##### #.... ####. ....# ....# #...# .###."},
    {'6', "..##. .#... #.... ####. #...# #...# .###."}, {'7', "##### ....# ...#. ..#.. .#... .#... .#..."},
    {'8', ".###. #...# #...# .###. #...# #...# .###."}, {'9', ".###. #...# #...# .#### ....# ...#. .##.."},
};

}  // namespace

bool glyph_rows(char ch, uint8_t rows[7]) {
  for (const GlyphDef& g : kFont) {
    if (g.ch != ch) continue;
    for (int r = 0; r < 7; ++r) {
      uint8_t bits = 0;
      for (int c = 0; c < 5; ++c) bits = uint8_t((bits << 1) | (g.rows[r * 6 + c] == '#' ? 1 : 0));
      rows[r] = bits;
    }
    return true;
  }
  return false;
}

int text_width(const std::string& text, int scale) {
  return text.empty() ? 0 : 6 * scale * int(text.size()) - scale;
}

void draw_text(Image& img, const std::string& text, int x, int y, int scale, Rgb c) {
  for (size_t i = 0; i < text.size(); ++i) {
    uint8_t rows[7];
    if (!glyph_rows(text[i], rows)) continue;
    const int gx = x + int(i) * 6 * scale;
    for (int r = 0; r < 7; ++r)
      for (int col = 0; col < 5; ++col)
        if (rows[r] & (0x10 >> col)) fill_rect(img, gx + col * scale, y + r * scale, gx + (col + 1) * scale, y + (r + 1) * scale, c);
  }
}

// ------------------------------------------------------------------------------------------ backgrounds
Rgb background_shade(Colour base) {
  const Rgb b = colour_rgb(base);
  auto move = [](uint8_t v) { return uint8_t(v > 127 ? v - 28 : v + 28); };
  return {move(b.r), move(b.g), move(b.b)};
}

void fill_background(Image& img, const Background& bg) {
  const Rgb a = colour_rgb(bg.base), b = background_shade(bg.base);
  const int p = std::max(bg.period, 1);
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      bool shade = false;
      switch (bg.texture) {
        case Texture::Plain: break;
        case Texture::Noise: shade = hash3(bg.seed, uint64_t(x / p), uint64_t(y / p)) & 1; break;
        case Texture::Stripes: {
          const int coord = bg.orientation == 0 ? y : bg.orientation == 1 ? x : x + y;
          shade = (coord / p) % 2 == 1;
          break;
        }
        case Texture::Checker: shade = ((x / p) + (y / p)) % 2 == 1; break;
      }
      put(img, x, y, shade ? b : a);
    }
}

std::string background_description(const Background& bg) {
  const std::string c = colour_name(bg.base);
  switch (bg.texture) {
    case Texture::Plain: return "plain " + c;
    case Texture::Noise: return c + " with noise";
    case Texture::Stripes: return c + " with stripes";
    case Texture::Checker: return c + " with a checker pattern";
  }
  return c;
}

std::string background_phrase(const Background& bg) {
  const std::string c = colour_name(bg.base);
  if (bg.texture == Texture::Plain) return "a plain " + c + " background";
  const std::string d = background_description(bg);  // "orange with noise"
  const bool vowel = c[0] == 'a' || c[0] == 'e' || c[0] == 'i' || c[0] == 'o' || c[0] == 'u';
  return (vowel ? "an " : "a ") + c + " background" + d.substr(c.size());
}

// ------------------------------------------------------------------------------------------ grid, scenes
const char* cell_name(int cell) {
  static const char* kNames[9] = {"top left",    "top middle", "top right",    "middle left", "center",
                                  "middle right", "bottom left", "bottom middle", "bottom right"};
  return kNames[cell];
}

void cell_centre(int width, int height, int cell, int* cx, int* cy) {
  *cx = (2 * (cell % 3) + 1) * width / 6;
  *cy = (2 * (cell / 3) + 1) * height / 6;
}

Image render_scene(const SceneSpec& s) {
  Image img = blank_image(s.width, s.height, colour_rgb(s.bg.base));
  fill_background(img, s.bg);
  for (const ShapeItem& it : s.shapes) draw_shape(img, it.shape, it.cx, it.cy, it.size, colour_rgb(it.colour));
  return img;
}

Image render_text(const TextSpec& t) {
  Image img = blank_image(t.width, t.height, colour_rgb(t.bg.base));
  fill_background(img, t.bg);
  draw_text(img, t.text, t.x, t.y, t.scale, colour_rgb(t.colour));
  return img;
}

// White background, light grey grid lines at every unit (1..kChartMaxValue), bars, a black axis, letters under the bars.
Image render_chart(const ChartSpec& c) {
  const Rgb white = colour_rgb(Colour::White), black = colour_rgb(Colour::Black), grid{215, 215, 215};
  Image img = blank_image(c.width, c.height, white);
  const int n = int(c.values.size());
  const int margin = 8;
  const int slot = (c.width - 2 * margin) / n;
  const int label_scale = std::max(1, std::min(slot / 12, c.height / 70));
  const int axis_y = c.height - (7 * label_scale + 10);
  const int unit = (axis_y - margin) / kChartMaxValue;
  for (int k = 1; k <= kChartMaxValue; ++k) fill_rect(img, margin, axis_y - k * unit, c.width - margin, axis_y - k * unit + 1, grid);
  const int bar_w = slot * 3 / 5;
  for (int i = 0; i < n; ++i) {
    const int x0 = margin + i * slot + (slot - bar_w) / 2;
    fill_rect(img, x0, axis_y - c.values[size_t(i)] * unit, x0 + bar_w, axis_y, colour_rgb(c.colours[size_t(i)]));
    const std::string label(1, char('A' + i));
    draw_text(img, label, x0 + (bar_w - text_width(label, label_scale)) / 2, axis_y + 6, label_scale, black);
  }
  fill_rect(img, margin, axis_y, c.width - margin, axis_y + 2, black);
  return img;
}

// ------------------------------------------------------------------------------------------ video frames
int video_frame_count(const VideoSpec& v) { return v.seconds * v.fps; }

Image render_video_frame(const VideoSpec& v, int frame) {
  Image img = blank_image(v.width, v.height, colour_rgb(v.bg.base));
  fill_background(img, v.bg);
  for (const ShapeItem& it : v.statics) draw_shape(img, it.shape, it.cx, it.cy, it.size, colour_rgb(it.colour));
  const int start = v.t0 * v.fps;  // first frame at or after t0
  ShapeItem a = v.actor;
  bool visible = true;
  switch (v.event) {
    case Event::Move: {
      const int span = (v.t1 - v.t0) * v.fps;
      const int done = std::clamp(frame - start, 0, span);
      a.cx = v.actor.cx + (v.end_cx - v.actor.cx) * done / span;
      a.cy = v.actor.cy + (v.end_cy - v.actor.cy) * done / span;
      break;
    }
    case Event::Appear: visible = frame >= start; break;
    case Event::Disappear: visible = frame < start; break;
    case Event::ColourChange:
      if (frame >= start) a.colour = v.new_colour;
      break;
  }
  if (visible) draw_shape(img, a.shape, a.cx, a.cy, a.size, colour_rgb(a.colour));
  return img;
}

}  // namespace vl3::synth
