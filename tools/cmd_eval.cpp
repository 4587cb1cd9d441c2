// vl3 eval: accuracy on a benchmark file (MCQ or short answers about images/videos), per task type, with a
// JSON report.
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "vl3/error.h"
#include "vl3/eval.h"
#include "vl3/files.h"

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

  const vl3::EvalSummary sum = vl3::summarize_eval(outcomes);
  nlohmann::json jitems = nlohmann::json::array();
  for (const auto& o : outcomes)
    jitems.push_back({{"id", o.item->id}, {"task", o.item->task}, {"response", o.response}, {"choice", o.choice},
                      {"answer", o.item->options.empty() ? nlohmann::json(o.item->answer)
                                                          : nlohmann::json(o.item->answer_index)},
                      {"correct", o.correct}, {"visual_tokens", o.visual_tokens}});
  using Tally = vl3::EvalTally;
  const auto& tasks = sum.tasks;
  const Tally& all = sum.overall;
  auto row = [](const Tally& t) {
    return nlohmann::json{{"n", t.n}, {"correct", t.correct}, {"accuracy", double(t.correct) / double(t.n)},
                          {"chance", t.chance / double(t.n)}, {"mean_visual_tokens", double(t.visual_tokens) / double(t.n)}};
  };
  // A task's tally of one format, or null; its accuracy as text ("-" when there are no such questions).
  auto in = [](const std::map<std::string, Tally>& m, const std::string& name) -> const Tally* {
    const auto it = m.find(name);
    return it == m.end() ? nullptr : &it->second;
  };
  auto pct = [](const Tally* t) {
    char b[32] = "-";
    if (t && t->n > 0) std::snprintf(b, sizeof b, "%.1f%%", 100.0 * t->correct / t->n);
    return std::string(b);
  };
  auto print_row = [&](const std::string& name, const Tally& t, const Tally* open, const Tally* mcq) {
    std::printf("%-24s %6lld %8.1f%% %8.1f%% %14.1f %9s %9s\n", name.c_str(), (long long)t.n, 100.0 * t.correct / t.n,
                100.0 * t.chance / t.n, double(t.visual_tokens) / t.n, pct(open).c_str(), pct(mcq).c_str());
  };
  std::printf("%-24s %6s %9s %9s %14s %9s %9s\n", "task", "n", "accuracy", "chance", "visual tokens", "open", "MCQ");
  nlohmann::json jtasks = nlohmann::json::object();
  for (const auto& [name, t] : tasks) {
    const Tally *open = in(sum.open_tasks, name), *mcq = in(sum.mcq_tasks, name);
    print_row(name, t, open, mcq);
    jtasks[name] = row(t);
    if (open) jtasks[name]["open"] = row(*open);
    if (mcq) jtasks[name]["mcq"] = row(*mcq);
  }
  print_row("overall", all, &sum.open, &sum.mcq);
  if (!f.report.empty()) {
    nlohmann::json jall = row(all);
    if (sum.open.n > 0) jall["open"] = row(sum.open);
    if (sum.mcq.n > 0) jall["mcq"] = row(sum.mcq);
    nlohmann::json rep = {{"model", model->dir}, {"overall", jall}, {"tasks", jtasks}, {"items", jitems}};
    vl3::write_text_file(f.report, rep.dump(2) + "\n");
  }
}

// Markdown: one row per task, one accuracy column per report (NAME=REPORT.json), chance from the first.
void table(const std::vector<std::string>& specs, const std::string& out_path) {
  std::vector<std::pair<std::string, nlohmann::json>> reps;
  for (const auto& spec : specs) {
    const size_t eq = spec.find('=');
    const std::string name = eq == std::string::npos ? spec : spec.substr(0, eq);
    const std::string path = eq == std::string::npos ? spec : spec.substr(eq + 1);
    nlohmann::json j = nlohmann::json::parse(vl3::read_text_file(path), nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("tasks") || !j["tasks"].is_object() || !j.contains("overall"))
      throw vl3::Error(path + ": not a vl3 eval report (bad JSON, or no \"tasks\" / \"overall\")");
    reps.push_back({name, std::move(j)});
  }
  if (reps.empty()) throw vl3::Error("eval-table: no report given");
  std::ostringstream md;
  auto pct = [](double v) { char b[32]; std::snprintf(b, sizeof b, "%.1f", 100.0 * v); return std::string(b); };
  md << "| task | n | chance %";
  for (const auto& r : reps) md << " | " << r.first << " %";
  md << " |\n|---|---|---";
  for (size_t i = 0; i < reps.size(); ++i) md << "|---";
  md << "|\n";
  // One row per task of the first report, then the overall row (task ""); a report without the task shows "-".
  auto row_of = [](const nlohmann::json& rep, const std::string& task) -> const nlohmann::json* {
    if (task.empty()) return &rep.at("overall");
    const auto& tasks = rep.at("tasks");
    return tasks.contains(task) ? &tasks.at(task) : nullptr;
  };
  const auto& first = reps[0].second;
  auto line = [&](const std::string& label, const std::string& task) {
    const nlohmann::json& base = *row_of(first, task);
    md << "| " << label << " | " << base.at("n").get<int64_t>() << " | " << pct(base.at("chance").get<double>());
    for (const auto& r : reps) {
      const nlohmann::json* t = row_of(r.second, task);
      md << " | " << (t ? pct(t->at("accuracy").get<double>()) : std::string("-"));
    }
    md << " |\n";
  };
  for (auto it = first.at("tasks").begin(); it != first.at("tasks").end(); ++it) line(it.key(), it.key());
  line("**overall**", "");
  md << "| mean visual tokens | | ";
  for (const auto& r : reps) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f", r.second.at("overall").at("mean_visual_tokens").get<double>());
    md << " | " << b;
  }
  md << " |\n";
  if (out_path.empty()) {
    std::cout << md.str();
  } else {
    vl3::write_text_file(out_path, md.str());
  }
}

}  // namespace

void register_eval_table(CLI::App& app) {
  struct Flags { std::vector<std::string> reports; std::string out; };
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("eval-table", "Markdown table of vl3 eval reports (accuracy per task, side by side)");
  cmd->add_option("reports", f->reports, "NAME=report.json ... (the first report gives the tasks and chance)")->required();
  cmd->add_option("--out", f->out, "Write the table here (default: standard output)");
  cmd->callback([f] { table(f->reports, f->out); });
}

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
