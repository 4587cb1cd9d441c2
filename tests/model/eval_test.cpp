// vl3 eval's pieces: benchmark parsing (aliases, answers as letter / index / text, errors with line numbers),
// the MCQ prompt, response parsing and open-answer judging; and one end-to-end run on the golden model.
#include <gtest/gtest.h>

#include <fstream>

#include "golden_model.h"
#include "test_util.h"
#include "vl3/error.h"
#include "vl3/eval.h"
#include "vl3/model.h"

TEST(Eval, LoadsRecordsWithAliasesAndAnswerForms) {
  vl3test::TempDir tmp;
  std::ofstream(tmp.str("b.jsonl"))
      << R"({"id": "1", "task": "count", "image": "a.png", "question": "How many?", "options": ["1", "2", "3"], "answer": "B"})" "\n"
      << "\n"
      << R"({"question_id": 7, "task_type": "when", "video": ["v.mp4"], "question": "When?", "candidates": ["0 s", "4 s"], "answer": "4 s"})" "\n"
      << R"({"question": "Colour?", "options": ["A. red", "B. blue"], "answer": 1})" "\n"
      << R"({"question": "At what second?", "answer": "3", "tolerance": 1})" "\n";
  auto items = vl3::load_benchmark({tmp.str("b.jsonl")}, "/media");
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[0].task, "count");
  EXPECT_EQ(items[0].answer_index, 1);
  EXPECT_EQ(items[0].image, "/media/a.png");
  EXPECT_EQ(items[1].id, "7");
  EXPECT_EQ(items[1].task, "when");
  EXPECT_EQ(items[1].video, "/media/v.mp4");
  EXPECT_EQ(items[1].answer_index, 1);
  EXPECT_EQ(items[2].answer, "B. blue");
  EXPECT_EQ(items[2].task, "all");
  EXPECT_TRUE(items[3].options.empty());
  EXPECT_EQ(items[3].tolerance, 1.0);
  EXPECT_EQ(items[0].origin, tmp.str("b.jsonl") + ":1");
  EXPECT_EQ(items[2].origin, tmp.str("b.jsonl") + ":4");

  std::ofstream(tmp.str("bad.jsonl")) << R"({"question": "x", "options": ["a", "b"], "answer": "C"})" "\n";
  try {
    vl3::load_benchmark({tmp.str("bad.jsonl")}, "");
    FAIL() << "no error";
  } catch (const vl3::Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jsonl:1"), std::string::npos) << e.what();
  }
  std::ofstream(tmp.str("bad2.jsonl")) << "{\"question\": \"x\"\n";
  EXPECT_THROW(vl3::load_benchmark({tmp.str("bad2.jsonl")}, ""), vl3::Error);
  EXPECT_THROW(vl3::load_benchmark({tmp.str("missing.jsonl")}, ""), vl3::Error);
}

TEST(Eval, PromptIsTheOfficialMcqInstruction) {
  vl3::EvalItem it;
  it.question = "What colour?";
  it.options = {"red", "blue"};
  EXPECT_EQ(vl3::eval_prompt(it),
            "Question: What colour?\nOptions:\n(A) red\n(B) blue\nAnswer with the option's letter from the given "
            "choices directly and only give the best option.");
  it.options = {"A. red", "B. blue"};
  EXPECT_EQ(vl3::eval_prompt(it).find("(A)"), std::string::npos);
  it.options.clear();
  EXPECT_EQ(vl3::eval_prompt(it), "What colour?");
}

TEST(Eval, ParsesChoicesLikeTheOfficialScripts) {
  std::vector<std::string> o = {"red", "blue", "green"};
  EXPECT_EQ(vl3::parse_choice("B", o), 1);
  EXPECT_EQ(vl3::parse_choice("(C) green", o), 2);
  EXPECT_EQ(vl3::parse_choice("The answer is A.", o), 0);
  EXPECT_EQ(vl3::parse_choice("Blue", o), 1);          // no letter: the option text
  EXPECT_EQ(vl3::parse_choice("D", o), -1);            // not an option
  EXPECT_EQ(vl3::parse_choice("red or blue", o), -1);  // ambiguous
  EXPECT_EQ(vl3::parse_choice("", o), -1);
}

TEST(Eval, JudgesOpenAnswers) {
  vl3::EvalItem it;
  it.answer = "a red square";
  EXPECT_TRUE(vl3::judge_open("Red square.", it));
  EXPECT_TRUE(vl3::judge_open("It is a red square", it));
  EXPECT_FALSE(vl3::judge_open("blue square", it));
  it.answer = "3";
  it.tolerance = 1;
  EXPECT_TRUE(vl3::judge_open("At 4 seconds", it));
  EXPECT_TRUE(vl3::judge_open("2.0s", it));
  EXPECT_FALSE(vl3::judge_open("5", it));
  EXPECT_FALSE(vl3::judge_open("never", it));
}

// End to end on the golden checkpoint: every item gets an answer and a verdict; the scoring is consistent.
TEST(Eval, RunsOnTheGoldenModel) {
  VL3_REQUIRE_GOLDEN();
  vl3test::TempDir tmp;
  std::ofstream(tmp.str("b.jsonl"))
      << R"({"task": "img", "image": "image_131x97.png", "question": "Disc colour?", "options": ["red", "blue"], "answer": 0})" "\n"
      << R"({"task": "vid", "video": "video_160x120_8fps.mp4", "question": "What moves?", "answer": "square"})" "\n";
  auto items = vl3::load_benchmark({tmp.str("b.jsonl")}, vl3test::golden_dir() + "/media");
  vl3::LoadOptions lo;
  lo.dtype = torch::kFloat32;
  auto model = vl3::Model::load(vl3test::golden_model_dir(), lo);
  vl3::EvalOptions eo;
  eo.max_new_tokens = 4;
  int seen = 0;
  auto out = vl3::evaluate(*model, items, eo, [&](const vl3::EvalOutcome&) { ++seen; });
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(seen, 2);
  EXPECT_EQ(out[0].correct, out[0].choice == 0);
  EXPECT_EQ(out[1].correct, vl3::judge_open(out[1].response, items[1]));
  EXPECT_EQ(out[0].visual_tokens, 63);
  EXPECT_GT(out[1].visual_tokens, 0);
}

// summarize_eval: per-task and overall tallies; chance is 1/k for MCQ and, for open questions, the share of the
// task's open questions that the best single reference answer gets right (judged by judge_open).
namespace {

vl3::EvalItem open_item(const std::string& task, const std::string& answer, double tolerance = 0) {
  vl3::EvalItem it;
  it.task = task;
  it.answer = answer;
  it.tolerance = tolerance;
  return it;
}

vl3::EvalItem mcq_item(const std::string& task, int k, int answer_index) {
  vl3::EvalItem it;
  it.task = task;
  for (int i = 0; i < k; ++i) it.options.push_back("option " + std::to_string(i));
  it.answer_index = answer_index;
  it.answer = it.options[size_t(answer_index)];
  return it;
}

std::vector<vl3::EvalOutcome> outcomes_of(const std::vector<vl3::EvalItem>& items, const std::vector<bool>& correct,
                                          const std::vector<int64_t>& visual) {
  std::vector<vl3::EvalOutcome> out;
  for (size_t i = 0; i < items.size(); ++i) {
    vl3::EvalOutcome o;
    o.item = &items[i];
    o.correct = correct[i];
    o.visual_tokens = visual[i];
    out.push_back(o);
  }
  return out;
}

}  // namespace

TEST(EvalSummary, OpenChanceIsTheBestConstantAnswer) {
  const std::vector<vl3::EvalItem> items = {open_item("color", "red"), open_item("color", "red"),
                                            open_item("color", "blue"), open_item("color", "green")};
  const auto s = vl3::summarize_eval(outcomes_of(items, {true, false, true, false}, {10, 20, 30, 40}));
  ASSERT_EQ(s.tasks.size(), 1u);
  const vl3::EvalTally& c = s.tasks.at("color");
  EXPECT_EQ(c.n, 4);
  EXPECT_EQ(c.correct, 2);
  EXPECT_EQ(c.visual_tokens, 100);
  EXPECT_NEAR(c.chance, 2.0, 1e-9);  // "red" is right for 2 of 4: 0.5 each
  EXPECT_NEAR(c.chance / double(c.n), 0.5, 1e-9);
}

TEST(EvalSummary, OpenChanceCountsTolerances) {
  // Guessing 3 (or 4) is within 1 of both 3 and 4: 2 of 3 right.
  const std::vector<vl3::EvalItem> items = {open_item("temporal", "3", 1), open_item("temporal", "4", 1),
                                            open_item("temporal", "8", 1)};
  const auto s = vl3::summarize_eval(outcomes_of(items, {false, true, false}, {0, 0, 0}));
  const vl3::EvalTally& t = s.tasks.at("temporal");
  EXPECT_EQ(t.n, 3);
  EXPECT_EQ(t.correct, 1);
  EXPECT_NEAR(t.chance / 3.0, 2.0 / 3.0, 1e-9);
  // Without a tolerance each answer is right only for itself.
  const std::vector<vl3::EvalItem> exact = {open_item("temporal", "3"), open_item("temporal", "4"),
                                            open_item("temporal", "8")};
  EXPECT_NEAR(vl3::summarize_eval(outcomes_of(exact, {false, false, false}, {0, 0, 0})).tasks.at("temporal").chance,
              1.0, 1e-9);
  // Contained matches count too: the answer "dark red" also matches the reference "red".
  const std::vector<vl3::EvalItem> contained = {open_item("c", "red"), open_item("c", "dark red"), open_item("c", "blue")};
  EXPECT_NEAR(vl3::summarize_eval(outcomes_of(contained, {false, false, false}, {0, 0, 0})).tasks.at("c").chance,
              2.0, 1e-9);
}

TEST(EvalSummary, McqChanceAndOverallSums) {
  std::vector<vl3::EvalItem> items = {
      mcq_item("count", 4, 0),  mcq_item("count", 4, 3),  // 0.25 each
      mcq_item("mixed", 2, 1),                            // 0.5
      open_item("mixed", "cat"), open_item("mixed", "dog"),  // open within the task: 0.5 each (MCQ not counted)
      open_item("color", "red"), open_item("color", "red"), open_item("color", "blue"), open_item("color", "green"),
  };
  const auto s = vl3::summarize_eval(
      outcomes_of(items, {true, true, false, true, false, true, true, false, false}, {5, 5, 7, 0, 0, 1, 1, 1, 1}));
  ASSERT_EQ(s.tasks.size(), 3u);
  EXPECT_EQ(s.tasks.at("count").n, 2);
  EXPECT_EQ(s.tasks.at("count").correct, 2);
  EXPECT_NEAR(s.tasks.at("count").chance, 0.5, 1e-9);
  EXPECT_EQ(s.tasks.at("count").visual_tokens, 10);
  EXPECT_EQ(s.tasks.at("mixed").n, 3);
  EXPECT_EQ(s.tasks.at("mixed").correct, 1);
  EXPECT_NEAR(s.tasks.at("mixed").chance, 0.5 + 0.5 + 0.5, 1e-9);
  EXPECT_EQ(s.tasks.at("mixed").visual_tokens, 7);
  EXPECT_NEAR(s.tasks.at("color").chance, 2.0, 1e-9);
  EXPECT_EQ(s.tasks.at("color").correct, 2);
  EXPECT_EQ(s.overall.n, 9);
  EXPECT_EQ(s.overall.correct, 5);
  EXPECT_EQ(s.overall.visual_tokens, 21);
  EXPECT_NEAR(s.overall.chance, 0.5 + 1.5 + 2.0, 1e-9);
  // Each task's tallies add up to the overall ones.
  int64_t n = 0, correct = 0, visual = 0;
  double chance = 0;
  for (const auto& [name, t] : s.tasks) n += t.n, correct += t.correct, visual += t.visual_tokens, chance += t.chance;
  EXPECT_EQ(n, s.overall.n);
  EXPECT_EQ(correct, s.overall.correct);
  EXPECT_EQ(visual, s.overall.visual_tokens);
  EXPECT_NEAR(chance, s.overall.chance, 1e-9);
  // Split by format: "mixed" has one MCQ question (wrong) and two open ones (one right); "count" is all MCQ.
  EXPECT_EQ(s.mcq_tasks.at("mixed").n, 1);
  EXPECT_EQ(s.mcq_tasks.at("mixed").correct, 0);
  EXPECT_NEAR(s.mcq_tasks.at("mixed").chance, 0.5, 1e-9);
  EXPECT_EQ(s.open_tasks.at("mixed").n, 2);
  EXPECT_EQ(s.open_tasks.at("mixed").correct, 1);
  EXPECT_NEAR(s.open_tasks.at("mixed").chance, 1.0, 1e-9);
  EXPECT_EQ(s.open_tasks.count("count"), 0u);
  EXPECT_EQ(s.mcq_tasks.count("color"), 0u);
  EXPECT_EQ(s.mcq.n, 3);
  EXPECT_EQ(s.mcq.correct, 2);
  EXPECT_EQ(s.open.n, 6);
  EXPECT_EQ(s.open.correct, 3);
  EXPECT_EQ(s.mcq.n + s.open.n, s.overall.n);
  EXPECT_NEAR(s.mcq.chance + s.open.chance, s.overall.chance, 1e-9);
}

TEST(EvalSummary, EmptyAndSingleQuestion) {
  const auto empty = vl3::summarize_eval({});
  EXPECT_TRUE(empty.tasks.empty());
  EXPECT_EQ(empty.overall.n, 0);
  EXPECT_EQ(empty.overall.chance, 0.0);
  // One open question: the constant answer is its own, so chance is 1.
  const std::vector<vl3::EvalItem> one = {open_item("t", "seven")};
  const auto s = vl3::summarize_eval(outcomes_of(one, {false}, {3}));
  EXPECT_NEAR(s.tasks.at("t").chance, 1.0, 1e-9);
  EXPECT_EQ(s.overall.visual_tokens, 3);
}
