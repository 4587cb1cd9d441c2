// The vl3 binary as a user runs it: exit codes, error messages, and the golden text case through `vl3 dump`.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "golden_model.h"
#include "model/tensor_io.h"
#include "cli_util.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

using vl3test::run_vl3;

const std::string& tiny() {
  static vl3test::TempDir tmp;
  static std::string dir = [] {
    auto r = run_vl3("make-model --preset tiny --seed 1 " + tmp.str("tiny"));
    EXPECT_EQ(r.code, 0) << r.out;
    return tmp.str("tiny");
  }();
  return dir;
}

#define EXPECT_FAILS_WITH(res, text)                                   \
  do {                                                                 \
    auto r_ = (res);                                                   \
    EXPECT_NE(r_.code, 0) << r_.out;                                   \
    EXPECT_NE(r_.out.find(text), std::string::npos) << r_.out;         \
    EXPECT_EQ(r_.out.find("terminate called"), std::string::npos);     \
  } while (0)

}  // namespace

TEST(Cli, HelpListsSubcommands) {
  auto r = run_vl3("--help");
  EXPECT_EQ(r.code, 0);
  for (const char* s : {"run", "inspect", "tokenize", "make-model", "dump", "bench"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s;
  EXPECT_NE(run_vl3("no-such-command").code, 0);
}

TEST(Cli, RunAnswersATextPrompt) {
  auto r = run_vl3("run -m " + tiny() + " -p \"Hello there\" --max-new-tokens 4 --timing");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("decode"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("prefill"), std::string::npos) << r.out;
}

TEST(Cli, ErrorsAreClearAndNonZero) {
  EXPECT_FAILS_WITH(run_vl3("run -m /no/such/dir -p hi"), "no such model directory");
  EXPECT_FAILS_WITH(run_vl3("run -m " + tiny()), "nothing to answer");
  EXPECT_FAILS_WITH(run_vl3("run -m " + tiny() + " --messages -", "[{\"role\": \"user\", \"content\": "), "invalid JSON");
  EXPECT_FAILS_WITH(run_vl3("run -m " + tiny() + " --messages -", "[{\"content\": \"hi\"}]"), "role");
  EXPECT_FAILS_WITH(run_vl3("run -m " + tiny() + " --messages /no/file.json"), "/no/file.json");
  EXPECT_FAILS_WITH(run_vl3("run -m " + tiny() + " --ctx 16 -p \"" + std::string(200, 'x') + " and more words\""),
                    "context holds");
  EXPECT_FAILS_WITH(run_vl3("run -m " + tiny() + " -p hi --temperature 0.5 --top-p 0"), "top_p");
  EXPECT_FAILS_WITH(run_vl3("make-model --preset huge /tmp/x"), "huge");
  EXPECT_FAILS_WITH(run_vl3("tokenize --decode --tokenizer " + tiny() + "/tokenizer.json", "[1, \"a\"]"), "integers");
  EXPECT_FAILS_WITH(run_vl3("inspect -m /no/such/dir"), "no such model directory");
}

TEST(Cli, BrokenCheckpointIsReported) {
  vl3test::TempDir tmp;
  fs::copy(tiny(), tmp.str("m"));
  std::ofstream(tmp.str("m/model.safetensors"), std::ios::binary | std::ios::trunc) << "garbage";
  EXPECT_FAILS_WITH(run_vl3("run -m " + tmp.str("m") + " -p hi"), "model.safetensors");
}

TEST(Cli, TokenizeRoundTrip) {
  auto enc = run_vl3("tokenize --tokenizer " + tiny() + "/tokenizer.json", "Hello world<image>");
  ASSERT_EQ(enc.code, 0) << enc.out;
  EXPECT_EQ(nlohmann::json::parse(enc.out), nlohmann::json({9707, 1879, 151665}));
  auto dec = run_vl3("tokenize --decode -m " + tiny(), "[9707, 1879, 151665]");
  EXPECT_EQ(dec.code, 0);
  EXPECT_EQ(dec.out, "Hello world<image>");
}

TEST(Cli, InspectShowsModulesAndMatch) {
  auto r = run_vl3("inspect -m " + tiny());
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("vision tower"), std::string::npos);
  EXPECT_NE(r.out.find("every tensor the config needs is present"), std::string::npos);
  EXPECT_NE(r.out.find("model.layers.1.mlp.down_proj.weight"), std::string::npos);
}

// `vl3 dump` on every golden inference case, from the media files as a user gives them: pixels, resized
// images, timestamps and DiffFP mask exact; vision features and logits within 1e-4; greedy tokens identical.
TEST(Cli, DumpMatchesEveryGoldenCase) {
  VL3_REQUIRE_GOLDEN();
  int cases = 0;
  for (const auto& e : fs::directory_iterator(vl3test::golden_dir() + "/cases")) {
    if (!fs::exists(e.path() / "llm.safetensors")) continue;
    SCOPED_TRACE(e.path().filename().string());
    ++cases;
    auto meta = nlohmann::json::parse(vl3test::read_file((e.path() / "meta.json").string()));
    std::string flags = meta.value("add_system_prompt", false) ? " --add-system-prompt" : "";
    if (meta["preprocessor_overrides"].contains("max_tokens"))
      flags += " --max-visual-tokens " + std::to_string(meta["preprocessor_overrides"]["max_tokens"].get<int>());
    vl3test::TempDir tmp;
    auto want = vl3::read_tensors((e.path() / "llm.safetensors").string());
    auto in = vl3::read_tensors((e.path() / "inputs.safetensors").string());
    const int n_gen = int(want.at("gen_ids").numel());
    auto r = run_vl3("dump -m " + vl3test::golden_model_dir() + " --messages " + (e.path() / "meta.json").string() +
                     " --media-root " + vl3test::golden_dir() + "/media" + flags + " --greedy-tokens " +
                     std::to_string(n_gen) + " --out " + tmp.str("dump.safetensors"));
    ASSERT_EQ(r.code, 0) << r.out;
    auto got = vl3::read_tensors(tmp.str("dump.safetensors"));
    if (fs::exists(e.path() / "vision.safetensors")) {
      auto vis = vl3::read_tensors((e.path() / "vision.safetensors").string());
      for (const auto& [name, t] : in) {
        const bool exact = name == "pixel_values" || name == "grid_sizes" || name == "merge_sizes" ||
                           name == "resized_hw" || name == "item_modal" ||
                           (name.rfind("item", 0) == 0 && name.find("_source_u8") == std::string::npos);
        if (!exact) continue;
        ASSERT_TRUE(got.count(name)) << name;
        EXPECT_TRUE(torch::equal(got.at(name), t)) << name << " differs";
      }
      EXPECT_TRUE(torch::equal(got.at("input_ids_unpruned"), in.at("input_ids")));
      EXPECT_TRUE(torch::equal(got.at("compression_mask"), vis.at("compression_mask")));
      for (const char* name : {"patch_embeds", "encoder_layer_out", "pre_merge", "merged", "projected"})
        EXPECT_LT((got.at(name) - vis.at(name)).abs().max().item<double>(), 1e-4) << name;
    }
    EXPECT_TRUE(torch::equal(got.at("input_ids"), want.at("input_ids_pruned")));
    auto pos = want.at("logits_last_positions");
    auto logits = got.at("logits").index_select(0, pos);
    const auto& ref = want.at("logits_last");
    EXPECT_LT((logits - ref).abs().max().item<double>(), 1e-4);
    EXPECT_LT(((logits - ref).norm() / ref.norm()).item<double>(), 1e-4);
    EXPECT_TRUE(torch::equal(got.at("gen_ids"), want.at("gen_ids"))) << got.at("gen_ids") << want.at("gen_ids");
  }
  EXPECT_GT(cases, 0);
}

TEST(Cli, BadMediaIsAClearError) {
  vl3test::TempDir tmp;
  std::ofstream(tmp.str("empty.png"), std::ios::binary);
  std::ofstream(tmp.str("junk.jpg"), std::ios::binary) << std::string(1000, 'x');
  std::ofstream(tmp.str("junk.mp4"), std::ios::binary) << std::string(5000, '\x01');
  EXPECT_FAILS_WITH(run_vl3("run -m " + tiny() + " --image /no/such.png -p hi"), "/no/such.png");
  EXPECT_FAILS_WITH(run_vl3("run -m " + tiny() + " --image " + tmp.str("empty.png") + " -p hi"), "empty.png");
  EXPECT_FAILS_WITH(run_vl3("run -m " + tiny() + " --image " + tmp.str("junk.jpg") + " -p hi"), "junk.jpg");
  EXPECT_FAILS_WITH(run_vl3("run -m " + tiny() + " --video " + tmp.str("junk.mp4") + " -p hi"), "junk.mp4");
  EXPECT_FAILS_WITH(run_vl3("run -m " + tiny() + " --video /no/such.mp4 -p hi"), "/no/such.mp4");
}

TEST(Cli, RunsOnAnImageAndAVideo) {
  VL3_REQUIRE_GOLDEN();
  const std::string media = vl3test::golden_dir() + "/media/";
  auto img = run_vl3("run -m " + tiny() + " --image " + media + "image_300x200.png -p \"Describe.\" --max-new-tokens 2 --timing");
  EXPECT_EQ(img.code, 0) << img.out;
  EXPECT_NE(img.out.find("visual tokens"), std::string::npos) << img.out;
  auto vid = run_vl3("run -m " + tiny() + " --video " + media + "video_160x120_8fps.mp4 -p \"What moves?\" --max-new-tokens 2");
  EXPECT_EQ(vid.code, 0) << vid.out;
  // 6 frames of 4x6 merged tokens; the static stretch prunes (the golden case keeps 61 of 144).
  EXPECT_NE(vid.out.find("6 frames sampled | 144 visual tokens -> 61 after pruning"), std::string::npos) << vid.out;
}
