// vl3 synth: a seeded synthetic world for training a small VideoLLaMA3 from scratch and evaluating it.
//
// `synthesize(opt)` writes, under opt.out_dir:
//   media/train/{img,vid}/...   training images (PNG) and videos (MP4, H.264 or MPEG-4 part 2)
//   media/bench/{img,vid}/...   benchmark media, from a separate seed stream, never used by training files
//   stage0.jsonl                 text-only language pretraining (captions as text + questions about them), for
//                                an LLM trained from scratch: it stands in for the pretrained Qwen2.5
//   stage1.jsonl .. stage4.jsonl training records in the official annotation format (docs/training.md),
//                                media paths relative to media/ (vl3 train --media-root DIR/media)
//   bench.jsonl                  benchmark questions in the vl3 eval format (vl3/eval.h), paths relative to media/
//   README.md                    what was generated, with counts
// The same seed and scale give byte-identical files (own PRNG, integer rendering, single-threaded encoder).
//
// The drawing, font, PNG and video pieces are public so that tests (and other tools) can use them. Pure C++
// with libpng and FFmpeg: no libtorch.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "vl3/media.h"

namespace vl3 {

struct SynthOptions {
  std::string out_dir;
  uint64_t seed = 0;
  double scale = 1.0;  // multiplies every count (at least 1 of each kind)
  int threads = 0;     // rendering/encoding workers; 0: min(hardware threads, 8). Output does not depend on it.
  // Shape drills: a record of "What is the <colour> shape?" questions per scene in stage 1 and for every other
  // scene in stage 3 (docs/small-model.md). The benchmark does not depend on it.
  bool shape_drills = false;
};

struct SynthSummary {
  int64_t train_images = 0, train_videos = 0, bench_images = 0, bench_videos = 0;
  std::map<std::string, int64_t> train_image_kinds;  // scene, text, chart
  std::map<std::string, int64_t> train_video_kinds;  // move, appear, disappear, color_change
  int64_t stage_records[4] = {0, 0, 0, 0};
  int64_t stage0_records = 0;  // stage0.jsonl: text-only language pretraining for a from-scratch LLM
  std::map<std::string, int64_t> bench_tasks;        // task -> questions
  int64_t bench_items = 0;
  int64_t bytes = 0;       // all files written
  std::string video_codec; // "libx264" or "mpeg4"
};

// Writes the whole world (see above). Throws vl3::Error when the directory cannot be written or the
// encoder fails. Existing files of the same names are replaced.
SynthSummary synthesize(const SynthOptions& opt);

namespace synth {

// ------------------------------------------------------------------------------------------ palette
// The 8 colours that shapes, text and bars are drawn in (Colour(0) .. Colour(kNumColours - 1)), and Grey, the
// neutral colour of scene and video backgrounds, which no object ever has.
enum class Colour : uint8_t { Red, Green, Blue, Yellow, Purple, Orange, White, Black, Grey };
constexpr int kNumColours = 8;

// ------------------------------------------------------------------------------------------ sizes
// Media are drawn at the small model's native resolution (make-model --preset small: 2x2-merged visual tokens of
// 28x28 pixels, 9 to 16 per image or frame), so the processor never resizes them:
// - scenes and video frames are 84x84, and each cell of their 3x3 grid is exactly one visual token;
// - text images are 168x56 (6x2 tokens) and bar charts 112x112 (4x4 tokens).
constexpr int kSceneSide = 84;
constexpr int kTextWidth = 168, kTextHeight = 56;
constexpr int kChartSide = 112;
constexpr int kChartMaxValue = 5;  // bar values 1..5, one grid line per unit
struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};
Rgb colour_rgb(Colour c);
const char* colour_name(Colour c);  // "red", ...

enum class Shape : uint8_t { Circle, Square, Triangle };
constexpr int kNumShapes = 3;
const char* shape_name(Shape s);  // "circle", ...

// ------------------------------------------------------------------------------------------ drawing
// Canvases are vl3::Image (RGB8). All geometry is integer, so pixels are identical on every machine.
Image blank_image(int width, int height, Rgb fill);
Rgb pixel(const Image& img, int x, int y);
void fill_rect(Image& img, int x0, int y0, int x1, int y1, Rgb c);  // [x0, x1) x [y0, y1), clipped
// A shape of side `size` centred at (cx, cy): a disc of diameter size, a square, an upward triangle
// (apex at the top centre, base along the bottom of the size x size box).
void draw_shape(Image& img, Shape s, int cx, int cy, int size, Rgb c);

// Built-in 5x7 font: A-Z and 0-9 (other characters draw nothing). Each glyph cell is 6 columns wide
// (1 column of spacing); `scale` multiplies every font pixel.
// glyph_rows: the 7 rows of `ch`, bit 4 = leftmost column; false when there is no glyph.
bool glyph_rows(char ch, uint8_t rows[7]);
int text_width(const std::string& text, int scale);  // 6 * scale * n - scale
void draw_text(Image& img, const std::string& text, int x, int y, int scale, Rgb c);  // (x, y): top left

// Backgrounds: a base colour, plain or with a texture in a shade of the same colour (each channel moved by 28
// towards the middle). Scenes and videos use Grey; text images White or Grey. Objects never have the
// background's colour.
enum class Texture : uint8_t { Plain, Noise, Stripes, Checker };
struct Background {
  Colour base = Colour::White;
  Texture texture = Texture::Plain;
  int period = 8;       // stripes/checker: band width in pixels; noise: block size
  int orientation = 0;  // stripes: 0 horizontal, 1 vertical, 2 diagonal
  uint64_t seed = 0;    // noise
};
Rgb background_shade(Colour base);  // the texture's second tone
void fill_background(Image& img, const Background& bg);
std::string background_phrase(const Background& bg);       // "a plain white background", "an orange background with stripes"
std::string background_description(const Background& bg);  // "plain white", "orange with stripes"

// ------------------------------------------------------------------------------------------ scenes
// The 3x3 grid: cell = row * 3 + col; names "top left", "top middle", ..., "center", ..., "bottom right".
const char* cell_name(int cell);
void cell_centre(int width, int height, int cell, int* cx, int* cy);

struct ShapeItem {
  Shape shape = Shape::Circle;
  Colour colour = Colour::Red;
  int cell = 0;              // grid cell it is in
  int cx = 0, cy = 0, size = 0;
};

struct SceneSpec {
  int width = 0, height = 0;
  Background bg;
  std::vector<ShapeItem> shapes;  // each in its own cell, distinct (shape, colour) pairs
};
Image render_scene(const SceneSpec& s);

struct TextSpec {
  int width = 0, height = 0;
  Background bg;
  std::string text;   // an upper-case word or a 1-4 digit number
  bool number = false;
  Colour colour = Colour::Black;
  int x = 0, y = 0, scale = 1;
};
Image render_text(const TextSpec& t);

struct ChartSpec {
  int width = 0, height = 0;
  std::vector<int> values;         // 3-5 bars, 1..kChartMaxValue, labelled A, B, ...; unique highest and lowest
  std::vector<Colour> colours;     // one per bar
};
Image render_chart(const ChartSpec& c);

// ------------------------------------------------------------------------------------------ videos
enum class Event : uint8_t { Move, Appear, Disappear, ColourChange };
enum class Direction : uint8_t { Left, Right, Up, Down };
const char* direction_name(Direction d);  // "left", ...

// One actor with one event, plus static shapes. Events happen at whole seconds: frame i (time i / fps)
// shows the event's state for times >= t0. vl3 samples 1 fps with the fps filter (round=down): the frame it
// labels k s shows time k + 1 - 1/fps, so the first sampled frame that shows a change at t0 is labelled t0.
struct VideoSpec {
  int width = 0, height = 0;  // even
  int seconds = 4, fps = 4;
  Background bg;
  std::vector<ShapeItem> statics;
  ShapeItem actor;            // Move: the start position
  Event event = Event::Appear;
  int t0 = 1;                 // appear / disappear / colour change / start moving (seconds)
  int t1 = 2;                 // Move: stops moving (seconds), t0 < t1 < seconds
  Direction direction = Direction::Right;
  int end_cell = 0, end_cx = 0, end_cy = 0;  // Move: where it stops
  Colour new_colour = Colour::Blue;          // ColourChange
};
int video_frame_count(const VideoSpec& v);  // seconds * fps
Image render_video_frame(const VideoSpec& v, int frame);

// ------------------------------------------------------------------------------------------ files
std::string encode_png(const Image& img);  // deterministic PNG bytes (no time chunk, fixed compression)
void write_png(const std::string& path, const Image& img);
// The encoder used for videos: "libx264" when this FFmpeg has it, else "mpeg4".
std::string video_codec();
// MP4, yuv420p (BT.601 limited range), constant `fps`, no B-frames, single-threaded encoder, no varying
// metadata. libx264 encodes losslessly (qp 0): identical input frames decode to identical frames, and the
// bytes are reproducible. Frames must all have the same even size.
void write_mp4(const std::string& path, const std::vector<Image>& frames, int fps);

}  // namespace synth
}  // namespace vl3
