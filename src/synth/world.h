// vl3 synth internals: random world specs (world.cpp), and the words about them (captions and questions,
// text_image.cpp for images, text_video.cpp for videos and text-only samples).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "rng.h"
#include "vl3/synth.h"

namespace vl3::synth {

// ------------------------------------------------------------------------------------------ specs
Background random_background(Rng& r, Colour base, int plain_percent = 50);
SceneSpec random_scene(Rng& r);
TextSpec random_text(Rng& r);
ChartSpec random_chart(Rng& r);
VideoSpec random_video(Rng& r, Event ev);

// 64-bit FNV-1a over pixels (to keep benchmark media different from every training medium).
uint64_t image_hash(const Image& img, uint64_t h = 0xcbf29ce484222325ull);

// ------------------------------------------------------------------------------------------ questions
// One question with its answers. Training uses `answer` (a short sentence, "Red."); MCQ training prompts use
// the vl3 eval layout (mcq_prompt) and answer with the letter ("B."). The benchmark uses `bench_answer`
// (open: "red", "3"; with `tolerance` for seconds) or `options` + `answer_index`.
struct Qa {
  std::string task;      // color, shape, count, position, relation, exists, reading, chart, motion, temporal,
                         // color_change, event, text
  std::string question;  // "What colour is the circle?"
  std::string answer;    // "Red."
  std::string bench_answer;
  std::vector<std::string> options;  // MCQ (lower-case option texts); empty: open question
  int answer_index = -1;
  double tolerance = 0;
};

// The prompt text of a question as vl3 eval shows it (vl3::eval_prompt), and the training answer.
std::string qa_prompt(const Qa& q);
std::string qa_reply(const Qa& q);
// Turns `q` into an MCQ: the correct option text plus 3 (or fewer) distinct distractors from `pool`.
void make_mcq(Qa& q, const std::string& correct, std::vector<std::string> pool, Rng& r, bool keep_order = false);

// Word helpers.
std::string cap(std::string s);                          // "red" -> "Red"
std::string with_article(const std::string& noun);       // "a red circle", "an orange square"
std::string join_list(const std::vector<std::string>& items);  // "a, b and c"
std::string at_seconds(int t);                           // "At 3 seconds." / "At 1 second."
std::string object_name(const ShapeItem& s);             // "red circle"

// Images. Task names: scene {color, shape, count, position, relation, exists}; text {reading, color};
// chart {chart}. nullopt when the task does not apply (e.g. no shape type is unique for "color").
std::string scene_short(const SceneSpec& s);
std::string scene_detail(const SceneSpec& s);
std::optional<Qa> scene_qa(const SceneSpec& s, const std::string& task, bool mcq, Rng& r);
// Every open "shape" question the scene allows ("What is the red shape?" for each shape whose colour is
// unique), in the scene's order: the shape drills of stages 1 and 3.
std::vector<Qa> scene_shape_questions(const SceneSpec& s);
std::string text_short(const TextSpec& t);
std::string text_detail(const TextSpec& t);
std::optional<Qa> text_qa(const TextSpec& t, const std::string& task, bool mcq, Rng& r);
std::string chart_short(const ChartSpec& c);
std::string chart_detail(const ChartSpec& c);
std::optional<Qa> chart_qa(const ChartSpec& c, bool mcq, Rng& r);

// Videos. Tasks: motion (Move only), temporal, color_change (ColourChange only), event, count.
std::string video_short(const VideoSpec& v);
std::string video_detail(const VideoSpec& v);
std::optional<Qa> video_qa(const VideoSpec& v, const std::string& task, bool mcq, Rng& r);

// Text-only samples: arithmetic, numbers, letters, colour mixing and colour/shape facts.
Qa text_only_qa(Rng& r);

}  // namespace vl3::synth
