// Random specs of the synthetic world: scenes, text images, bar charts, one-event videos. Every draw comes
// from the item's own Rng, so an item depends only on (seed, stream, index).
#include <algorithm>
#include <cstdlib>

#include "world.h"

namespace vl3::synth {

namespace {

Colour random_colour_except(Rng& r, const std::vector<Colour>& avoid) {
  std::vector<Colour> ok;
  for (int c = 0; c < kNumColours; ++c)
    if (std::find(avoid.begin(), avoid.end(), Colour(c)) == avoid.end()) ok.push_back(Colour(c));
  return r.pick(ok);
}

int contrast(Rgb a, Rgb b) { return std::abs(a.r - b.r) + std::abs(a.g - b.g) + std::abs(a.b - b.b); }

// Places `item` in its cell: centred, moved by up to `jitter` pixels on each axis.
void place(ShapeItem& item, int w, int h, int jitter, Rng& r) {
  cell_centre(w, h, item.cell, &item.cx, &item.cy);
  if (jitter > 0) {
    item.cx += r.range(-jitter, jitter);
    item.cy += r.range(-jitter, jitter);
  }
}

}  // namespace

uint64_t image_hash(const Image& img, uint64_t h) {
  auto mix = [&h](uint64_t v) {
    for (int i = 0; i < 8; ++i) h = (h ^ ((v >> (8 * i)) & 0xff)) * 0x100000001b3ull;
  };
  mix(uint64_t(img.width));
  mix(uint64_t(img.height));
  for (uint8_t b : img.rgb) h = (h ^ b) * 0x100000001b3ull;
  return h;
}

Background random_background(Rng& r, Colour base, int plain_percent) {
  Background bg;
  bg.base = base;
  if (!r.chance(plain_percent)) {
    bg.texture = Texture(r.range(1, 3));
    bg.period = bg.texture == Texture::Noise ? r.range(2, 4) : r.range(4, 10);
    bg.orientation = r.range(0, 2);
    bg.seed = r.next();
  }
  return bg;
}

// 1-5 shapes in distinct cells of the 3x3 grid, each 65-90 % of its 28-pixel cell and moved at most so far
// that it stays inside the cell (so inside one visual token of the small model).
SceneSpec random_scene(Rng& r) {
  SceneSpec s;
  s.width = s.height = kSceneSide;
  s.bg = random_background(r, Colour::Grey);
  const int n = r.range(1, 5);
  std::vector<int> cells = {0, 1, 2, 3, 4, 5, 6, 7, 8};
  r.shuffle(cells);
  cells.resize(size_t(n));
  std::sort(cells.begin(), cells.end());  // shapes listed in reading order
  const int cell_side = kSceneSide / 3;
  for (int cell : cells) {
    ShapeItem it;
    // A (shape, colour) pair not used yet.
    for (;;) {
      it.shape = Shape(r.range(0, kNumShapes - 1));
      it.colour = Colour(r.range(0, kNumColours - 1));
      bool used = false;
      for (const auto& o : s.shapes) used |= o.shape == it.shape && o.colour == it.colour;
      if (!used) break;
    }
    it.cell = cell;
    it.size = cell_side * r.range(65, 90) / 100;
    place(it, s.width, s.height, std::max(0, (cell_side - it.size) / 2 - 1), r);
    s.shapes.push_back(it);
  }
  return s;
}

// A word (3-5 letters) or a 1-2 digit number on a white or grey background, 4 to 5 pixels per font pixel.
TextSpec random_text(Rng& r) {
  static const std::vector<std::string> kWords = {
      "CAT",  "DOG",  "SUN",  "SKY",  "BOX",  "CAR",  "BUS",  "HAT",   "CUP",   "PEN",   "MAP",   "KEY",
      "BED",  "EGG",  "FISH", "BIRD", "TREE", "STAR", "MOON", "SHIP",  "BOOK",  "CAKE",  "DOOR",  "LAMP",
      "RAIN", "SNOW", "LEAF", "FROG", "BALL", "KITE", "APPLE", "HOUSE", "TRAIN", "CLOCK", "HORSE", "WATER"};
  TextSpec t;
  t.number = r.chance(40);
  if (t.number) {
    const int digits = r.range(1, 2);
    t.text = std::to_string(r.range(digits == 1 ? 0 : 1, 9));
    for (int i = 1; i < digits; ++i) t.text += char('0' + r.range(0, 9));
  } else {
    t.text = r.pick(kWords);
  }
  t.bg = random_background(r, r.chance(50) ? Colour::White : Colour::Grey, 70);
  // Text is thin: its colour must contrast with both tones of the background.
  do t.colour = random_colour_except(r, {t.bg.base});
  while (contrast(colour_rgb(t.colour), colour_rgb(t.bg.base)) < 150 ||
         contrast(colour_rgb(t.colour), background_shade(t.bg.base)) < 120);
  const int n = int(t.text.size());
  t.width = kTextWidth;
  t.height = kTextHeight;
  const int max_scale = std::min({(t.width - 8) / (6 * n - 1), (t.height - 8) / 7, 5});
  t.scale = r.range(std::min(4, max_scale), max_scale);
  const int tw = text_width(t.text, t.scale), th = 7 * t.scale;
  t.x = r.range(4, t.width - 4 - tw);
  t.y = r.range(4, t.height - 4 - th);
  return t;
}

ChartSpec random_chart(Rng& r) {
  ChartSpec c;
  c.width = c.height = kChartSide;
  const int n = r.range(3, 5);
  // Values 1..kChartMaxValue with a unique highest and a unique lowest bar.
  for (;;) {
    c.values.assign(size_t(n), 0);
    for (auto& v : c.values) v = r.range(1, kChartMaxValue);
    const int hi = *std::max_element(c.values.begin(), c.values.end());
    const int lo = *std::min_element(c.values.begin(), c.values.end());
    if (std::count(c.values.begin(), c.values.end(), hi) == 1 && std::count(c.values.begin(), c.values.end(), lo) == 1) break;
  }
  const bool one_colour = r.chance(50);
  const Colour first = random_colour_except(r, {Colour::White});
  for (int i = 0; i < n; ++i) c.colours.push_back(one_colour ? first : random_colour_except(r, {Colour::White}));
  return c;
}

VideoSpec random_video(Rng& r, Event ev) {
  VideoSpec v;
  v.width = v.height = kSceneSide;
  v.seconds = r.range(4, 10);
  v.fps = 4;
  v.event = ev;
  v.bg = random_background(r, Colour::Grey);
  const int size = kSceneSide / 3 * r.range(65, 85) / 100 / 2 * 2;
  ShapeItem& a = v.actor;
  a.shape = Shape(r.range(0, kNumShapes - 1));
  a.colour = Colour(r.range(0, kNumColours - 1));
  a.size = size;
  std::vector<int> free_cells;  // where static shapes may stand (never on the actor's path)
  if (ev == Event::Move) {
    v.direction = Direction(r.range(0, 3));
    const bool horizontal = v.direction == Direction::Left || v.direction == Direction::Right;
    const bool forward = v.direction == Direction::Right || v.direction == Direction::Down;
    const int line = r.range(0, 2), dist = r.range(1, 2);
    const int from = forward ? r.range(0, 2 - dist) : r.range(dist, 2);
    const int to = forward ? from + dist : from - dist;
    a.cell = horizontal ? line * 3 + from : from * 3 + line;
    v.end_cell = horizontal ? line * 3 + to : to * 3 + line;
    cell_centre(v.width, v.height, v.end_cell, &v.end_cx, &v.end_cy);
    v.t0 = r.range(1, v.seconds - 2);
    v.t1 = r.range(v.t0 + 1, v.seconds - 1);
    for (int c = 0; c < 9; ++c)
      if ((horizontal ? c / 3 : c % 3) != line) free_cells.push_back(c);
  } else {
    a.cell = r.range(0, 8);
    v.t0 = r.range(1, v.seconds - 1);
    v.t1 = v.t0;
    for (int c = 0; c < 9; ++c)
      if (c != a.cell) free_cells.push_back(c);
    if (ev == Event::ColourChange) v.new_colour = random_colour_except(r, {a.colour});
  }
  cell_centre(v.width, v.height, a.cell, &a.cx, &a.cy);
  // 0-2 static shapes, of other shape types than the actor's ("the circle" names the actor).
  r.shuffle(free_cells);
  const int statics = r.range(0, 2);
  for (int k = 0; k < statics; ++k) {
    ShapeItem s;
    s.shape = Shape((int(a.shape) + r.range(1, kNumShapes - 1)) % kNumShapes);
    s.colour = Colour(r.range(0, kNumColours - 1));
    s.cell = free_cells[size_t(k)];
    s.size = size;
    cell_centre(v.width, v.height, s.cell, &s.cx, &s.cy);
    v.statics.push_back(s);
  }
  std::sort(v.statics.begin(), v.statics.end(), [](const ShapeItem& x, const ShapeItem& y) { return x.cell < y.cell; });
  return v;
}

}  // namespace vl3::synth
