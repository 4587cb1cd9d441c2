// Test helpers for vl3 synth: parse the generated captions back, and measure the generated pixels
// (shapes by connected components, text read with the built-in font, bar heights, video change points).
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <tuple>
#include <vector>

#include "vl3/media.h"
#include "vl3/synth.h"

namespace synthcheck {

std::vector<nlohmann::json> read_jsonl(const std::string& path);

struct BackgroundTruth {
  vl3::synth::Colour base = vl3::synth::Colour::White;
  bool textured = false;
};

struct ShapeTruth {
  std::string colour, shape, cell;
  bool operator==(const ShapeTruth& o) const { return std::tie(colour, shape, cell) == std::tie(o.colour, o.shape, o.cell); }
};
std::ostream& operator<<(std::ostream& os, const ShapeTruth& s);

struct SceneTruth {
  BackgroundTruth background;
  std::vector<ShapeTruth> shapes;  // in reading order of their cells
};
// "There are 2 shapes on a plain white background. A red circle is in the top left. ..."
SceneTruth parse_scene_caption(const std::string& caption);
// Connected components of non-background pixels, each classified by colour, fill ratio and cell.
std::vector<ShapeTruth> find_shapes(const vl3::Image& img, const BackgroundTruth& bg);
// True when no object crosses a border of the image's 3x3 grid: every pair of 4-neighbouring non-background
// pixels lies in one cell (so each object is inside one visual token of the small model).
bool objects_inside_cells(const vl3::Image& img, const BackgroundTruth& bg);

struct TextTruth {
  std::string text;
  vl3::synth::Colour colour = vl3::synth::Colour::Black;
};
// "The word CAT is written in red letters on ..."
TextTruth parse_text_caption(const std::string& caption);
// Reads the text drawn in `colour` with the built-in font ("" when it cannot).
std::string read_text(const vl3::Image& img, vl3::synth::Colour colour);

// "A bar chart with 3 bars labelled A to C. A is 3, B is 7 and C is 5. ..." -> {3, 7, 5}
std::vector<int> parse_chart_caption(const std::string& caption);
// Bar heights in grid units (the light grey lines), left to right.
std::vector<int> measure_bars(const vl3::Image& img);

struct EventFrames {
  size_t frames = 0;         // sampled at 1 fps by vl3::load_video
  std::vector<int> changes;  // k such that frame k clearly differs from frame k - 1
};
EventFrames event_frames(const std::string& video);

}  // namespace synthcheck
