// Benchmarks: multiple-choice and short-answer questions about images and videos, scored per task type.
//
// A benchmark file is a JSON array or JSONL; one record per question:
//   {"id": "q1", "task": "counting", "image": "img.png" | "video": "clip.mp4",
//    "question": "How many red squares?", "options": ["1", "2", "3"], "answer": "B" | 1 | "2"}
// Accepted aliases (MVBench / VideoMME-style files): "candidates" for options; "task_type", "question_type" or
// "type" for task; "question_id" for id; an answer given as a letter, a 0-based index or the option's text;
// options already lettered ("A. cat") are shown as they are. Without options the question is open: the
// answer is matched after normalisation (case, punctuation, articles), or numerically within "tolerance"
// (e.g. seconds for temporal questions).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <map>

#include "vl3/generate.h"

namespace vl3 {

struct EvalItem {
  std::string id, task, origin;  // origin: FILE:LINE
  std::string image, video;      // media path (resolved against the media root)
  std::string question;
  std::vector<std::string> options;
  std::string answer;            // open question: the reference answer; MCQ: the correct option's text
  int answer_index = -1;         // MCQ: index of the correct option
  double tolerance = 0;          // open numeric answers: |prediction - answer| <= tolerance is correct
};

// Reads benchmark files; a malformed record is a vl3::Error naming FILE:LINE and the field.
std::vector<EvalItem> load_benchmark(const std::vector<std::string>& files, const std::string& media_root);

// The official MCQ instruction (MVBench-style):
//   "Question: Q\nOptions:\n(A) x\n(B) y\nAnswer with the option's letter from the given choices directly and only
//   give the best option."   Open questions: the question alone.
std::string eval_prompt(const EvalItem& item);

// The option a response picks: a standalone option letter ("B", "(B)", "B.", "Answer: B") first, else the
// only option whose text the response contains; -1 when none can be found.
int parse_choice(const std::string& response, const std::vector<std::string>& options);

// Open questions: normalised exact or contained match, or a number within the tolerance.
bool judge_open(const std::string& response, const EvalItem& item);

struct EvalOutcome {
  const EvalItem* item = nullptr;
  std::string response;
  int choice = -1;       // MCQ: the option picked (-1: none recognised)
  bool correct = false;
  int64_t visual_tokens = 0;
};

struct EvalOptions {
  PromptOptions prompt;
  int max_new_tokens = 16;
  bool add_system_prompt = false;  // the official evaluations ran without one
};

// Runs every item (greedy decoding) and judges it; `on_item` sees each outcome as it is produced.
std::vector<EvalOutcome> evaluate(Model& model, const std::vector<EvalItem>& items, const EvalOptions& opt,
                                  const std::function<void(const EvalOutcome&)>& on_item = nullptr);

// Accuracy per task. Chance per question: 1/k for k options; for an open question, the best constant guess,
// i.e. the share of the task's open questions that the single most often right reference answer would get
// (judged by judge_open, so tolerances count). Sums over questions; divide by n.
struct EvalTally {
  int64_t n = 0, correct = 0, visual_tokens = 0;
  double chance = 0;
};
struct EvalSummary {
  std::map<std::string, EvalTally> tasks;
  EvalTally overall;
  // The same tallies split by question format: open questions, and multiple-choice ones. A model can know an
  // answer and still fail to give its letter; the split shows it.
  std::map<std::string, EvalTally> open_tasks, mcq_tasks;
  EvalTally open, mcq;
};
EvalSummary summarize_eval(const std::vector<EvalOutcome>& outcomes);

}  // namespace vl3
