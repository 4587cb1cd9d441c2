// vl3 eval: accuracy on a benchmark file (MCQ or short answers about images/videos), per task type, with a
// JSON report.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "vl3/error.h"
#include "vl3/eval.h"

namespace vl3cli {
namespace {

struct EvalFlags {
  ModelFlags model;
  std::vector<std::string> bench;
  std::string media_root, report;
  int max_new_tokens = 16, max_visual_tokens = 0, max_frames = 0, limit = 0;
  double fps = 0;
  bool no_prune = false, add_system_prompt = false, verbose = false;
};

void run(const EvalFlags& f) {
  auto items = vl3::load_benchmark(f.bench, f.media_root);
  if (f.limit > 0 && size_t(f.limit) < items.size()) items.resize(size_t(f.limit));
  if (items.empty()) throw vl3::Error("the benchmark has no question");
  auto model = load_model(f.model);
  vl3::EvalOptions eo;
  eo.max_new_tokens = f.max_new_tokens;
  eo.add_system_prompt = f.add_system_prompt;
  eo.prompt.max_visual_tokens = f.max_visual_tokens;
  eo.prompt.fps = f.fps;
  eo.prompt.max_frames = f.max_frames;
  eo.prompt.prune = !f.no_prune;
  size_t done = 0;
  auto outcomes = vl3::evaluate(*model, items, eo, [&](const vl3::EvalOutcome& o) {
    ++done;
    if (f.verbose)
      std::cout << "[" << done << "/" << items.size() << "] " << o.item->id << " (" << o.item->task << ") "
                << (o.correct ? "correct" : "wrong") << ": " << o.response << "\n";
  });

  struct Tally { int64_t n = 0, correct = 0, visual = 0; double chance = 0; };
  std::map<std::string, Tally> tasks;
  Tally all;
  nlohmann::json jitems = nlohmann::json::array();
  for (const auto& o : outcomes) {
    const double chance = o.item->options.empty() ? 0.0 : 1.0 / double(o.item->options.size());
    for (Tally* t : {&tasks[o.item->task], &all}) {
      t->n++;
      t->correct += o.correct;
      t->visual += o.visual_tokens;
      t->chance += chance;
    }
    jitems.push_back({{"id", o.item->id}, {"task", o.item->task}, {"response", o.response}, {"choice", o.choice},
                      {"answer", o.item->options.empty() ? nlohmann::json(o.item->answer)
                                                          : nlohmann::json(o.item->answer_index)},
                      {"correct", o.correct}, {"visual_tokens", o.visual_tokens}});
  }
  auto row = [](const Tally& t) {
    return nlohmann::json{{"n", t.n}, {"correct", t.correct}, {"accuracy", double(t.correct) / double(t.n)},
                          {"chance", t.chance / double(t.n)}, {"mean_visual_tokens", double(t.visual) / double(t.n)}};
  };
  std::printf("%-24s %6s %9s %9s %14s\n", "task", "n", "accuracy", "chance", "visual tokens");
  nlohmann::json jtasks = nlohmann::json::object();
  for (const auto& [name, t] : tasks) {
    std::printf("%-24s %6lld %8.1f%% %8.1f%% %14.1f\n", name.c_str(), (long long)t.n, 100.0 * t.correct / t.n,
                100.0 * t.chance / t.n, double(t.visual) / t.n);
    jtasks[name] = row(t);
  }
  std::printf("%-24s %6lld %8.1f%% %8.1f%% %14.1f\n", "overall", (long long)all.n, 100.0 * all.correct / all.n,
              100.0 * all.chance / all.n, double(all.visual) / all.n);
  if (!f.report.empty()) {
    nlohmann::json rep = {{"model", model->dir}, {"overall", row(all)}, {"tasks", jtasks}, {"items", jitems}};
    std::ofstream out(f.report);
    out << rep.dump(2) << "\n";
    if (!out) throw vl3::Error(f.report + ": cannot write the report");
  }
}

}  // namespace

void register_eval(CLI::App& app) {
  auto f = std::make_shared<EvalFlags>();
  auto* cmd = app.add_subcommand("eval", "Accuracy on a benchmark file (MCQ / short answers), per task type");
  add_model_flags(cmd, f->model);
  cmd->add_option("--bench", f->bench, "Benchmark files (.json array or .jsonl)")->required()->expected(1, -1);
  cmd->add_option("--media-root", f->media_root, "Base of relative media paths (default: the file's directory)");
  cmd->add_option("--report", f->report, "Write a JSON report (per task and per item) here");
  cmd->add_option("--max-new-tokens", f->max_new_tokens, "Answer length (default 16)");
  cmd->add_option("--max-visual-tokens", f->max_visual_tokens, "Visual token budget per question");
  cmd->add_option("--fps", f->fps, "Video sampling rate");
  cmd->add_option("--max-frames", f->max_frames, "Most frames per video");
  cmd->add_option("--limit", f->limit, "Only the first N questions");
  cmd->add_flag("--no-prune", f->no_prune, "No Differential Frame Pruning");
  cmd->add_flag("--add-system-prompt", f->add_system_prompt, "Use the default system prompt");
  cmd->add_flag("-v,--verbose", f->verbose, "One line per question");
  cmd->callback([f] { run(*f); });
}

}  // namespace vl3cli
