// Checkpoint loading (both layouts, sharded, malformed), KV-cache equivalence and generation control,
// on tiny random checkpoints made by make_model.
#include <gtest/gtest.h>

#include <filesystem>

#include "model/tensor_io.h"
#include "model/videollama3.h"
#include "test_util.h"
#include "vl3/error.h"
#include "vl3/generate.h"
#include "vl3/make_model.h"
#include "vl3/model.h"

namespace fs = std::filesystem;

namespace {

const std::string& tiny_dir(vl3::CheckpointLayout layout = vl3::CheckpointLayout::Official) {
  static vl3test::TempDir tmp;
  static std::map<int, std::string> dirs;
  auto& d = dirs[int(layout)];
  if (d.empty()) {
    d = tmp.str(layout == vl3::CheckpointLayout::Official ? "official" : "hf");
    vl3::MakeModelOptions o;
    o.layout = layout;
    o.seed = 3;
    vl3::make_model(d, o);
  }
  return d;
}

std::string copy_model(const std::string& src, const std::string& dst) {
  fs::create_directories(dst);
  for (const auto& e : fs::directory_iterator(src)) fs::copy_file(e.path(), fs::path(dst) / e.path().filename());
  return dst;
}

std::string load_error(const std::string& dir) {
  try {
    vl3::Model::load(dir);
  } catch (const vl3::Error& e) {
    return e.what();
  }
  return "";
}

vl3::Prompt text_prompt(vl3::Model& m, const std::string& text) {
  vl3::Prompt p;
  p.ids = m.tokenizer.encode(text);
  return p;
}

}  // namespace

TEST(MakeModel, WritesALoadableOfficialCheckpoint) {
  auto m = vl3::Model::load(tiny_dir());
  EXPECT_EQ(m->config.layout, vl3::CheckpointLayout::Official);
  EXPECT_EQ(m->dtype, torch::kFloat32);
  EXPECT_EQ(m->tokenizer.token_to_id("<image>"), 151665);
  auto names = vl3::named_weights(*m->net);
  EXPECT_EQ(names.front().first, "model.embed_tokens.weight");
  bool has_vision = false;
  for (auto& [n, t] : names) has_vision |= n == "model.vision_encoder.encoder.layers.1.mlp.fc2.weight";
  EXPECT_TRUE(has_vision);
}

TEST(MakeModel, HFNativeLayoutUsesTransformersNames) {
  auto m = vl3::Model::load(tiny_dir(vl3::CheckpointLayout::HFNative));
  EXPECT_EQ(m->config.layout, vl3::CheckpointLayout::HFNative);
  EXPECT_EQ(m->config.image_token_index, 151655);
  std::set<std::string> names;
  for (auto& [n, t] : vl3::named_weights(*m->net)) names.insert(n);
  EXPECT_TRUE(names.count("model.language_model.layers.0.self_attn.q_proj.bias"));
  EXPECT_TRUE(names.count("model.vision_model.post_layernorm.weight"));
  EXPECT_TRUE(names.count("model.projector.readout.2.weight"));
  auto res = vl3::generate(*m, text_prompt(*m, "<|im_start|>user\nhi<|im_end|>\n"), [] {
    vl3::GenerateOptions o;
    o.max_new_tokens = 3;
    return o;
  }());
  EXPECT_LE(res.tokens.size(), 3u);
}

TEST(MakeModel, IsDeterministic) {
  vl3test::TempDir tmp;
  vl3::MakeModelOptions o;
  o.seed = 3;
  vl3::make_model(tmp.str("again"), o);
  EXPECT_EQ(vl3test::read_file(tmp.str("again/model.safetensors")),
            vl3test::read_file(tiny_dir() + "/model.safetensors"));
  o.seed = 4;
  vl3::make_model(tmp.str("other"), o);
  EXPECT_NE(vl3test::read_file(tmp.str("other/model.safetensors")),
            vl3test::read_file(tiny_dir() + "/model.safetensors"));
}

TEST(MakeModel, OverridesChangeTheConfigAndTheShapes) {
  vl3test::TempDir tmp;
  vl3::MakeModelOptions o;
  o.overrides = {"num_key_value_heads=4", "rope_theta=10000", "vision_encoder_config.num_hidden_layers=3"};
  vl3::make_model(tmp.str("m"), o);
  auto cfg = vl3::VideoLlama3Config::load(tmp.str("m"));
  EXPECT_EQ(cfg.text.num_key_value_heads, 4);
  EXPECT_DOUBLE_EQ(cfg.text.rope_theta, 10000.0);
  EXPECT_EQ(cfg.vision.num_hidden_layers, 3);
  auto t = vl3::read_tensors(tmp.str("m/model.safetensors"));
  EXPECT_EQ(t.at("model.layers.0.self_attn.k_proj.weight").size(0), 4 * cfg.text.head_dim());
  EXPECT_EQ(t.count("model.vision_encoder.encoder.layers.2.mlp.fc1.weight"), 1u);
  EXPECT_EQ(t.count("model.vision_encoder.encoder.layers.3.mlp.fc1.weight"), 0u);
  EXPECT_NO_THROW(vl3::Model::load(tmp.str("m")));
  for (const char* bad : {"no_such_key=1", "vision_encoder_config.nope=2", "num_hidden_layers", "=3",
                          "num_hidden_layers=0"}) {
    o.overrides = {bad};
    EXPECT_THROW(vl3::make_model(tmp.str("bad"), o), vl3::Error) << bad;
  }
}

TEST(Loader, ReportsMissingUnexpectedAndMisshapedTensors) {
  vl3test::TempDir tmp;
  auto dir = copy_model(tiny_dir(), tmp.str("m"));
  auto tensors = vl3::read_tensors(dir + "/model.safetensors");
  tensors.erase("model.norm.weight");
  tensors["model.layers.0.mlp.up_proj.weight"] = torch::zeros({3, 3});
  tensors["model.not_a_weight"] = torch::zeros({2});
  vl3::write_tensors(dir + "/model.safetensors", tensors);
  std::string err = load_error(dir);
  EXPECT_NE(err.find("missing tensors (1)"), std::string::npos) << err;
  EXPECT_NE(err.find("model.norm.weight"), std::string::npos) << err;
  EXPECT_NE(err.find("mis-shaped tensors (1)"), std::string::npos) << err;
  EXPECT_NE(err.find("model.layers.0.mlp.up_proj.weight"), std::string::npos) << err;
  EXPECT_NE(err.find("unexpected tensors (1)"), std::string::npos) << err;
  EXPECT_NE(err.find("model.not_a_weight"), std::string::npos) << err;
}

TEST(Loader, ClearErrorsForBrokenDirectories) {
  vl3test::TempDir tmp;
  EXPECT_NE(load_error(tmp.str("nope")).find("no such model directory"), std::string::npos);
  auto dir = copy_model(tiny_dir(), tmp.str("m"));
  {
    std::ofstream(dir + "/config.json") << "{\"hidden_size\": ";
  }
  EXPECT_NE(load_error(dir).find("config.json: invalid JSON"), std::string::npos) << load_error(dir);
  fs::remove(dir + "/config.json");
  EXPECT_NE(load_error(dir).find("no config.json"), std::string::npos);
  fs::copy_file(tiny_dir() + "/config.json", dir + "/config.json");
  fs::remove(dir + "/tokenizer.json");
  EXPECT_NE(load_error(dir).find("tokenizer.json"), std::string::npos);
}

TEST(Loader, ShardedRoundTripKeepsLogits) {
  vl3test::TempDir tmp;
  auto m = vl3::Model::load(tiny_dir());
  auto dir = copy_model(tiny_dir(), tmp.str("sharded"));
  fs::remove(dir + "/model.safetensors");
  vl3::save_weights(*m->net, dir, torch::kFloat32, /*max_shard_bytes=*/8 << 20);
  ASSERT_TRUE(fs::exists(dir + "/model.safetensors.index.json"));
  auto m2 = vl3::Model::load(dir);
  torch::NoGradGuard ng;
  auto ids = torch::tensor({1, 2, 3, 151644}, torch::kLong);
  auto a = m->net->logits(m->net->llm->forward(m->net->embed(ids), nullptr));
  auto b = m2->net->logits(m2->net->llm->forward(m2->net->embed(ids), nullptr));
  EXPECT_TRUE(torch::equal(a, b));
}

TEST(Qwen2, KVCacheDecodeEqualsFullForward) {
  auto m = vl3::Model::load(tiny_dir());
  auto& net = *m->net;
  torch::NoGradGuard ng;
  auto ids = torch::tensor({9707, 11, 1879, 0, 1084, 594, 220, 17, 15}, torch::kLong);
  auto full = net.logits(net.llm->forward(net.embed(ids), nullptr));  // [9, V]
  auto cache = net.llm->make_cache(16);
  std::vector<torch::Tensor> steps;
  steps.push_back(net.logits(net.llm->forward(net.embed(ids.narrow(0, 0, 5)), &cache)));  // prefill 5
  for (int i = 5; i < 9; ++i) steps.push_back(net.logits(net.llm->forward(net.embed(ids.narrow(0, i, 1)), &cache)));
  auto incremental = torch::cat(steps, 0);
  EXPECT_LT((incremental - full).abs().max().item<double>(), 1e-4);
  EXPECT_EQ(cache.length, 9);
}

TEST(Generate, StopsOnStopTokensAndLimits) {
  auto m = vl3::Model::load(tiny_dir());
  auto prompt = text_prompt(*m, "<|im_start|>user\nWrite one sentence.<|im_end|>\n<|im_start|>assistant\n");
  vl3::GenerateOptions o;
  o.max_new_tokens = 5;
  o.stop = {-2};
  auto free_run = vl3::generate(*m, prompt, o);
  ASSERT_EQ(free_run.tokens.size(), 5u);
  EXPECT_FALSE(free_run.stats.stopped_on_eos);
  // Stop at the third greedy token: two come out, the stop token is not emitted.
  o.stop = {free_run.tokens[2]};
  if (free_run.tokens[0] != free_run.tokens[2] && free_run.tokens[1] != free_run.tokens[2]) {
    auto stopped = vl3::generate(*m, prompt, o);
    EXPECT_EQ(stopped.tokens, std::vector<vl3::TokenId>(free_run.tokens.begin(), free_run.tokens.begin() + 2));
    EXPECT_TRUE(stopped.stats.stopped_on_eos);
  }
  // The callback can stop generation.
  o.stop = {-2};
  int calls = 0;
  auto cut = vl3::generate(*m, prompt, o, [&](vl3::TokenId, const std::string&) { return ++calls < 2; });
  EXPECT_EQ(cut.tokens.size(), 2u);
}

TEST(Generate, PromptLongerThanContextIsAClearError) {
  auto m = vl3::Model::load(tiny_dir());
  auto prompt = text_prompt(*m, "one two three four five six seven eight nine ten");
  vl3::GenerateOptions o;
  o.context_length = int(prompt.ids.size());
  try {
    vl3::generate(*m, prompt, o);
    FAIL() << "no error";
  } catch (const vl3::Error& e) {
    EXPECT_NE(std::string(e.what()).find("context holds"), std::string::npos) << e.what();
  }
}

TEST(Generate, VisualPlaceholderCountMismatchIsAnError) {
  auto m = vl3::Model::load(tiny_dir());
  torch::NoGradGuard ng;
  auto ids = torch::tensor({1, 151665, 151665, 2}, torch::kLong);
  EXPECT_THROW(m->net->embed(ids, torch::zeros({3, 64})), vl3::Error);
  auto e = m->net->embed(ids, torch::ones({2, 64}));
  EXPECT_TRUE(torch::equal(e[1], torch::ones({64})));
}

// Block-diagonal vision attention: an image's (and a frame's) features do not depend on what else is in
// the request, and chunked encoding equals one run.
TEST(Vision, ItemsAreIndependent) {
  auto m = vl3::Model::load(tiny_dir());
  auto& net = *m->net;
  torch::NoGradGuard ng;
  torch::manual_seed(5);
  vl3::VisualGrid a{1, 6, 8, 1, false}, b{1, 10, 4, 1, false}, v{3, 4, 6, 2, true};
  auto pa = torch::rand({a.patches(), 588}) * 2 - 1, pb = torch::rand({b.patches(), 588}) * 2 - 1;
  auto pv = torch::rand({v.patches(), 588}) * 2 - 1;
  auto alone = net.encode_visual(pa, {a});
  auto joint = net.encode_visual(torch::cat({pa, pb, pv}), {a, b, v});
  EXPECT_LT((joint.narrow(0, 0, a.merged_tokens()) - alone).abs().max().item<double>(), 1e-5);
  auto video_alone = net.encode_visual(pv, {v});
  EXPECT_LT((joint.narrow(0, a.merged_tokens() + b.merged_tokens(), v.merged_tokens()) - video_alone)
                .abs().max().item<double>(), 1e-5);
  // The second frame of the video alone equals its rows in the three-frame run.
  vl3::VisualGrid one{1, 4, 6, 2, true};
  auto frame1 = net.encode_visual(pv.narrow(0, 24, 24), {one});
  EXPECT_LT((video_alone.narrow(0, 6, 6) - frame1).abs().max().item<double>(), 1e-5);
}
