// Words about images: short and detailed captions, open and multiple-choice questions for scenes, text
// images and bar charts. The vocabulary is small and regular (a small tokenizer will learn it).
#include <algorithm>
#include <cctype>

#include "world.h"

namespace vl3::synth {

// ------------------------------------------------------------------------------------------ helpers
std::string cap(std::string s) {
  if (!s.empty()) s[0] = char(std::toupper((unsigned char)s[0]));
  return s;
}

std::string with_article(const std::string& noun) {
  const char c = noun.empty() ? 'x' : noun[0];
  return (c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' ? "an " : "a ") + noun;
}

std::string join_list(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? " and " : ", ";
    out += items[i];
  }
  return out;
}

std::string at_seconds(int t) { return "At " + std::to_string(t) + (t == 1 ? " second." : " seconds."); }

std::string object_name(const ShapeItem& s) { return std::string(colour_name(s.colour)) + " " + shape_name(s.shape); }

// The layout of vl3::eval_prompt (src/generate/eval.cpp), so training and evaluation prompts agree.
std::string qa_prompt(const Qa& q) {
  if (q.options.empty()) return q.question;
  std::string s = "Question: " + q.question + "\nOptions:\n";
  for (size_t i = 0; i < q.options.size(); ++i) s += "(" + std::string(1, char('A' + i)) + ") " + q.options[i] + "\n";
  return s + "Answer with the option's letter from the given choices directly and only give the best option.";
}

std::string qa_reply(const Qa& q) {
  return q.options.empty() ? q.answer : std::string(1, char('A' + q.answer_index)) + ".";
}

void make_mcq(Qa& q, const std::string& correct, std::vector<std::string> pool, Rng& r, bool keep_order) {
  pool.erase(std::remove(pool.begin(), pool.end(), correct), pool.end());
  r.shuffle(pool);
  if (pool.size() > 3) pool.resize(3);
  pool.push_back(correct);
  if (keep_order) {
    // Natural order (numbers ascending, or the order the caller listed): sort by the given rank.
    std::sort(pool.begin(), pool.end(), [](const std::string& a, const std::string& b) {
      return a.size() != b.size() ? a.size() < b.size() : a < b;
    });
  } else {
    r.shuffle(pool);
  }
  q.options = pool;
  q.answer_index = int(std::find(pool.begin(), pool.end(), correct) - pool.begin());
}

namespace {

std::vector<std::string> colour_pool() {
  std::vector<std::string> v;
  for (int c = 0; c < kNumColours; ++c) v.push_back(colour_name(Colour(c)));
  return v;
}

std::vector<std::string> number_pool(int lo, int hi) {
  std::vector<std::string> v;
  for (int i = lo; i <= hi; ++i) v.push_back(std::to_string(i));
  return v;
}

std::vector<std::string> cell_pool() {
  std::vector<std::string> v;
  for (int c = 0; c < 9; ++c) v.push_back(cell_name(c));
  return v;
}

template <class F>
int count_if(const SceneSpec& s, F f) {
  return int(std::count_if(s.shapes.begin(), s.shapes.end(), f));
}

}  // namespace

// ------------------------------------------------------------------------------------------ scenes
std::string scene_short(const SceneSpec& s) {
  std::vector<std::string> names;
  for (const auto& it : s.shapes) names.push_back(with_article(object_name(it)));
  return cap(join_list(names)) + ".";
}

std::string scene_detail(const SceneSpec& s) {
  const size_t n = s.shapes.size();
  std::string out = n == 1 ? "There is 1 shape on " : "There are " + std::to_string(n) + " shapes on ";
  out += background_phrase(s.bg) + ".";
  for (const auto& it : s.shapes) out += " " + cap(with_article(object_name(it))) + " is in the " + cell_name(it.cell) + ".";
  return out;
}

std::vector<Qa> scene_shape_questions(const SceneSpec& s) {
  std::vector<Qa> out;
  for (const auto& it : s.shapes) {
    if (count_if(s, [&](const ShapeItem& o) { return o.colour == it.colour; }) != 1) continue;
    Qa q;
    q.task = "shape";
    q.question = std::string("What is the ") + colour_name(it.colour) + " shape?";
    q.answer = cap(with_article(shape_name(it.shape))) + ".";
    q.bench_answer = shape_name(it.shape);
    out.push_back(std::move(q));
  }
  return out;
}

std::optional<Qa> scene_qa(const SceneSpec& s, const std::string& task, bool mcq, Rng& r) {
  Qa q;
  q.task = task;
  const auto& shapes = s.shapes;
  if (task == "color") {  // the colour of a shape whose type is unique
    std::vector<ShapeItem> unique;
    for (const auto& it : shapes)
      if (count_if(s, [&](const ShapeItem& o) { return o.shape == it.shape; }) == 1) unique.push_back(it);
    if (unique.empty()) return std::nullopt;
    const ShapeItem& it = r.pick(unique);
    q.question = std::string("What colour is the ") + shape_name(it.shape) + "?";
    q.answer = cap(colour_name(it.colour)) + ".";
    q.bench_answer = colour_name(it.colour);
    if (mcq) make_mcq(q, q.bench_answer, colour_pool(), r);
  } else if (task == "shape") {  // the type of a shape whose colour is unique
    const std::vector<Qa> all = scene_shape_questions(s);
    if (all.empty()) return std::nullopt;
    q = r.pick(all);
    if (mcq) make_mcq(q, q.bench_answer, {"circle", "square", "triangle"}, r);
  } else if (task == "count") {
    int n = int(shapes.size());
    const int kind = r.range(0, 2);
    if (kind == 0) {
      q.question = "How many shapes are there?";
    } else if (kind == 1) {
      const Shape t = Shape(r.range(0, kNumShapes - 1));
      n = count_if(s, [&](const ShapeItem& o) { return o.shape == t; });
      q.question = std::string("How many ") + shape_name(t) + "s are there?";
    } else {
      const Colour c = r.pick(shapes).colour;
      n = count_if(s, [&](const ShapeItem& o) { return o.colour == c; });
      q.question = std::string("How many ") + colour_name(c) + " shapes are there?";
    }
    q.answer = std::to_string(n) + ".";
    q.bench_answer = std::to_string(n);
    if (mcq) make_mcq(q, q.bench_answer, number_pool(0, 5), r, true);
  } else if (task == "position") {
    const ShapeItem& it = r.pick(shapes);
    q.question = "Where is the " + object_name(it) + "?";
    q.answer = std::string("In the ") + cell_name(it.cell) + ".";
    q.bench_answer = cell_name(it.cell);
    if (mcq) make_mcq(q, q.bench_answer, cell_pool(), r);
  } else if (task == "relation") {
    // MCQ / open: a pair in the same row or column (one relation holds). Yes/no: any pair, on an axis where
    // they differ.
    std::vector<std::pair<ShapeItem, ShapeItem>> pairs;
    for (const auto& a : shapes)
      for (const auto& b : shapes)
        if (a.cell != b.cell && (!mcq || a.cell / 3 == b.cell / 3 || a.cell % 3 == b.cell % 3)) pairs.push_back({a, b});
    if (pairs.empty()) return std::nullopt;
    const auto& [a, b] = r.pick(pairs);
    const int dc = a.cell % 3 - b.cell % 3, dr = a.cell / 3 - b.cell / 3;
    if (mcq || (r.chance(50) && (dc == 0 || dr == 0))) {
      const std::string rel = dr == 0 ? (dc < 0 ? "left of" : "right of") : (dr < 0 ? "above" : "below");
      q.question = "Where is the " + object_name(a) + " relative to the " + object_name(b) + "?";
      q.answer = cap(rel) + " the " + object_name(b) + ".";
      q.bench_answer = rel;
      if (mcq) make_mcq(q, rel, {"left of", "right of", "above", "below"}, r);
    } else {
      const bool horizontal = dc != 0 && (dr == 0 || r.chance(50));
      const std::string asked = horizontal ? r.pick(std::vector<std::string>{"left of", "right of"})
                                           : r.pick(std::vector<std::string>{"above", "below"});
      const bool yes = horizontal ? (asked == "left of") == (dc < 0) : (asked == "above") == (dr < 0);
      q.question = "Is the " + object_name(a) + " " + asked + " the " + object_name(b) + "?";
      q.answer = yes ? "Yes." : "No.";
      q.bench_answer = yes ? "yes" : "no";
    }
  } else if (task == "exists") {
    ShapeItem probe = r.pick(shapes);
    bool yes = true;
    if (r.chance(50)) {  // a pair that is not in the scene
      for (int tries = 0; tries < 50; ++tries) {
        ShapeItem o;
        o.shape = Shape(r.range(0, kNumShapes - 1));
        o.colour = Colour(r.range(0, kNumColours - 1));
        if (o.colour == s.bg.base) continue;
        if (count_if(s, [&](const ShapeItem& x) { return x.shape == o.shape && x.colour == o.colour; }) == 0) {
          probe = o;
          yes = false;
          break;
        }
      }
    }
    q.question = "Is there " + with_article(object_name(probe)) + "?";
    q.answer = yes ? "Yes." : "No.";
    q.bench_answer = yes ? "yes" : "no";
    if (mcq) make_mcq(q, q.bench_answer, {"yes", "no"}, r, true);
  } else {
    return std::nullopt;
  }
  return q;
}

// ------------------------------------------------------------------------------------------ text images
std::string text_short(const TextSpec& t) {
  return std::string(t.number ? "The number " : "The word ") + t.text + " in " + colour_name(t.colour) + ".";
}

std::string text_detail(const TextSpec& t) {
  return std::string(t.number ? "The number " : "The word ") + t.text + " is written in " + colour_name(t.colour) +
         (t.number ? " digits on " : " letters on ") + background_phrase(t.bg) + ".";
}

std::optional<Qa> text_qa(const TextSpec& t, const std::string& task, bool mcq, Rng& r) {
  Qa q;
  q.task = task;
  if (task == "reading") {
    q.question = r.chance(50) ? "What is written?" : t.number ? "What number is written?" : "What word is written?";
    q.answer = t.text + ".";
    q.bench_answer = t.text;
    (void)mcq;  // reading is open
  } else if (task == "color") {
    q.question = t.number ? "What colour is the number?" : "What colour is the word?";
    q.answer = cap(colour_name(t.colour)) + ".";
    q.bench_answer = colour_name(t.colour);
    if (mcq) make_mcq(q, q.bench_answer, colour_pool(), r);
  } else {
    return std::nullopt;
  }
  return q;
}

// ------------------------------------------------------------------------------------------ charts
namespace {
std::string bar_letter(size_t i) { return std::string(1, char('A' + i)); }
}  // namespace

std::string chart_short(const ChartSpec& c) {
  const bool one = std::all_of(c.colours.begin(), c.colours.end(), [&](Colour x) { return x == c.colours[0]; });
  return "A bar chart with " + std::to_string(c.values.size()) + (one ? std::string(" ") + colour_name(c.colours[0]) : "") +
         " bars.";
}

std::string chart_detail(const ChartSpec& c) {
  const size_t n = c.values.size();
  std::vector<std::string> parts;
  for (size_t i = 0; i < n; ++i) parts.push_back(bar_letter(i) + " is " + std::to_string(c.values[i]));
  const size_t hi = size_t(std::max_element(c.values.begin(), c.values.end()) - c.values.begin());
  const size_t lo = size_t(std::min_element(c.values.begin(), c.values.end()) - c.values.begin());
  return "A bar chart with " + std::to_string(n) + " bars labelled A to " + bar_letter(n - 1) + ". " +
         join_list(parts) + ". The highest bar is " + bar_letter(hi) + " and the lowest bar is " + bar_letter(lo) + ".";
}

std::optional<Qa> chart_qa(const ChartSpec& c, bool mcq, Rng& r) {
  Qa q;
  q.task = "chart";
  const size_t n = c.values.size();
  const size_t hi = size_t(std::max_element(c.values.begin(), c.values.end()) - c.values.begin());
  const size_t lo = size_t(std::min_element(c.values.begin(), c.values.end()) - c.values.begin());
  // MCQ only for numeric answers (letters as options would clash with the option letters).
  const int kind = mcq ? r.range(2, 3) : r.range(0, 5);
  if (kind == 0 || kind == 1) {
    q.question = kind == 0 ? "Which bar is the highest?" : "Which bar is the lowest?";
    q.answer = bar_letter(kind == 0 ? hi : lo) + ".";
    q.bench_answer = bar_letter(kind == 0 ? hi : lo);
  } else if (kind == 2) {
    const size_t i = size_t(r.below(n));
    q.question = "What is the value of bar " + bar_letter(i) + "?";
    q.answer = std::to_string(c.values[i]) + ".";
    q.bench_answer = std::to_string(c.values[i]);
    if (mcq) make_mcq(q, q.bench_answer, number_pool(1, kChartMaxValue), r, true);
  } else if (kind == 3) {
    q.question = "How many bars are there?";
    q.answer = std::to_string(n) + ".";
    q.bench_answer = std::to_string(n);
    if (mcq) make_mcq(q, q.bench_answer, number_pool(2, 6), r, true);
  } else if (kind == 4) {
    const size_t a = size_t(r.below(n)), b = (a + 1 + size_t(r.below(n - 1))) % n;
    const bool yes = c.values[a] > c.values[b];
    q.question = "Is bar " + bar_letter(a) + " higher than bar " + bar_letter(b) + "?";
    q.answer = yes ? "Yes." : "No.";
    q.bench_answer = yes ? "yes" : "no";
  } else {
    const size_t i = size_t(r.below(n));
    q.question = "What colour is bar " + bar_letter(i) + "?";
    q.answer = cap(colour_name(c.colours[i])) + ".";
    q.bench_answer = colour_name(c.colours[i]);
  }
  return q;
}

}  // namespace vl3::synth
