// The official implementation's numbers (../shared/golden) against vl3, stage by stage, for every
// inference case folder found there: prompt ids, vision features, merge, projector, DiffFP mask, pruned
// ids, LLM hidden states, logits and greedy tokens. fp32 throughout.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/frame_pruning.h"
#include "model/tensor_io.h"
#include "model/videollama3.h"
#include "golden_model.h"
#include "test_util.h"
#include "vl3/assets.h"
#include "vl3/chat.h"
#include "vl3/config.h"
#include "vl3/generate.h"
#include "vl3/model.h"

namespace fs = std::filesystem;
using vl3test::golden_dir;

namespace {

vl3::Model& golden_model() {
  static std::unique_ptr<vl3::Model> m = [] {
    vl3::LoadOptions lo;
    lo.dtype = torch::kFloat32;
    return vl3::Model::load(vl3test::golden_model_dir(), lo);
  }();
  return *m;
}

std::vector<fs::path> inference_cases() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(golden_dir() + "/cases"))
    if (fs::exists(e.path() / "llm.safetensors")) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  EXPECT_FALSE(out.empty()) << "no inference case under " << golden_dir();
  return out;
}

std::vector<int64_t> to_vec(const torch::Tensor& t) {
  auto c = t.to(torch::kLong).contiguous().flatten();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

// max |a - b| and ||a - b|| / ||b||.
void expect_close(const torch::Tensor& got, const torch::Tensor& want, double abs_tol, const std::string& what) {
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  auto g = got.to(torch::kFloat64), w = want.to(torch::kFloat64);
  const double max_abs = (g - w).abs().max().item<double>();
  const double rel = ((g - w).norm() / w.norm().clamp_min(1e-30)).item<double>();
  EXPECT_LE(max_abs, abs_tol) << what << ": max abs diff " << max_abs;
  EXPECT_LE(rel, 1e-4) << what << ": relative error " << rel;
}

std::vector<vl3::VisualGrid> grids_of(const std::map<std::string, torch::Tensor>& in) {
  std::vector<vl3::VisualGrid> grids;
  auto gs = in.at("grid_sizes").to(torch::kLong), ms = in.at("merge_sizes").to(torch::kLong);
  auto modal = in.at("item_modal").to(torch::kLong);
  for (int64_t i = 0; i < gs.size(0); ++i)
    grids.push_back({gs[i][0].item<int64_t>(), gs[i][1].item<int64_t>(), gs[i][2].item<int64_t>(),
                     ms[i].item<int64_t>(), modal[i].item<int64_t>() == 1});
  return grids;
}

}  // namespace

// The rendered + tokenized + expanded prompt equals the official processor's input_ids.
TEST(Golden, PromptIdsMatchProcessor) {
  VL3_REQUIRE_GOLDEN();
  auto& model = golden_model();
  for (const auto& dir : inference_cases()) {
    SCOPED_TRACE(dir.filename().string());
    auto meta = nlohmann::json::parse(vl3test::read_file((dir / "meta.json").string()));
    auto in = vl3::read_tensors((dir / "inputs.safetensors").string());
    auto msgs = vl3::messages_from_json(meta["conversation"]);
    vl3::ChatRenderOptions ro;
    ro.add_system_prompt = meta.value("add_system_prompt", false);
    ro.add_generation_prompt = meta.value("add_generation_prompt", true);
    std::vector<vl3::VideoFrameInfo> videos;
    std::vector<size_t> counts;
    if (in.count("grid_sizes")) {
      auto grids = grids_of(in);
      for (size_t i = 0; i < grids.size(); ++i) {
        const auto& g = grids[i];
        for (int64_t f = 0; f < g.t; ++f) counts.push_back(size_t((g.h / g.merge) * (g.w / g.merge)));
        if (g.video) {
          auto ts = meta["video_timestamps"][std::to_string(i)].get<std::vector<double>>();
          videos.push_back({ts.size(), ts});
        }
      }
    }
    auto text = vl3::render_chat(msgs, ro, videos);
    EXPECT_EQ(text, vl3test::read_file((dir / "prompt.txt").string()));
    auto expanded = vl3::expand_image_tokens(text, "<image>", counts);
    auto ids = model.tokenizer.encode(expanded);
    EXPECT_EQ(std::vector<int64_t>(ids.begin(), ids.end()), to_vec(in.at("input_ids")));
  }
}

// Vision tower, merge, projector and DiffFP from the official pixel_values.
TEST(Golden, VisionFeaturesAndPruningMask) {
  VL3_REQUIRE_GOLDEN();
  auto& net = *golden_model().net;
  torch::NoGradGuard no_grad;
  int checked = 0;
  for (const auto& dir : inference_cases()) {
    if (!fs::exists(dir / "vision.safetensors")) continue;
    SCOPED_TRACE(dir.filename().string());
    auto in = vl3::read_tensors((dir / "inputs.safetensors").string());
    auto want = vl3::read_tensors((dir / "vision.safetensors").string());
    auto grids = grids_of(in);
    std::map<std::string, torch::Tensor> got;
    std::vector<torch::Tensor> layers;
    auto projected = net.encode_visual(in.at("pixel_values"), grids, [&](const std::string& n, int l, const torch::Tensor& t) {
      if (l >= 0) layers.push_back(t.clone()); else got[n] = t.clone();
    });
    expect_close(got.at("patch_embeds"), want.at("patch_embeds"), 1e-4, "patch_embeds");
    expect_close(torch::stack(layers), want.at("encoder_layer_out"), 1e-4, "encoder_layer_out");
    expect_close(got.at("pre_merge"), want.at("pre_merge"), 1e-4, "pre_merge");
    expect_close(got.at("merged"), want.at("merged"), 1e-4, "merged");
    expect_close(projected, want.at("projected"), 1e-4, "projected");
    auto mask = vl3::frame_pruning_mask(in.at("pixel_values"), grids);
    EXPECT_EQ(to_vec(mask), to_vec(want.at("compression_mask"))) << "DiffFP mask";
    ++checked;
  }
  EXPECT_GT(checked, 0) << "no case with vision tensors";
}

// LLM: pruned ids, hidden states, logits and greedy tokens, fed with our own visual features.
TEST(Golden, LogitsAndGreedyTokens) {
  VL3_REQUIRE_GOLDEN();
  auto& model = golden_model();
  auto& net = *model.net;
  for (const auto& dir : inference_cases()) {
    SCOPED_TRACE(dir.filename().string());
    auto in = vl3::read_tensors((dir / "inputs.safetensors").string());
    auto want = vl3::read_tensors((dir / "llm.safetensors").string());
    std::vector<int64_t> ids = to_vec(in.at("input_ids"));
    torch::Tensor visual;
    {
      torch::NoGradGuard no_grad;
      if (in.count("pixel_values")) {
        auto grids = grids_of(in);
        auto projected = net.encode_visual(in.at("pixel_values"), grids);
        auto mask = vl3::frame_pruning_mask(in.at("pixel_values"), grids);
        ids = vl3::prune_placeholders(ids, model.config.image_token_index, mask);
        visual = projected.index({mask});
      }
    }
    ASSERT_EQ(ids, to_vec(want.at("input_ids_pruned")));

    torch::NoGradGuard no_grad;
    auto ids_t = torch::tensor(ids, torch::kLong);
    std::vector<torch::Tensor> hidden(net.config.text.num_hidden_layers + 1);
    auto h = net.llm->forward(net.embed(ids_t, visual), nullptr,
                              [&](const std::string&, int l, const torch::Tensor& t) { hidden[size_t(l)] = t.clone(); });
    expect_close(torch::stack(hidden), want.at("hidden_states"), 1e-4, "hidden_states");
    auto positions = want.at("logits_last_positions").to(torch::kLong);
    auto logits = net.logits(h.index_select(0, positions));
    expect_close(logits, want.at("logits_last"), 1e-4, "logits");

    vl3::Prompt prompt;
    prompt.ids.assign(ids.begin(), ids.end());
    prompt.visual = visual;
    vl3::GenerateOptions go;
    go.max_new_tokens = int(want.at("gen_ids").numel());
    go.stop = {-2};
    auto res = vl3::generate(model, prompt, go);
    EXPECT_EQ(std::vector<int64_t>(res.tokens.begin(), res.tokens.end()), to_vec(want.at("gen_ids")));
  }
}
