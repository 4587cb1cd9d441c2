// Training checkpoints: the model directory reloads bit-exactly, config/tokenizer/remote-code files come along,
// optimizer state round-trips, replacement is atomic, latest_checkpoint and prune_checkpoints pick by number.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "golden_model.h"
#include "test_util.h"
#include "train/checkpoint.h"
#include "train/optimizer.h"
#include "vl3/error.h"
#include "vl3/make_model.h"
#include "vl3/model.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// A tiny official-layout model directory with remote-code files, made once.
const std::string& source_dir() {
  static vl3test::TempDir tmp;
  static std::string dir = [] {
    std::string d = tmp.str("src");
    vl3::MakeModelOptions o;
    o.seed = 5;
    vl3::make_model(d, o);
    std::ofstream(d + "/modeling_videollama3.py") << "# remote code\n";
    std::ofstream(d + "/configuration_videollama3.py") << "# remote config\n";
    // Not to be copied: a checkpoint has its own weights (model.safetensors wins over an index when loading).
    std::ofstream(d + "/model.safetensors.index.json") << R"({"weight_map": {}})";
    return d;
  }();
  return dir;
}

// Every parameter of `net` equals the same-named one of `other` exactly (after conversion to `dtype`).
void expect_same_weights(vl3::VideoLlama3Impl& net, vl3::VideoLlama3Impl& other, torch::Dtype dtype) {
  auto a = vl3::named_weights(net), b = vl3::named_weights(other);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].first, b[i].first);
    EXPECT_EQ(b[i].second.scalar_type(), dtype) << b[i].first;
    EXPECT_TRUE(torch::equal(a[i].second.to(dtype), b[i].second)) << a[i].first;
  }
}

// An optimizer over a few of the model's parameters that took one step with random gradients.
std::unique_ptr<vl3::AdamW> one_step(vl3::Model& m) {
  auto params = vl3::named_weights(*m.net);
  vl3::ParamGroup g{"llm", 1e-2, 0.1, {}}, nd{"llm/no_decay", 1e-2, 0.0, {}};
  for (size_t i = 0; i < params.size(); i += 7) (i % 2 ? nd : g).params.push_back(params[i]);
  torch::manual_seed(0);
  for (auto* grp : {&g, &nd})
    for (auto& [name, p] : grp->params) {
      p.set_requires_grad(true);
      p.mutable_grad() = torch::randn_like(p);
    }
  auto opt = std::make_unique<vl3::AdamW>(std::vector<vl3::ParamGroup>{g, nd});
  opt->step(1.0);
  opt->zero_grad();
  return opt;
}

std::vector<std::string> dot_entries(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string()[0] == '.') out.push_back(e.path().filename().string());
  return out;
}

}  // namespace

TEST(Checkpoint, WritesAReloadableModelAndOptimizerState) {
  auto model = vl3::Model::load(source_dir());
  auto opt = one_step(*model);
  vl3test::TempDir out;
  json state = {{"global_step", 1}, {"epoch", 0.5}};
  vl3::write_checkpoint(*model, opt.get(), state, out.str(), "checkpoint-1", torch::kFloat32);
  const std::string ck = out.str("checkpoint-1");
  EXPECT_TRUE(dot_entries(out.str()).empty());  // no temporary directory left

  // Weights: bit-exact with the in-memory (updated) model.
  auto back = vl3::Model::load(ck);
  expect_same_weights(*model->net, *back->net, torch::kFloat32);

  // config.json: the source's, torch_dtype set.
  auto cfg = vl3::read_json_file(ck + "/config.json"), src_cfg = vl3::read_json_file(source_dir() + "/config.json");
  EXPECT_EQ(cfg["torch_dtype"], "float32");
  src_cfg["torch_dtype"] = "float32";
  if (src_cfg.contains("vision_encoder_config")) src_cfg["vision_encoder_config"]["torch_dtype"] = "float32";
  EXPECT_EQ(cfg, src_cfg);

  // Tokenizer / processor files and remote code copied byte for byte; weights only ours.
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "chat_template.json", "preprocessor_config.json",
                        "processor_config.json", "generation_config.json", "modeling_videollama3.py",
                        "configuration_videollama3.py"}) {
    ASSERT_TRUE(fs::exists(ck + "/" + f)) << f;
    EXPECT_EQ(vl3test::read_file(ck + "/" + f), vl3test::read_file(source_dir() + "/" + f)) << f;
  }
  EXPECT_FALSE(fs::exists(ck + "/model.safetensors.index.json"));

  // Trainer state and optimizer state.
  auto ts = vl3::read_trainer_state(ck);
  EXPECT_EQ(ts["global_step"], 1);
  EXPECT_EQ(ts["epoch"], 0.5);
  EXPECT_EQ(ts["optimizer_steps"], 1);
  auto saved = vl3::read_optimizer_state(ck);
  auto live = opt->state_tensors();
  ASSERT_EQ(saved.size(), live.size());
  ASSERT_FALSE(saved.empty());
  for (const auto& [k, t] : live) {
    ASSERT_TRUE(saved.count(k)) << k;
    EXPECT_EQ(saved[k].scalar_type(), torch::kFloat32);
    EXPECT_TRUE(torch::equal(saved[k], t)) << k;
  }
  // ... and loads into an optimizer over the reloaded model.
  auto opt2 = one_step(*back);
  EXPECT_NO_THROW(opt2->load_state_tensors(saved, ts["optimizer_steps"].get<int64_t>()));
  EXPECT_EQ(opt2->steps(), 1);
  EXPECT_EQ(vl3::latest_checkpoint(out.str()), ck);
}

TEST(Checkpoint, ReplacesAnExistingCheckpoint) {
  auto model = vl3::Model::load(source_dir());
  vl3test::TempDir out;
  fs::create_directories(out.str("checkpoint-1"));
  std::ofstream(out.str("checkpoint-1/stale.txt")) << "old";
  std::ofstream(out.str("checkpoint-1/trainer_state.json")) << R"({"global_step": 0})";
  // Without an optimizer: trainer_state.json is the state as given, no optimizer file.
  vl3::write_checkpoint(*model, nullptr, {{"global_step", 1}}, out.str(), "checkpoint-1", torch::kFloat32);
  EXPECT_FALSE(fs::exists(out.str("checkpoint-1/stale.txt")));
  EXPECT_FALSE(fs::exists(out.str("checkpoint-1/optimizer.safetensors")));
  EXPECT_EQ(vl3::read_trainer_state(out.str("checkpoint-1")), json({{"global_step", 1}}));
  EXPECT_TRUE(dot_entries(out.str()).empty());  // neither .tmp nor .old left
  EXPECT_THROW(vl3::read_optimizer_state(out.str("checkpoint-1")), vl3::Error);
}

TEST(Checkpoint, Bf16WeightsAndConfigDtype) {
  auto model = vl3::Model::load(source_dir());
  vl3test::TempDir out;
  vl3::write_checkpoint(*model, nullptr, json::object(), out.str(), "bf16", torch::kBFloat16);
  EXPECT_EQ(vl3::read_json_file(out.str("bf16/config.json"))["torch_dtype"], "bfloat16");
  auto back = vl3::Model::load(out.str("bf16"));
  EXPECT_EQ(back->dtype, torch::kBFloat16);  // the default dtype follows config.json
  expect_same_weights(*model->net, *back->net, torch::kBFloat16);
}

TEST(Checkpoint, ModelWithoutSourceDirectoryUsesConfigAndEmbeddedTokenizer) {
  auto model = vl3::Model::load(source_dir());
  model->dir.clear();
  vl3test::TempDir out;
  vl3::write_model_dir(*model, out.str("m"), torch::kFloat32);
  EXPECT_EQ(vl3::read_json_file(out.str("m/config.json"))["torch_dtype"], "float32");
  EXPECT_TRUE(fs::exists(out.str("m/tokenizer.json")));
  EXPECT_FALSE(fs::exists(out.str("m/modeling_videollama3.py")));
  auto back = vl3::Model::load(out.str("m"));
  expect_same_weights(*model->net, *back->net, torch::kFloat32);
  EXPECT_EQ(back->tokenizer.encode("hello <image>"), model->tokenizer.encode("hello <image>"));
}

TEST(Checkpoint, GoldenModelRoundTrip) {
  VL3_REQUIRE_GOLDEN();
  auto model = vl3::Model::load(vl3test::golden_model_dir());
  vl3test::TempDir out;
  vl3::write_checkpoint(*model, nullptr, json::object(), out.str(), "checkpoint-3", model->dtype);
  auto back = vl3::Model::load(out.str("checkpoint-3"));
  expect_same_weights(*model->net, *back->net, model->dtype);
  for (const auto& e : fs::directory_iterator(vl3test::golden_model_dir())) {
    const auto name = e.path().filename().string();
    if (name == "config.json" || e.path().extension() == ".safetensors") continue;
    EXPECT_EQ(vl3test::read_file(out.str("checkpoint-3/" + name)), vl3test::read_file(e.path().string())) << name;
  }
}

TEST(Checkpoint, ErrorsNameThePath) {
  auto model = vl3::Model::load(source_dir());
  vl3test::TempDir out;
  std::ofstream(out.str("file")) << "x";
  try {
    vl3::write_checkpoint(*model, nullptr, json::object(), out.str("file"), "checkpoint-1", torch::kFloat32);
    FAIL() << "no error";
  } catch (const vl3::Error& e) {
    EXPECT_NE(std::string(e.what()).find(out.str("file")), std::string::npos) << e.what();
  }
  EXPECT_THROW(vl3::read_trainer_state(out.str("missing")), vl3::Error);
}

TEST(LatestCheckpoint, NumericAndSkipsIncompleteOnes) {
  vl3test::TempDir out;
  EXPECT_FALSE(vl3::latest_checkpoint(out.str()).has_value());
  EXPECT_FALSE(vl3::latest_checkpoint(out.str("nonexistent")).has_value());
  auto make = [&](const std::string& name, const char* state) {
    fs::create_directories(out.str(name));
    if (state) std::ofstream(out.str(name + "/trainer_state.json")) << state;
  };
  make("checkpoint-2", "{}");
  make("checkpoint-9", R"({"global_step": 9})");
  make("checkpoint-10", R"({"global_step": 10})");
  make("checkpoint-11", R"({"global_st)");     // truncated: not a checkpoint to resume from
  make("checkpoint-12", nullptr);              // no trainer state
  make(".checkpoint-13.tmp-123", "{}");        // an interrupted write
  make("checkpoint-14x", "{}");                // not checkpoint-<digits>
  make("other-15", "{}");
  std::ofstream(out.str("checkpoint-16")) << "a file";
  EXPECT_EQ(vl3::latest_checkpoint(out.str()), out.str("checkpoint-10"));
  EXPECT_EQ(vl3::read_trainer_state(*vl3::latest_checkpoint(out.str()))["global_step"], 10);
}

TEST(PruneCheckpoints, KeepsTheNewest) {
  vl3test::TempDir out;
  for (const char* n : {"checkpoint-2", "checkpoint-9", "checkpoint-10", "checkpoint-100", ".checkpoint-200.tmp-1"})
    fs::create_directories(out.str(n));
  vl3::prune_checkpoints(out.str(), 0);  // keep all
  EXPECT_TRUE(fs::exists(out.str("checkpoint-2")));
  vl3::prune_checkpoints(out.str(), 2);
  EXPECT_FALSE(fs::exists(out.str("checkpoint-2")));
  EXPECT_FALSE(fs::exists(out.str("checkpoint-9")));
  EXPECT_TRUE(fs::exists(out.str("checkpoint-10")));
  EXPECT_TRUE(fs::exists(out.str("checkpoint-100")));
  EXPECT_TRUE(fs::exists(out.str(".checkpoint-200.tmp-1")));
  vl3::prune_checkpoints(out.str(), 5);  // fewer than keep: nothing removed
  EXPECT_TRUE(fs::exists(out.str("checkpoint-10")));
}
