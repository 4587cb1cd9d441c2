// vl3 eval: benchmark files -> prompts -> greedy answers -> per-item judgement (see vl3/eval.h).
#include "vl3/eval.h"

#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "vl3/error.h"

namespace vl3 {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const json* first_of(const json& r, std::initializer_list<const char*> keys) {
  for (const char* k : keys)
    if (r.contains(k) && !r.at(k).is_null()) return &r.at(k);
  return nullptr;
}

std::string as_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// "A. cat" / "(A) cat" / "A) cat" -> true (the option carries its own letter).
bool lettered(const std::string& o, size_t i) {
  const char L = char('A' + i);
  return (o.size() >= 2 && o[0] == L && (o[1] == '.' || o[1] == ')')) ||
         (o.size() >= 3 && o[0] == '(' && o[1] == L && o[2] == ')');
}

EvalItem parse_item(const json& r, const std::string& origin, const std::string& root, size_t index) {
  if (!r.is_object()) throw Error(origin + ": a record must be a JSON object");
  EvalItem it;
  it.origin = origin;
  const json* id = first_of(r, {"id", "question_id"});
  it.id = id ? as_text(*id) : std::to_string(index);
  const json* task = first_of(r, {"task", "task_type", "question_type", "type"});
  it.task = task ? as_text(*task) : "all";
  if (const json* im = first_of(r, {"image"})) {
    if (!im->is_string()) throw Error(origin + ": \"image\" must be a path");
    it.image = resolve_media_source(im->get<std::string>(), root);
  }
  if (const json* v = first_of(r, {"video"})) {
    std::string p = v->is_array() && v->size() == 1 && v->at(0).is_string() ? v->at(0).get<std::string>()
                    : v->is_string() ? v->get<std::string>() : "";
    if (p.empty()) throw Error(origin + ": \"video\" must be a path");
    it.video = resolve_media_source(p, root);
  }
  if (!it.image.empty() && !it.video.empty()) throw Error(origin + ": both \"image\" and \"video\"");
  const json* q = first_of(r, {"question", "prompt"});
  if (!q || !q->is_string()) throw Error(origin + ": missing \"question\"");
  it.question = q->get<std::string>();
  if (const json* o = first_of(r, {"options", "candidates"})) {
    if (!o->is_array() || o->size() < 2 || o->size() > 26) throw Error(origin + ": \"options\" must list 2 to 26 choices");
    for (const auto& x : *o) it.options.push_back(as_text(x));
  }
  const json* a = first_of(r, {"answer", "gt", "ground_truth"});
  if (!a) throw Error(origin + ": missing \"answer\"");
  if (const json* t = first_of(r, {"tolerance"})) it.tolerance = t->get<double>();
  if (it.options.empty()) {
    it.answer = as_text(*a);
    return it;
  }
  // MCQ answer: index, letter, or the option text.
  if (a->is_number_integer()) {
    it.answer_index = a->get<int>();
  } else if (a->is_string()) {
    const std::string s = a->get<std::string>();
    for (size_t i = 0; i < it.options.size() && it.answer_index < 0; ++i)
      if (it.options[i] == s) it.answer_index = int(i);
    if (it.answer_index < 0 && !s.empty()) {
      std::string t = s;
      if (t.size() >= 3 && t.front() == '(' && t[2] == ')') t = t.substr(1, 1);
      if ((t.size() == 1 || (t.size() >= 2 && (t[1] == '.' || t[1] == ')'))) && t[0] >= 'A' && t[0] <= 'Z')
        it.answer_index = t[0] - 'A';
    }
  }
  if (it.answer_index < 0 || it.answer_index >= int(it.options.size()))
    throw Error(origin + ": answer " + a->dump() + " is not one of the " + std::to_string(it.options.size()) + " options");
  it.answer = it.options[size_t(it.answer_index)];
  return it;
}

std::string normalise(const std::string& s) {
  std::string out;
  for (unsigned char c : s) out += std::isalnum(c) ? char(std::tolower(c)) : ' ';
  std::istringstream in(out);
  std::string w, res;
  while (in >> w)
    if (w != "a" && w != "an" && w != "the") res += (res.empty() ? "" : " ") + w;
  return res;
}

bool first_number(const std::string& s, double* v) {
  for (size_t i = 0; i < s.size(); ++i)
    if (std::isdigit((unsigned char)s[i]) || (s[i] == '-' && i + 1 < s.size() && std::isdigit((unsigned char)s[i + 1]))) {
      *v = std::strtod(s.c_str() + i, nullptr);
      return true;
    }
  return false;
}

}  // namespace

std::vector<EvalItem> load_benchmark(const std::vector<std::string>& files, const std::string& media_root) {
  std::vector<EvalItem> items;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) throw Error(f + ": cannot read the benchmark file");
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    const std::string root = media_root.empty() ? fs::path(f).parent_path().string() : media_root;
    auto whole = json::parse(text, nullptr, false);
    if (!whole.is_discarded() && whole.is_array()) {
      for (size_t i = 0; i < whole.size(); ++i)
        items.push_back(parse_item(whole[i], f + "[#" + std::to_string(i) + "]", root, items.size()));
      continue;
    }
    std::istringstream lines(text);
    std::string line;
    for (int n = 1; std::getline(lines, line); ++n) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      auto r = json::parse(line, nullptr, false);
      if (r.is_discarded()) throw Error(f + ":" + std::to_string(n) + ": invalid JSON");
      items.push_back(parse_item(r, f + ":" + std::to_string(n), root, items.size()));
    }
  }
  return items;
}

std::string eval_prompt(const EvalItem& it) {
  if (it.options.empty()) return it.question;
  std::string s = "Question: " + it.question + "\nOptions:\n";
  for (size_t i = 0; i < it.options.size(); ++i)
    s += (lettered(it.options[i], i) ? "" : "(" + std::string(1, char('A' + i)) + ") ") + it.options[i] + "\n";
  return s + "Answer with the option's letter from the given choices directly and only give the best option.";
}

int parse_choice(const std::string& response, const std::vector<std::string>& options) {
  const char last = char('A' + options.size() - 1);
  // A standalone capital letter: not inside a word ("A cat" counts, "Apple" does not).
  for (size_t i = 0; i < response.size(); ++i) {
    const char c = response[i];
    if (c < 'A' || c > last) continue;
    const bool before = i == 0 || !std::isalnum((unsigned char)response[i - 1]);
    const bool after = i + 1 == response.size() || !std::isalnum((unsigned char)response[i + 1]);
    if (before && after) return c - 'A';
  }
  // Otherwise the one option whose text appears in the response.
  int found = -1;
  const std::string r = normalise(response);
  for (size_t i = 0; i < options.size(); ++i) {
    const std::string o = normalise(options[i]);
    if (!o.empty() && (" " + r + " ").find(" " + o + " ") != std::string::npos) {
      if (found >= 0) return -1;  // ambiguous
      found = int(i);
    }
  }
  return found;
}

bool judge_open(const std::string& response, const EvalItem& it) {
  double a = 0, p = 0;
  if (first_number(it.answer, &a) && normalise(it.answer).find_first_not_of("0123456789 ") == std::string::npos)
    return first_number(response, &p) && std::fabs(p - a) <= it.tolerance + 1e-9;
  const std::string r = normalise(response), want = normalise(it.answer);
  if (want.empty()) return false;
  return r == want || (" " + r + " ").find(" " + want + " ") != std::string::npos;
}

std::vector<EvalOutcome> evaluate(Model& model, const std::vector<EvalItem>& items, const EvalOptions& opt,
                                  const std::function<void(const EvalOutcome&)>& on_item) {
  std::vector<EvalOutcome> out;
  out.reserve(items.size());
  for (const auto& it : items) {
    json content = json::array();
    if (!it.image.empty()) content.push_back({{"type", "image"}, {"image", it.image}});
    if (!it.video.empty()) content.push_back({{"type", "video"}, {"video", it.video}});
    content.push_back({{"type", "text"}, {"text", eval_prompt(it)}});
    auto msgs = messages_from_json(json::array({{{"role", "user"}, {"content", content}}}));
    PromptOptions po = opt.prompt;
    po.chat.add_system_prompt = opt.add_system_prompt;
    EvalOutcome o;
    o.item = &it;
    try {
      auto prompt = prepare_prompt(model, msgs, po);
      GenerateOptions go = default_generate_options(model);
      go.sampling = SamplingOptions{};  // greedy
      go.max_new_tokens = opt.max_new_tokens;
      o.response = generate(model, prompt, go).text;
      o.visual_tokens = prompt.stats.visual_tokens_kept;
    } catch (const Error& e) {
      throw Error(it.origin + ": " + e.what());
    }
    if (it.options.empty()) {
      o.correct = judge_open(o.response, it);
    } else {
      o.choice = parse_choice(o.response, it.options);
      o.correct = o.choice == it.answer_index;
    }
    out.push_back(o);
    if (on_item) on_item(out.back());
  }
  return out;
}

EvalSummary summarize_eval(const std::vector<EvalOutcome>& outcomes) {
  // The best constant answer of each task's open questions.
  std::map<std::string, std::vector<const EvalItem*>> open;
  for (const auto& o : outcomes)
    if (o.item->options.empty()) open[o.item->task].push_back(o.item);
  std::map<std::string, double> open_chance;
  for (const auto& [task, items] : open) {
    int64_t best = 0;
    for (const EvalItem* guess : items) {
      int64_t right = 0;
      for (const EvalItem* it : items) right += judge_open(guess->answer, *it);
      best = std::max(best, right);
    }
    open_chance[task] = double(best) / double(items.size());
  }
  EvalSummary s;
  for (const auto& o : outcomes) {
    const bool mcq = !o.item->options.empty();
    const double chance = mcq ? 1.0 / double(o.item->options.size()) : open_chance[o.item->task];
    for (EvalTally* t : {&s.tasks[o.item->task], &s.overall, mcq ? &s.mcq_tasks[o.item->task] : &s.open_tasks[o.item->task],
                         mcq ? &s.mcq : &s.open}) {
      t->n++;
      t->correct += o.correct;
      t->visual_tokens += o.visual_tokens;
      t->chance += chance;
    }
  }
  return s;
}

}  // namespace vl3
