// The small self-trained model's tools through the vl3 binary: make-tokenizer on annotation files, make-model
// --preset small --tokenizer (vocabulary and special ids from the learned tokenizer), running the result, and
// eval-table's markdown from eval reports.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_util.h"
#include "test_util.h"
#include "vl3/safetensors.h"
#include "vl3/tokenizer.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using vl3test::run_vl3;

namespace {

// A small training file in the official format (images, videos, text-only).
void write_annotations(const std::string& path) {
  const char* colours[] = {"red", "green", "blue", "yellow"};
  const char* shapes[] = {"circle", "square", "triangle"};
  std::ofstream f(path);
  for (int i = 0; i < 40; ++i) {
    const std::string c = colours[i % 4], s = shapes[i % 3];
    json rec = {{"id", "r" + std::to_string(i)}};
    if (i % 3 == 2) {
      rec["video"] = json::array({"vid/" + std::to_string(i) + ".mp4"});
      rec["conversations"] = {{{"from", "human"}, {"value", "<video>\nWhen does the " + c + " " + s + " appear?"}},
                              {{"from", "gpt"}, {"value", "At " + std::to_string(i % 8) + " seconds."}}};
    } else {
      rec["image"] = "img/" + std::to_string(i) + ".png";
      rec["conversations"] = {{{"from", "human"}, {"value", "<image>\nWhat colour is the " + s + "?"}},
                              {{"from", "gpt"}, {"value", "The " + s + " is " + c + "."}}};
    }
    f << rec.dump() << "\n";
  }
}

}  // namespace

TEST(CliSmall, MakeTokenizerThenSmallModelThenRun) {
  vl3test::TempDir tmp;
  write_annotations(tmp.str("train.jsonl"));
  const auto tk = run_vl3("make-tokenizer --data " + tmp.str("train.jsonl") + " --out " + tmp.str("tok") + " --vocab-size 400");
  ASSERT_EQ(tk.code, 0) << tk.out;
  EXPECT_NE(tk.out.find("merges"), std::string::npos) << tk.out;
  ASSERT_TRUE(fs::exists(tmp.str("tok/tokenizer.json")));
  ASSERT_TRUE(fs::exists(tmp.str("tok/tokenizer_config.json")));
  const vl3::Tokenizer tok = vl3::Tokenizer::from_file(tmp.str("tok/tokenizer.json"));
  const json tj = json::parse(vl3test::read_file(tmp.str("tok/tokenizer.json")));
  EXPECT_LE(tj.at("model").at("vocab").size(), 400u);
  EXPECT_GT(tj.at("model").at("merges").size(), 0u);
  // Words of the corpus are learned: "colour" with its leading space is one token.
  EXPECT_EQ(tok.encode(" colour").size(), 1u);
  const int image_id = tok.token_to_id("<image>"), eot = tok.token_to_id("<|endoftext|>"),
            im_end = tok.token_to_id("<|im_end|>");
  ASSERT_GE(image_id, 0);
  ASSERT_GE(eot, 0);
  ASSERT_GE(im_end, 0);
  EXPECT_LT(tok.vocab_size(), 600u);

  const auto mm = run_vl3("make-model --preset small --seed 3 --tokenizer " + tmp.str("tok") + " " + tmp.str("m"));
  ASSERT_EQ(mm.code, 0) << mm.out;
  const json cfg = json::parse(vl3test::read_file(tmp.str("m/config.json")));
  const int64_t vs = cfg.at("vocab_size").get<int64_t>();
  EXPECT_EQ(vs % 64, 0) << vs;
  EXPECT_GE(vs, int64_t(tok.vocab_size()));
  EXPECT_LT(vs, int64_t(tok.vocab_size()) + 64);
  EXPECT_EQ(cfg.at("image_token_index").get<int>(), image_id);
  EXPECT_EQ(cfg.at("bos_token_id").get<int>(), eot);
  const json& eos = cfg.at("eos_token_id");
  EXPECT_EQ(eos.is_array() ? eos.at(0).get<int>() : eos.get<int>(), im_end) << eos;
  EXPECT_EQ(cfg.at("hidden_size").get<int>(), 256);
  EXPECT_EQ(cfg.at("num_hidden_layers").get<int>(), 4);
  const json gen = json::parse(vl3test::read_file(tmp.str("m/generation_config.json")));
  EXPECT_EQ(gen.at("eos_token_id"), json::array({im_end, eot}));
  EXPECT_EQ(gen.at("bos_token_id").get<int>(), eot);
  EXPECT_EQ(gen.at("pad_token_id").get<int>(), eot);
  // The model directory carries the learned tokenizer, byte for byte.
  EXPECT_TRUE(vl3test::read_file(tmp.str("m/tokenizer.json")) == vl3test::read_file(tmp.str("tok/tokenizer.json")));
  EXPECT_TRUE(vl3test::read_file(tmp.str("m/tokenizer_config.json")) ==
              vl3test::read_file(tmp.str("tok/tokenizer_config.json")));

  // Random weights: the answer is noise, but it runs.
  const auto run = run_vl3("run -m " + tmp.str("m") + " -p \"hello\" --max-new-tokens 3");
  EXPECT_EQ(run.code, 0) << run.out;
  EXPECT_EQ(run.out.find("vl3: error"), std::string::npos) << run.out;
  // The tokenize subcommand uses the model's own vocabulary.
  const auto enc = run_vl3("tokenize -m " + tmp.str("m"), "<image>");
  EXPECT_EQ(enc.code, 0) << enc.out;
  EXPECT_NE(enc.out.find(std::to_string(image_id)), std::string::npos) << enc.out;
}

TEST(CliSmall, MakeModelWithAMissingTokenizerFails) {
  vl3test::TempDir tmp;
  const auto r = run_vl3("make-model --preset small --tokenizer /nonexistent " + tmp.str("m"));
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("/nonexistent"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("terminate called"), std::string::npos) << r.out;
}

TEST(CliSmall, MakeTokenizerReportsBadAnnotations) {
  vl3test::TempDir tmp;
  std::ofstream(tmp.str("bad.jsonl")) << R"({"conversations": []})" "\n" << "{not json\n";
  const auto r = run_vl3("make-tokenizer --data " + tmp.str("bad.jsonl") + " --out " + tmp.str("tok"));
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_NE(r.out.find(tmp.str("bad.jsonl") + ":2"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(tmp.str("tok/tokenizer.json")));
  EXPECT_NE(run_vl3("make-tokenizer --data " + tmp.str("bad.jsonl") + " --out " + tmp.str("tok") + " --vocab-size 100").code, 0);
}

namespace {

json tally(int64_t n, int64_t correct, double chance, double visual) {
  return {{"n", n}, {"correct", correct}, {"accuracy", double(correct) / double(n)}, {"chance", chance},
          {"mean_visual_tokens", visual}};
}

}  // namespace

TEST(CliSmall, EvalTableSideBySide) {
  vl3test::TempDir tmp;
  const json a = {{"model", "runs/a"},
                  {"overall", tally(6, 3, 0.3, 64.0)},
                  {"tasks", {{"color", tally(4, 2, 0.25, 64.0)}, {"count", tally(2, 1, 1.0 / 3.0, 64.0)}}}};
  const json b = {{"model", "runs/b"},
                  {"overall", tally(4, 3, 0.25, 100.5)},
                  {"tasks", {{"color", tally(4, 3, 0.25, 100.5)}}}};
  std::ofstream(tmp.str("a.json")) << a.dump(2);
  std::ofstream(tmp.str("b.json")) << b.dump(2);
  const auto r = run_vl3("eval-table base=" + tmp.str("a.json") + " tuned=" + tmp.str("b.json") + " --out " + tmp.str("t.md"));
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string md = vl3test::read_file(tmp.str("t.md"));
  EXPECT_NE(md.find("| task | n | chance % | base % | tuned % |"), std::string::npos) << md;
  EXPECT_NE(md.find("| color | 4 | 25.0 | 50.0 | 75.0 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| count | 2 | 33.3 | 50.0 | - |"), std::string::npos) << md;  // not in the second report
  EXPECT_NE(md.find("| **overall** | 6 | 30.0 | 50.0 | 75.0 |"), std::string::npos) << md;
  EXPECT_NE(md.find("64.0"), std::string::npos) << md;
  EXPECT_NE(md.find("100.5"), std::string::npos) << md;
  // Without --out the table goes to standard output.
  const auto s = run_vl3("eval-table base=" + tmp.str("a.json") + " tuned=" + tmp.str("b.json"));
  ASSERT_EQ(s.code, 0) << s.out;
  EXPECT_NE(s.out.find("| color | 4 | 25.0 | 50.0 | 75.0 |"), std::string::npos) << s.out;
}

TEST(CliSmall, EvalTableRejectsWhatIsNotAReport) {
  vl3test::TempDir tmp;
  std::ofstream(tmp.str("a.json")) << json{{"model", "m"}, {"overall", tally(1, 1, 0.5, 0)}, {"tasks", json::object()}}.dump();
  std::ofstream(tmp.str("other.json")) << R"({"vocab_size": 1088, "hidden_size": 256})";
  std::ofstream(tmp.str("broken.json")) << "{\"tasks\": ";
  for (const char* bad : {"other.json", "broken.json"}) {
    const auto r = run_vl3("eval-table a=" + tmp.str("a.json") + " x=" + tmp.str(bad));
    EXPECT_NE(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("not a vl3 eval report"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(bad), std::string::npos) << r.out;
  }
  const auto missing = run_vl3("eval-table a=" + tmp.str("missing.json"));
  EXPECT_NE(missing.code, 0) << missing.out;
  EXPECT_NE(missing.out.find("missing.json"), std::string::npos) << missing.out;
}

// --init train (the default of the small preset): HF's from-scratch init, N(0, 0.02) matrices, zero biases, unit
// norms; --init golden keeps the golden checkpoint's large random scales.
TEST(CliSmall, SmallPresetUsesTheTrainingInit) {
  vl3test::TempDir tmp;
  write_annotations(tmp.str("train.jsonl"));
  ASSERT_EQ(run_vl3("make-tokenizer --data " + tmp.str("train.jsonl") + " --out " + tmp.str("tok")).code, 0);
  ASSERT_EQ(run_vl3("make-model --preset small --tokenizer " + tmp.str("tok") + " " + tmp.str("m")).code, 0);
  ASSERT_EQ(run_vl3("make-model --preset small --init golden --tokenizer " + tmp.str("tok") + " " + tmp.str("g")).code, 0);
  auto stats = [](const std::string& dir, const std::string& name, double* mean, double* sd) {
    auto ck = vl3::SafetensorsCheckpoint::open(dir);
    const vl3::TensorView* t = ck.find(name);
    ASSERT_NE(t, nullptr) << name;
    ASSERT_EQ(t->dtype, vl3::DType::F32);
    const int64_t n = t->numel();
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; ++i) {
      float v;
      std::memcpy(&v, t->data + 4 * i, 4);
      s += v;
      s2 += double(v) * v;
    }
    *mean = s / double(n);
    *sd = std::sqrt(std::max(0.0, s2 / double(n) - *mean * *mean));
  };
  double m = 0, sd = 0;
  stats(tmp.str("m"), "model.layers.0.mlp.up_proj.weight", &m, &sd);
  EXPECT_NEAR(sd, 0.02, 0.001);
  stats(tmp.str("m"), "model.vision_encoder.encoder.layers.0.mlp.fc1.bias", &m, &sd);
  EXPECT_EQ(m, 0.0);
  EXPECT_EQ(sd, 0.0);
  stats(tmp.str("m"), "model.norm.weight", &m, &sd);
  EXPECT_EQ(m, 1.0);
  EXPECT_EQ(sd, 0.0);
  stats(tmp.str("g"), "model.layers.0.mlp.up_proj.weight", &m, &sd);
  EXPECT_NEAR(sd, 1.0 / 16.0, 0.003);  // 1/sqrt(hidden 256)
  // The small model's visual budget: images merged 2x2 like video frames, 9 to 16 tokens per image or frame.
  const json pre = json::parse(vl3test::read_file(tmp.str("m/preprocessor_config.json")));
  EXPECT_EQ(pre.at("min_tokens").get<int>(), 9);
  EXPECT_EQ(pre.at("max_tokens").get<int>(), 16);
  const json proc = json::parse(vl3test::read_file(tmp.str("m/processor_config.json")));
  EXPECT_EQ(proc.at("image_merge_size").get<int>(), 2);
  const auto bad = run_vl3("make-model --preset small --init nope " + tmp.str("x"));
  EXPECT_NE(bad.code, 0);
}
