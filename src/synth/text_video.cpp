// Words about videos (captions, motion, temporal, colour-change and event questions) and text-only samples.
//
// Times: an event at second t is shown from time t on (render_video_frame); at 1 fps vl3 labels the first
// sampled frame that shows it "Time t.0s", so every temporal answer is that whole second t.
#include <algorithm>
#include <cctype>
#include <string>

#include "world.h"

namespace vl3::synth {

namespace {

std::vector<std::string> colour_pool() {
  std::vector<std::string> v;
  for (int c = 0; c < kNumColours; ++c) v.push_back(colour_name(Colour(c)));
  return v;
}

std::string statics_sentence(const VideoSpec& v) {
  std::string out;
  for (const auto& s : v.statics)
    out += " " + cap(with_article(object_name(s))) + " stays in the " + cell_name(s.cell) + ".";
  return out;
}

// "the red circle" (the colour-change actor is named by its shape alone: its colour changes).
std::string actor_ref(const VideoSpec& v) {
  return v.event == Event::ColourChange ? std::string("the ") + shape_name(v.actor.shape) : "the " + object_name(v.actor);
}

// What happens, as a clause without time: "the red circle starts moving right".
std::string happening(const VideoSpec& v, bool at_start) {
  const std::string who = actor_ref(v);
  switch (v.event) {
    case Event::Move:
      return at_start ? who + " starts moving " + direction_name(v.direction) : who + " stops moving";
    case Event::Appear: return who + " appears";
    case Event::Disappear: return who + " disappears";
    case Event::ColourChange:
      return who + " changes from " + colour_name(v.actor.colour) + " to " + colour_name(v.new_colour);
  }
  return "";
}

int shapes_at(const VideoSpec& v, bool end) {
  int n = int(v.statics.size());
  if (v.event == Event::Appear) n += end ? 1 : 0;
  else if (v.event == Event::Disappear) n += end ? 0 : 1;
  else n += 1;
  return n;
}

}  // namespace

std::string video_short(const VideoSpec& v) {
  const std::string who = cap(with_article(object_name(v.actor)));
  switch (v.event) {
    case Event::Move: return who + " moves " + direction_name(v.direction) + ".";
    case Event::Appear: return who + " appears.";
    case Event::Disappear: return who + " disappears.";
    case Event::ColourChange:
      return cap(with_article(shape_name(v.actor.shape))) + " changes from " + colour_name(v.actor.colour) + " to " +
             colour_name(v.new_colour) + ".";
  }
  return "";
}

std::string video_detail(const VideoSpec& v) {
  auto secs = [](int t) { return std::to_string(t) + (t == 1 ? " second." : " seconds."); };
  const std::string who = cap(with_article(object_name(v.actor)));
  const std::string where = cell_name(v.actor.cell);
  std::string out;
  switch (v.event) {
    case Event::Move:
      out = who + " moves " + direction_name(v.direction) + " from the " + where + " to the " + cell_name(v.end_cell) +
            ". It starts moving at " + std::to_string(v.t0) + " and stops at " + std::to_string(v.t1) + " seconds.";
      break;
    case Event::Appear: out = who + " appears in the " + where + " at " + secs(v.t0); break;
    case Event::Disappear: out = who + " in the " + where + " disappears at " + secs(v.t0); break;
    case Event::ColourChange:
      out = cap(with_article(shape_name(v.actor.shape))) + " in the " + where + " changes from " +
            colour_name(v.actor.colour) + " to " + colour_name(v.new_colour) + " at " + secs(v.t0);
      break;
  }
  out += statics_sentence(v);
  out += " The background is " + background_description(v.bg) + ".";
  out += " The video is " + std::to_string(v.seconds) + " seconds long.";
  return out;
}

std::optional<Qa> video_qa(const VideoSpec& v, const std::string& task, bool mcq, Rng& r) {
  Qa q;
  q.task = task;
  const std::string who = actor_ref(v);
  if (task == "motion") {
    if (v.event != Event::Move) return std::nullopt;
    const int kind = r.range(0, 3);  // direction twice as often as start/end cells
    if (kind <= 1) {
      q.question = "Which direction does " + who + " move?";
      q.answer = cap(direction_name(v.direction)) + ".";
      q.bench_answer = direction_name(v.direction);
      if (mcq) make_mcq(q, q.bench_answer, {"left", "right", "up", "down"}, r);
    } else {
      const int cell = kind == 2 ? v.actor.cell : v.end_cell;
      q.question = kind == 2 ? "Where does " + who + " start?" : "Where does " + who + " stop?";
      q.answer = std::string("In the ") + cell_name(cell) + ".";
      q.bench_answer = cell_name(cell);
      if (mcq) {
        std::vector<std::string> pool;
        for (int c = 0; c < 9; ++c) pool.push_back(cell_name(c));
        make_mcq(q, q.bench_answer, pool, r);
      }
    }
  } else if (task == "temporal") {  // when does it happen: open, the exact second (the first frame that shows it)
    int t = v.t0;
    switch (v.event) {
      case Event::Move:
        if (r.chance(50)) {
          q.question = "When does " + who + " start moving?";
        } else {
          q.question = "When does " + who + " stop moving?";
          t = v.t1;
        }
        break;
      case Event::Appear: q.question = "When does " + who + " appear?"; break;
      case Event::Disappear: q.question = "When does " + who + " disappear?"; break;
      case Event::ColourChange: q.question = "When does " + who + " change colour?"; break;
    }
    q.answer = at_seconds(t);
    q.bench_answer = std::to_string(t);
    // No tolerance: at 1 fps the frame labelled "Time t.0s" is the first to show the event, so t is exact. (With
    // 1 s of tolerance the constant answer "2" was right for 74 % of these questions.)
    q.tolerance = 0.0;
  } else if (task == "color_change") {
    if (v.event != Event::ColourChange) return std::nullopt;
    const bool after = r.chance(60);
    const Colour c = after ? v.new_colour : v.actor.colour;
    q.question = after ? "What colour does " + who + " change to?" : "What colour is " + who + " at the start?";
    q.answer = cap(colour_name(c)) + ".";
    q.bench_answer = colour_name(c);
    if (mcq) make_mcq(q, q.bench_answer, colour_pool(), r);
  } else if (task == "event") {
    if (mcq) {  // which kind of event
      q.question = "What happens to " + who + "?";
      const std::string kinds[4] = {"it moves", "it appears", "it disappears", "it changes colour"};
      q.bench_answer = kinds[int(v.event)];
      q.answer = cap(q.bench_answer) + ".";
      make_mcq(q, q.bench_answer, {kinds[0], kinds[1], kinds[2], kinds[3]}, r);
    } else if (r.chance(50)) {  // temporal grounding: what happens at second t
      const bool at_start = v.event != Event::Move || r.chance(50);
      const int t = at_start ? v.t0 : v.t1;
      q.question = "What happens at " + std::to_string(t) + (t == 1 ? " second?" : " seconds?");
      q.answer = cap(happening(v, at_start)) + ".";
      q.bench_answer = happening(v, at_start);
    } else {
      q.question = "What happens in the video?";
      q.answer = video_short(v);
      q.bench_answer = q.answer;
    }
  } else if (task == "count") {
    const bool end = r.chance(50);
    const int n = shapes_at(v, end);
    q.question = end ? "How many shapes are there at the end?" : "How many shapes are there at the start?";
    q.answer = std::to_string(n) + ".";
    q.bench_answer = std::to_string(n);
    if (mcq) {
      std::vector<std::string> pool;
      for (int i = 0; i <= 5; ++i) pool.push_back(std::to_string(i));
      make_mcq(q, q.bench_answer, pool, r, true);
    }
  } else {
    return std::nullopt;
  }
  return q;
}

// ------------------------------------------------------------------------------------------ text only
namespace {
const char* const kColourWords[] = {"red", "green", "blue", "yellow", "orange", "purple", "black", "white"};
}  // namespace

Qa text_only_qa(Rng& r) {
  Qa q;
  q.task = "text";
  auto num = [](int v) { return std::to_string(v) + "."; };
  switch (r.range(0, 11)) {
    case 10:
    case 11: {  // option lookup: the multiple-choice mechanism without an image (find the option, say its letter)
      static const std::vector<std::vector<std::string>> kPools = {
          {"red", "green", "blue", "yellow", "orange", "purple", "black", "white"},
          {"circle", "square", "triangle"},
          {"left", "right", "up", "down"},
          {"top left", "top middle", "top right", "middle left", "center", "middle right", "bottom left",
           "bottom middle", "bottom right"},
          {"appears", "disappears", "moves", "changes colour"}};
      const auto& pool = kPools[r.below(uint32_t(kPools.size()))];
      const std::string pick = pool[r.below(uint32_t(pool.size()))];
      q.question = r.chance(50) ? "Which option says " + pick + "?" : "Choose " + pick + ".";
      make_mcq(q, pick, pool, r);
      q.answer = q.bench_answer = pick;
      return q;
    }
    case 0: {
      const int a = r.range(0, 9), b = r.range(0, 9);
      q.question = "What is " + std::to_string(a) + " plus " + std::to_string(b) + "?";
      q.answer = num(a + b);
      break;
    }
    case 1: {
      int a = r.range(0, 9), b = r.range(0, 9);
      if (a < b) std::swap(a, b);
      q.question = "What is " + std::to_string(a) + " minus " + std::to_string(b) + "?";
      q.answer = num(a - b);
      break;
    }
    case 2: {
      const int a = r.range(1, 5), b = r.range(1, 5);
      q.question = "What is " + std::to_string(a) + " times " + std::to_string(b) + "?";
      q.answer = num(a * b);
      break;
    }
    case 3: {
      const int a = r.range(0, 98);
      const bool after = r.chance(50) || a == 0;
      q.question = std::string("What number comes ") + (after ? "after " : "before ") + std::to_string(a) + "?";
      q.answer = num(after ? a + 1 : a - 1);
      break;
    }
    case 4: {
      const int a = r.range(0, 20);
      int b = r.range(0, 19);
      if (b >= a) ++b;
      const bool larger = r.chance(50);
      q.question = std::string("Which is ") + (larger ? "larger" : "smaller") + ", " + std::to_string(a) + " or " +
                   std::to_string(b) + "?";
      q.answer = num(larger ? std::max(a, b) : std::min(a, b));
      break;
    }
    case 5: {  // colour mixing
      static const char* kMix[3][3] = {{"blue", "yellow", "green"}, {"red", "yellow", "orange"}, {"red", "blue", "purple"}};
      const auto& m = kMix[r.below(3)];
      const bool swap = r.chance(50);
      q.question = std::string("What colour do you get mixing ") + m[swap ? 1 : 0] + " and " + m[swap ? 0 : 1] + "?";
      q.answer = cap(m[2]) + ".";
      break;
    }
    case 6: {  // colour facts
      static const char* kFacts[][2] = {{"the sky", "blue"},  {"grass", "green"}, {"the sun", "yellow"},
                                        {"snow", "white"},    {"coal", "black"},  {"a banana", "yellow"},
                                        {"a tomato", "red"},  {"a leaf", "green"}, {"milk", "white"},
                                        {"an orange", "orange"}};
      const auto& f = kFacts[r.below(10)];
      q.question = std::string("What colour is ") + f[0] + "?";
      q.answer = cap(f[1]) + ".";
      break;
    }
    case 7: {  // shape facts
      const int k = r.range(0, 4);
      static const char* kQ[5] = {"How many sides does a triangle have?", "How many sides does a square have?",
                                  "How many corners does a circle have?", "What shape has 3 sides?",
                                  "What shape is round?"};
      static const char* kA[5] = {"3.", "4.", "0.", "A triangle.", "A circle."};
      q.question = kQ[k];
      q.answer = kA[k];
      break;
    }
    case 8: {  // letters
      const int i = r.range(0, 24);
      const bool after = r.chance(50) || i == 0;
      q.question = std::string("What letter comes ") + (after ? "after " : "before ") + char('A' + i) + "?";
      q.answer = std::string(1, char('A' + (after ? i + 1 : i - 1))) + ".";
      break;
    }
    default: {  // spelling
      static const char* kWords[] = {"CAT", "DOG", "FISH", "BIRD", "TREE", "STAR", "APPLE", "HOUSE", "SUN", "BOOK"};
      const std::string w = kWords[r.below(10)];
      q.question = "How many letters are in the word " + w + "?";
      q.answer = num(int(w.size()));
      break;
    }
  }
  q.bench_answer = q.answer;
  // Some become multiple-choice (compute, then find the option): numbers, colours and shapes.
  if (r.chance(40)) {
    std::string a = q.answer.substr(0, q.answer.size() - 1);  // "7." -> "7", "A triangle." -> "A triangle"
    if (a.rfind("A ", 0) == 0) a = a.substr(2);
    a[0] = char(std::tolower(static_cast<unsigned char>(a[0])));
    std::vector<std::string> pool;
    if (std::isdigit(static_cast<unsigned char>(a[0]))) {
      const int v = std::stoi(a);
      for (int i = std::max(0, v - 4); i <= v + 4; ++i) pool.push_back(std::to_string(i));
      make_mcq(q, a, pool, r, true);
    } else if (a == "circle" || a == "square" || a == "triangle") {
      make_mcq(q, a, {"circle", "square", "triangle"}, r);
    } else if (std::find(std::begin(kColourWords), std::end(kColourWords), a) != std::end(kColourWords)) {
      make_mcq(q, a, {std::begin(kColourWords), std::end(kColourWords)}, r);
    }
    if (!q.options.empty()) q.bench_answer = a;
  }
  return q;
}

}  // namespace vl3::synth
