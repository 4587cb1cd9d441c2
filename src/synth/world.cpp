// Random specs of the synthetic world: scenes, text images, bar charts, one-event videos. Every draw comes
// from the item's own Rng, so an item depends only on (seed, stream, index).
#include <algorithm>
#include <cstdlib>

#include "world.h"

namespace vl3::synth {

namespace {

// Sizes are multiples of 28 (the vision tower's 14-pixel patches, merged 2x2).
int side(Rng& r, int lo28, int hi28) { return 28 * r.range(lo28, hi28); }

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

Background random_background(Rng& r, int plain_percent) {
  Background bg;
  const int u = r.range(0, 99);
  bg.base = u < 40 ? Colour::White : u < 55 ? Colour::Black : Colour(r.range(0, 5));
  if (!r.chance(plain_percent)) {
    bg.texture = Texture(r.range(1, 3));
    bg.period = bg.texture == Texture::Noise ? r.range(2, 4) : r.range(6, 16);
    bg.orientation = r.range(0, 2);
    bg.seed = r.next();
  }
  return bg;
}

SceneSpec random_scene(Rng& r) {
  SceneSpec s;
  s.width = side(r, 4, 12);
  s.height = side(r, 4, 12);
  s.bg = random_background(r);
  const int n = r.range(1, 5);
  std::vector<int> cells = {0, 1, 2, 3, 4, 5, 6, 7, 8};
  r.shuffle(cells);
  cells.resize(size_t(n));
  std::sort(cells.begin(), cells.end());  // shapes listed in reading order
  const int cell_min = std::min(s.width, s.height) / 3;
  for (int cell : cells) {
    ShapeItem it;
    // A (shape, colour) pair not used yet, never in the background colour.
    for (;;) {
      it.shape = Shape(r.range(0, kNumShapes - 1));
      it.colour = random_colour_except(r, {s.bg.base});
      bool used = false;
      for (const auto& o : s.shapes) used |= o.shape == it.shape && o.colour == it.colour;
      if (!used) break;
    }
    it.cell = cell;
    it.size = cell_min * r.range(45, 75) / 100;
    place(it, s.width, s.height, std::max(0, (cell_min - it.size) / 2 - 2), r);
    s.shapes.push_back(it);
  }
  return s;
}

TextSpec random_text(Rng& r) {
  static const std::vector<std::string> kWords = {
      "CAT",  "DOG",  "SUN",  "SKY",  "BOX",  "CAR",  "BUS",  "HAT",   "CUP",   "PEN",   "MAP",   "KEY",
      "BED",  "EGG",  "FISH", "BIRD", "TREE", "STAR", "MOON", "SHIP",  "BOOK",  "CAKE",  "DOOR",  "LAMP",
      "RAIN", "SNOW", "LEAF", "FROG", "BALL", "KITE", "APPLE", "HOUSE", "TRAIN", "CLOCK", "HORSE", "WATER"};
  TextSpec t;
  t.number = r.chance(40);
  if (t.number) {
    const int digits = r.range(1, 4);
    t.text = std::to_string(r.range(digits == 1 ? 0 : 1, 9));
    for (int i = 1; i < digits; ++i) t.text += char('0' + r.range(0, 9));
  } else {
    t.text = r.pick(kWords);
  }
  t.bg = random_background(r, 70);
  // Text is thin: its colour must contrast with the background (no yellow on orange, red on orange, ...).
  do t.colour = random_colour_except(r, {t.bg.base});
  while (contrast(colour_rgb(t.colour), colour_rgb(t.bg.base)) < 150);
  const int n = int(t.text.size());
  t.height = side(r, 4, 8);
  t.width = std::max(side(r, 4, 12), 28 * ((2 * (6 * n - 1) + 16 + 27) / 28));  // room for scale >= 2
  const int max_scale = std::min({(t.width - 16) / (6 * n - 1), (t.height - 16) / 7, 8});
  t.scale = r.range(std::max(2, max_scale / 2), max_scale);
  const int tw = text_width(t.text, t.scale), th = 7 * t.scale;
  t.x = r.range(8, t.width - 8 - tw);
  t.y = r.range(8, t.height - 8 - th);
  return t;
}

ChartSpec random_chart(Rng& r) {
  ChartSpec c;
  c.width = side(r, 6, 12);
  c.height = side(r, 5, 12);
  const int n = r.range(3, 5);
  // Values 1..9 with a unique highest and a unique lowest bar.
  for (;;) {
    c.values.assign(size_t(n), 0);
    for (auto& v : c.values) v = r.range(1, 9);
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
  v.width = side(r, 4, 8);
  v.height = side(r, 4, 8);
  v.seconds = r.range(4, 10);
  v.fps = 4;
  v.event = ev;
  v.bg = random_background(r);
  const int size = std::min(v.width, v.height) / 3 * r.range(50, 70) / 100 / 2 * 2;
  ShapeItem& a = v.actor;
  a.shape = Shape(r.range(0, kNumShapes - 1));
  a.colour = random_colour_except(r, {v.bg.base});
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
    if (ev == Event::ColourChange) v.new_colour = random_colour_except(r, {v.bg.base, a.colour});
  }
  cell_centre(v.width, v.height, a.cell, &a.cx, &a.cy);
  // 0-2 static shapes, of other shape types than the actor's ("the circle" names the actor).
  r.shuffle(free_cells);
  const int statics = r.range(0, 2);
  for (int k = 0; k < statics; ++k) {
    ShapeItem s;
    s.shape = Shape((int(a.shape) + r.range(1, kNumShapes - 1)) % kNumShapes);
    s.colour = random_colour_except(r, {v.bg.base});
    s.cell = free_cells[size_t(k)];
    s.size = size;
    cell_centre(v.width, v.height, s.cell, &s.cx, &s.cy);
    v.statics.push_back(s);
  }
  std::sort(v.statics.begin(), v.statics.end(), [](const ShapeItem& x, const ShapeItem& y) { return x.cell < y.cell; });
  return v;
}

}  // namespace vl3::synth
