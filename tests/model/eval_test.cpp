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
