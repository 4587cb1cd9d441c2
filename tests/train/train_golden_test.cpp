// Training numerics: the official loss and gradients (golden 08), packing equivalence, gradient
// checkpointing and stage freezing, on the golden checkpoint in fp32.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "golden_model.h"
#include "model/tensor_io.h"
#include "model/videollama3.h"
#include "test_util.h"
#include "train/optimizer.h"
#include "train/sample.h"
#include "train/stages.h"
#include "train/step.h"
#include "vl3/chat.h"
#include "vl3/error.h"
#include "vl3/model.h"
#include "vl3/train.h"

namespace fs = std::filesystem;

namespace {

std::unique_ptr<vl3::Model> fresh_golden_model() {
  vl3::LoadOptions lo;
  lo.dtype = torch::kFloat32;
  return vl3::Model::load(vl3test::golden_model_dir(), lo);
}

std::vector<fs::path> train_cases() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(vl3test::golden_dir() + "/cases"))
    if (fs::exists(e.path() / "train.safetensors")) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

double rel_to_max(const torch::Tensor& got, const torch::Tensor& want) {
  auto g = got.to(torch::kFloat64), w = want.to(torch::kFloat64);
  return ((g - w).abs().max() / w.abs().max().clamp_min(1e-30)).item<double>();
}

std::vector<vl3::Message> user_assistant(const std::string& media_type, const std::string& path,
                                         const std::string& q, const std::string& a) {
  nlohmann::json content = nlohmann::json::array();
  if (!media_type.empty()) content.push_back({{"type", media_type}, {media_type, path}});
  content.push_back({{"type", "text"}, {"text", q}});
  nlohmann::json j = nlohmann::json::array({{{"role", "user"}, {"content", content}},
                                            {{"role", "assistant"}, {"content", a}}});
  return vl3::messages_from_json(j);
}

}  // namespace

// vl3's loss and gradients for the golden training sample equal the official ones.
TEST(TrainGolden, LossAndGradientsMatchOfficial) {
  VL3_REQUIRE_GOLDEN();
  auto cases = train_cases();
  ASSERT_FALSE(cases.empty());
  for (const auto& dir : cases) {
    SCOPED_TRACE(dir.filename().string());
    auto model = fresh_golden_model();
    auto meta = nlohmann::json::parse(vl3test::read_file((dir / "meta.json").string()));
    auto want = vl3::read_tensors((dir / "train.safetensors").string());
    // Stage 3 trains everything: every golden gradient is among ours.
    auto got = vl3::train_sample_dump(*model, meta["conversation"], vl3test::golden_dir() + "/media", 3);
    EXPECT_TRUE(torch::equal(got.at("input_ids"), want.at("input_ids").to(torch::kLong)));
    EXPECT_TRUE(torch::equal(got.at("labels"), want.at("labels").to(torch::kLong)));
    EXPECT_EQ(got.at("num_supervised").item<int64_t>(), want.at("num_supervised").item<int64_t>());
    const double loss = got.at("loss").item<double>(), want_loss = want.at("loss").item<double>();
    EXPECT_NEAR(loss, want_loss, 1e-5 * std::abs(want_loss));
    int grads = 0;
    for (const auto& [name, t] : want) {
      if (name.rfind("grad.", 0) != 0) continue;
      ++grads;
      ASSERT_TRUE(got.count(name)) << name;
      EXPECT_LE(rel_to_max(got.at(name), t), 1e-4) << name;
    }
    EXPECT_GT(grads, 0);
  }
}

// An annotation record and the same conversation as messages give the same sample, with an absolute or a relative
// media root (a relative root was once applied twice to records: ROOT/ROOT/file).
TEST(TrainGolden, SampleDumpResolvesMediaOnce) {
  VL3_REQUIRE_GOLDEN();
  auto model = fresh_golden_model();
  const std::string abs_root = fs::absolute(vl3test::golden_dir() + "/media").string();
  const std::string rel_root = "media";  // relative to the golden directory, made the working directory below
  struct Cwd {
    fs::path old = fs::current_path();
    ~Cwd() { fs::current_path(old); }
  } restore;
  fs::current_path(vl3test::golden_dir());
  nlohmann::json record = {{"image", "image_131x97.png"},
                           {"conversations", {{{"from", "human"}, {"value", "<image>\nWhat is it?"}},
                                              {{"from", "gpt"}, {"value", "A cat."}}}}};
  nlohmann::json messages = nlohmann::json::array(
      {{{"role", "user"}, {"content", {{{"type", "image"}, {"image", "image_131x97.png"}}, {{"type", "text"}, {"text", "What is it?"}}}}},
       {{"role", "assistant"}, {"content", "A cat."}}});
  std::vector<double> losses;
  for (const auto& root : {abs_root, rel_root}) {
    for (const auto& j : {record, messages}) {
      auto got = vl3::train_sample_dump(*model, j, root, 3);
      losses.push_back(got.at("loss").item<double>());
    }
  }
  for (double l : losses) EXPECT_NEAR(l, losses[0], 1e-6 * std::abs(losses[0]));
}

// A packed row gives the same loss sum and gradients as its samples one by one.
TEST(TrainPacking, PackedRowEqualsSamplesOneByOne) {
  VL3_REQUIRE_GOLDEN();
  auto model = fresh_golden_model();
  auto& net = *model->net;
  vl3::TrainOptions o;
  vl3::apply_stage_preset(o, 3);
  auto groups = vl3::make_param_groups(net, o);
  const std::string media = vl3test::golden_dir() + "/media/";
  vl3::SampleOptions so = vl3::sample_options(o);
  std::vector<vl3::TrainSample> samples;
  samples.push_back(vl3::prepare_train_sample(*model, user_assistant("image", media + "image_131x97.png",
                                                                      "What is this?", "A red disc."), so));
  samples.push_back(vl3::prepare_train_sample(*model, user_assistant("", "", "Say hi.", "Hi there, friend!"), so));
  samples.push_back(vl3::prepare_train_sample(
      *model, user_assistant("video", media + "video_160x120_8fps.mp4", "What moves?", "A magenta square."), so));
  ASSERT_LT(samples[2].keep.sum().item<int64_t>(), samples[2].visual_tokens);  // the video is pruned

  auto grads_of = [&] {
    std::map<std::string, torch::Tensor> g;
    for (auto& grp : groups)
      for (auto& [name, p] : grp.params)
        if (p.grad().defined()) g[name] = p.grad().clone();
    return g;
  };
  auto zero = [&] {
    for (auto& grp : groups)
      for (auto& [name, p] : grp.params) p.mutable_grad() = torch::Tensor();
  };
  zero();
  double sum_single = 0;
  int64_t sup_single = 0;
  for (auto& s : samples) {
    auto out = vl3::packed_loss(net, {&s});
    sum_single += out.loss_sum.item<double>();
    sup_single += out.supervised;
    out.loss_sum.backward();
  }
  auto g_single = grads_of();
  zero();
  auto packed = vl3::packed_loss(net, {&samples[0], &samples[1], &samples[2]});
  EXPECT_EQ(packed.supervised, sup_single);
  EXPECT_NEAR(packed.loss_sum.item<double>(), sum_single, 1e-5 * std::abs(sum_single));
  packed.loss_sum.backward();
  auto g_packed = grads_of();
  ASSERT_EQ(g_packed.size(), g_single.size());
  for (auto& [name, g] : g_single) EXPECT_LE(rel_to_max(g_packed.at(name), g), 1e-4) << name;
}

// Gradient checkpointing recomputes the LLM layers in backward: same gradients.
TEST(TrainCheckpointing, SameGradientsAsPlainBackward) {
  VL3_REQUIRE_GOLDEN();
  auto model = fresh_golden_model();
  auto& net = *model->net;
  vl3::TrainOptions o;
  vl3::apply_stage_preset(o, 2);
  auto groups = vl3::make_param_groups(net, o);
  auto s = vl3::prepare_train_sample(*model, user_assistant("image", vl3test::golden_dir() + "/media/image_300x200.png",
                                                            "Describe.", "Shapes on a gradient."),
                                     vl3::sample_options(o));
  std::map<std::string, torch::Tensor> plain;
  for (bool ckpt : {false, true}) {
    for (auto& grp : groups)
      for (auto& [name, p] : grp.params) p.mutable_grad() = torch::Tensor();
    vl3::packed_loss(net, {&s}, ckpt).loss_sum.backward();
    for (auto& grp : groups)
      for (auto& [name, p] : grp.params) {
        ASSERT_TRUE(p.grad().defined()) << name;
        if (!ckpt)
          plain[name] = p.grad().clone();
        else
          EXPECT_LE(rel_to_max(p.grad(), plain.at(name)), 1e-5) << name;
      }
  }
}

// Stage 1 freezes the LLM: after an optimizer step its weights are bit-identical, the others moved.
TEST(TrainStages, Stage1FreezesTheLLM) {
  VL3_REQUIRE_GOLDEN();
  auto model = fresh_golden_model();
  auto& net = *model->net;
  std::map<std::string, torch::Tensor> before;
  for (auto& [name, p] : vl3::named_weights(net)) before[name] = p.detach().clone();
  vl3::TrainOptions o;
  vl3::apply_stage_preset(o, 1);
  EXPECT_EQ(o.image_merge_size, 1);
  EXPECT_FALSE(o.frame_pruning);
  vl3::AdamW opt(vl3::make_param_groups(net, o));
  auto s = vl3::prepare_train_sample(*model, user_assistant("image", vl3test::golden_dir() + "/media/image_131x97.png",
                                                            "Describe.", "A red disc."),
                                     vl3::sample_options(o));
  auto out = vl3::packed_loss(net, {&s});
  (out.loss_sum / double(out.supervised)).backward();
  opt.step(1.0);
  int frozen = 0, moved = 0;
  for (auto& [name, p] : vl3::named_weights(net)) {
    const bool same = torch::equal(p.detach(), before.at(name));
    if (vl3::module_of(name) == vl3::TrainModule::LLM) {
      EXPECT_TRUE(same) << name;
      EXPECT_FALSE(p.requires_grad()) << name;
      ++frozen;
    } else {
      moved += !same;
    }
  }
  EXPECT_GT(frozen, 0);
  EXPECT_GT(moved, 10);
  vl3::TrainOptions o4;
  vl3::apply_stage_preset(o4, 4);
  EXPECT_EQ(o4.image_merge_size, 2);
  EXPECT_TRUE(o4.frame_pruning);
  EXPECT_THROW(vl3::apply_stage_preset(o4, 5), vl3::Error);
}

// Labels: only assistant content and <|im_end|> are supervised; truncation keeps ids, labels and features
// consistent.
TEST(TrainSample, LabelsAndTruncation) {
  VL3_REQUIRE_GOLDEN();
  auto model = fresh_golden_model();
  vl3::SampleOptions so;
  auto msgs = user_assistant("image", vl3test::golden_dir() + "/media/image_131x97.png", "Q?", "Yes.");
  auto s = vl3::prepare_train_sample(*model, msgs, so);
  std::vector<int64_t> sup;
  for (size_t i = 0; i < s.labels.size(); ++i)
    if (s.labels[i] != vl3::kIgnoreIndex) {
      EXPECT_EQ(s.labels[i], s.ids[i]);
      sup.push_back(s.ids[i]);
    }
  std::vector<int64_t> want;
  for (auto id : model->tokenizer.encode("Yes.<|im_end|>")) want.push_back(id);
  EXPECT_EQ(sup, want);
  EXPECT_EQ(s.ids.back(), model->tokenizer.encode("\n").at(0));  // the final "\n" is not supervised
  EXPECT_EQ(s.keep.sum().item<int64_t>(), 63);
  // Cut in the middle of the image placeholders: only the features of the placeholders left are used.
  so.model_max_length = 20;
  auto t = vl3::prepare_train_sample(*model, msgs, so);
  ASSERT_EQ(t.ids.size(), 20u);
  int64_t placeholders = 0;
  for (auto id : t.ids) placeholders += id == model->config.image_token_index;
  EXPECT_GT(placeholders, 0);
  EXPECT_EQ(t.keep.sum().item<int64_t>(), placeholders);
  EXPECT_EQ(t.num_supervised, 0);
  EXPECT_NO_THROW(vl3::packed_loss(*model->net, {&t}));
  // No assistant turn: nothing to learn.
  nlohmann::json only_user = nlohmann::json::array({{{"role", "user"}, {"content", "hi"}}});
  EXPECT_THROW(vl3::prepare_train_sample(*model, vl3::messages_from_json(only_user), so), vl3::Error);
}

// train_on_prompt (language pretraining): the user's text is supervised too, never a visual placeholder, a role
// header or a turn's final "\n"; the assistant's labels are the same as without it.
TEST(TrainSample, TrainOnPromptSupervisesUserTextOnly) {
  VL3_REQUIRE_GOLDEN();
  auto model = fresh_golden_model();
  vl3::SampleOptions so;
  auto msgs = user_assistant("image", vl3test::golden_dir() + "/media/image_131x97.png", "What is it?", "Yes.");
  const auto plain = vl3::prepare_train_sample(*model, msgs, so);
  so.train_on_prompt = true;
  const auto s = vl3::prepare_train_sample(*model, msgs, so);
  ASSERT_EQ(s.ids, plain.ids);
  const int64_t placeholder = model->config.image_token_index;
  const int64_t im_start = model->tokenizer.encode("<|im_start|>").at(0);
  const int64_t newline = model->tokenizer.encode("\n").at(0);
  std::vector<int64_t> user_text, placeholders_seen;
  size_t supervised = 0;
  for (size_t i = 0; i < s.ids.size(); ++i) {
    if (plain.labels[i] != vl3::kIgnoreIndex) EXPECT_EQ(s.labels[i], plain.labels[i]) << i;  // assistant part kept
    if (s.labels[i] == vl3::kIgnoreIndex) continue;
    ++supervised;
    EXPECT_EQ(s.labels[i], s.ids[i]);
    EXPECT_NE(s.ids[i], placeholder) << i;
    EXPECT_NE(s.ids[i], im_start) << i;
    if (plain.labels[i] == vl3::kIgnoreIndex) user_text.push_back(s.ids[i]);
  }
  EXPECT_GT(supervised, size_t(plain.num_supervised));
  EXPECT_EQ(s.num_supervised, int64_t(supervised));
  // The user's supervised tokens are its text after the header: the question and <|im_end|>, not the last "\n".
  std::vector<vl3::TokenId> ut(user_text.begin(), user_text.end());
  const std::string decoded = model->tokenizer.decode(ut);
  EXPECT_NE(decoded.find("What is it?<|im_end|>"), std::string::npos) << decoded;
  EXPECT_EQ(decoded.find("user"), std::string::npos) << decoded;
  EXPECT_NE(s.ids.back(), placeholder);
  EXPECT_EQ(s.labels.back(), vl3::kIgnoreIndex);
  EXPECT_EQ(s.ids.back(), newline);
}
