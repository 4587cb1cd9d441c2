// Test helpers for vl3 synth (see synth_check.h).
#include "synth_check.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <ostream>
#include <regex>
#include <stdexcept>

namespace synthcheck {

using namespace vl3::synth;

namespace {

bool same(Rgb a, Rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; }

Colour colour_by_name(const std::string& name) {
  for (int c = 0; c <= kNumColours; ++c)  // the object colours and Grey (backgrounds)
    if (name == colour_name(Colour(c))) return Colour(c);
  throw std::runtime_error("unknown colour " + name);
}

// Palette name of an exact palette colour, "?" otherwise.
std::string name_of(Rgb p) {
  for (int c = 0; c < kNumColours; ++c)
    if (same(p, colour_rgb(Colour(c)))) return colour_name(Colour(c));
  return "?";
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const ShapeTruth& s) {
  return os << s.colour << " " << s.shape << " @ " << s.cell;
}

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::ifstream f(path);
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(f, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

// ------------------------------------------------------------------------------------------ scenes
SceneTruth parse_scene_caption(const std::string& caption) {
  SceneTruth t;
  std::smatch m;
  if (std::regex_search(caption, m, std::regex(R"(on a plain (\w+) background)"))) {
    t.background.base = colour_by_name(m[1]);
  } else if (std::regex_search(caption, m, std::regex(R"(on an? (\w+) background with)"))) {
    t.background.base = colour_by_name(m[1]);
    t.background.textured = true;
  } else {
    throw std::runtime_error("no background in: " + caption);
  }
  std::regex shape(R"((?:A|An) (\w+) (circle|square|triangle) is in the ([a-z ]+?)\.)");
  for (std::sregex_iterator it(caption.begin(), caption.end(), shape), end; it != end; ++it)
    t.shapes.push_back({(*it)[1], (*it)[2], (*it)[3]});
  return t;
}

namespace {
bool is_background(const vl3::Image& img, const BackgroundTruth& bg, int x, int y) {
  const Rgb p = pixel(img, x, y);
  return same(p, colour_rgb(bg.base)) || (bg.textured && same(p, background_shade(bg.base)));
}
}  // namespace

bool objects_inside_cells(const vl3::Image& img, const BackgroundTruth& bg) {
  auto cell = [&](int x, int y) { return (y * 3 / img.height) * 3 + x * 3 / img.width; };
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      if (is_background(img, bg, x, y)) continue;
      if (x + 1 < img.width && !is_background(img, bg, x + 1, y) && cell(x + 1, y) != cell(x, y)) return false;
      if (y + 1 < img.height && !is_background(img, bg, x, y + 1) && cell(x, y + 1) != cell(x, y)) return false;
    }
  return true;
}

std::vector<ShapeTruth> find_shapes(const vl3::Image& img, const BackgroundTruth& bg) {
  const int w = img.width, h = img.height;
  std::vector<char> seen(size_t(w) * size_t(h), 0);
  auto is_bg = [&](int x, int y) { return is_background(img, bg, x, y); };
  struct Found {
    int cell;
    ShapeTruth s;
  };
  std::vector<Found> found;
  for (int y0 = 0; y0 < h; ++y0)
    for (int x0 = 0; x0 < w; ++x0) {
      if (seen[size_t(y0) * size_t(w) + size_t(x0)] || is_bg(x0, y0)) continue;
      // Flood fill one component.
      const Rgb colour = pixel(img, x0, y0);
      std::vector<std::pair<int, int>> stack = {{x0, y0}};
      seen[size_t(y0) * size_t(w) + size_t(x0)] = 1;
      int64_t n = 0, sx = 0, sy = 0;
      int minx = x0, maxx = x0, miny = y0, maxy = y0;
      bool one_colour = true;
      while (!stack.empty()) {
        auto [x, y] = stack.back();
        stack.pop_back();
        ++n, sx += x, sy += y;
        minx = std::min(minx, x), maxx = std::max(maxx, x), miny = std::min(miny, y), maxy = std::max(maxy, y);
        one_colour &= same(pixel(img, x, y), colour);
        const int nb[4][2] = {{x + 1, y}, {x - 1, y}, {x, y + 1}, {x, y - 1}};
        for (const auto& q : nb) {
          if (q[0] < 0 || q[1] < 0 || q[0] >= w || q[1] >= h) continue;
          char& s = seen[size_t(q[1]) * size_t(w) + size_t(q[0])];
          if (!s && !is_bg(q[0], q[1])) s = 1, stack.push_back({q[0], q[1]});
        }
      }
      const double fill = double(n) / double((maxx - minx + 1) * (maxy - miny + 1));
      const std::string shape = fill > 0.93 ? "square" : fill > 0.65 ? "circle" : "triangle";
      const int col = int(sx / n) * 3 / w, row = int(sy / n) * 3 / h;
      found.push_back({row * 3 + col, {one_colour ? name_of(colour) : "mixed", shape, cell_name(row * 3 + col)}});
    }
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) { return a.cell < b.cell; });
  std::vector<ShapeTruth> out;
  for (const auto& f : found) out.push_back(f.s);
  return out;
}

// ------------------------------------------------------------------------------------------ text
TextTruth parse_text_caption(const std::string& caption) {
  std::smatch m;
  if (!std::regex_search(caption, m, std::regex(R"(^The (?:word|number) (\w+) is written in (\w+) (?:letters|digits))")))
    throw std::runtime_error("not a text caption: " + caption);
  return {m[1], colour_by_name(m[2])};
}

std::string read_text(const vl3::Image& img, Colour colour) {
  const Rgb c = colour_rgb(colour);
  int minx = img.width, maxx = -1, miny = img.height, maxy = -1;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x)
      if (same(pixel(img, x, y), c)) minx = std::min(minx, x), maxx = std::max(maxx, x), miny = std::min(miny, y), maxy = std::max(maxy, y);
  if (maxx < 0 || (maxy - miny + 1) % 7) return "";
  const int s = (maxy - miny + 1) / 7;  // every glyph spans its 7 rows
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  // The first glyph's leftmost column may be 0..4: try each, keep the reading whose rendering is the image.
  for (int off = 0; off < 5; ++off) {
    const int x0 = minx - off * s;
    std::string text;
    for (int gx = x0; gx <= maxx; gx += 6 * s) {
      uint8_t rows[7] = {0};
      for (int r = 0; r < 7; ++r)
        for (int col = 0; col < 5; ++col) {
          const int x = gx + col * s + s / 2, y = miny + r * s + s / 2;
          if (x >= 0 && x < img.width && same(pixel(img, x, y), c)) rows[r] = uint8_t(rows[r] | (0x10 >> col));
        }
      for (char ch : alphabet) {
        uint8_t g[7];
        glyph_rows(ch, g);
        if (std::equal(g, g + 7, rows)) text += ch;
      }
    }
    if (text.empty()) continue;
    // Render the reading and compare masks.
    vl3::Image a = blank_image(img.width, img.height, colour_rgb(colour == Colour::White ? Colour::Black : Colour::White));
    draw_text(a, text, x0, miny, s, c);
    bool equal = true;
    for (int y = 0; y < img.height && equal; ++y)
      for (int x = 0; x < img.width && equal; ++x) equal = same(pixel(a, x, y), c) == same(pixel(img, x, y), c);
    if (equal) return text;
  }
  return "";
}

// ------------------------------------------------------------------------------------------ charts
std::vector<int> parse_chart_caption(const std::string& caption) {
  const std::string body = caption.substr(0, caption.find("The highest"));
  std::vector<int> v;
  std::regex item(R"(\b([A-E]) is (\d)\b)");
  for (std::sregex_iterator it(body.begin(), body.end(), item), end; it != end; ++it) v.push_back(std::stoi((*it)[2]));
  return v;
}

std::vector<int> measure_bars(const vl3::Image& img) {
  const Rgb black = colour_rgb(Colour::Black), white = colour_rgb(Colour::White), grid{215, 215, 215};
  // The axis: the first (top) of the 2 rows with the most black pixels.
  int axis = 0, best = -1;
  for (int y = 0; y < img.height; ++y) {
    int n = 0;
    for (int x = 0; x < img.width; ++x) n += same(pixel(img, x, y), black);
    if (n > best) best = n, axis = y;
  }
  // Grid unit: the first grid line above the axis, in the left margin column next to the plot edge.
  int unit = 0;
  for (int y = axis - 1; y > 0; --y)
    if (same(pixel(img, 9, y), grid)) {
      unit = axis - y;
      break;
    }
  if (unit <= 0) return {};
  std::vector<int> values;
  for (int x = 0; x < img.width;) {
    const Rgb p = pixel(img, x, axis - 1);
    if (same(p, white) || same(p, grid)) {
      ++x;
      continue;
    }
    int x1 = x;
    while (x1 < img.width && same(pixel(img, x1, axis - 1), p)) ++x1;
    int hgt = 0;
    while (axis - 1 - hgt >= 0 && same(pixel(img, (x + x1) / 2, axis - 1 - hgt), p)) ++hgt;
    values.push_back(hgt % unit == 0 ? hgt / unit : -1);
    x = x1;
  }
  return values;
}

// ------------------------------------------------------------------------------------------ videos
EventFrames event_frames(const std::string& video) {
  vl3::VideoOptions o;
  o.fps = 1.0;
  const vl3::VideoClip clip =
      vl3::load_video(video, o, [](const vl3::VideoInfo& i) { return std::make_pair(i.width, i.height); });
  EventFrames ev;
  ev.frames = clip.frames.size();
  for (size_t k = 1; k < clip.frames.size(); ++k) {
    const auto& a = clip.frames[k - 1].rgb;
    const auto& b = clip.frames[k].rgb;
    int changed = 0;
    for (size_t i = 0; i < a.size(); ++i) changed += std::abs(int(a[i]) - int(b[i])) > 40;
    if (changed >= 30) ev.changes.push_back(int(k));
  }
  return ev;
}

}  // namespace synthcheck
