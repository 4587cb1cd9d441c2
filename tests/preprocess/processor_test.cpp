// Resize targets and patchify against the official processor's numbers.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "test_util.h"
#include "vl3/error.h"
#include "vl3/processor.h"
#include "vl3/safetensors.h"

namespace fs = std::filesystem;
using vl3::VisualSize;

TEST(ResizeTargets, FactSheetWorkedExamples) {
  // 1920x1080 image, merge 1, budget 16384: 1078x1918 = 77x137 patches = 10,549 tokens (HF-native test).
  auto t = vl3::resize_targets({{1080, 1920, 1, 1}}, 14, 16, 16384);
  EXPECT_EQ(t[0], std::make_pair(1078, 1918));
  // 180 frames of 720p, merge 2: 196x336 -> 7x12 = 84 merged tokens per frame.
  t = vl3::resize_targets({{720, 1280, 180, 2}}, 14, 16, 16384);
  EXPECT_EQ(t[0], std::make_pair(196, 336));
  // 448x448: 1024 patches, no scaling.
  t = vl3::resize_targets({{448, 448, 1, 1}}, 14, 16, 16384);
  EXPECT_EQ(t[0], std::make_pair(448, 448));
}

TEST(ResizeTargets, BudgetIsSharedAndMinimumIsPerItem) {
  // Two images share the budget: each gets at most half.
  auto t = vl3::resize_targets({{2000, 2000, 1, 1}, {2000, 2000, 1, 1}}, 14, 16, 1024);
  for (auto [h, w] : t) EXPECT_LE((h / 14) * (w / 14), 512);
  // A tiny image grows to the per-item minimum (16 tokens).
  t = vl3::resize_targets({{10, 10, 1, 1}}, 14, 16, 16384);
  EXPECT_GE((t[0].first / 14) * (t[0].second / 14), 16);
  // Python round is half to even: 21/14 = 1.5 -> 2, 35/14 = 2.5 -> 2.
  t = vl3::resize_targets({{21 * 16, 35 * 16, 1, 1}}, 14, 1, 1 << 20);
  EXPECT_EQ(t[0], std::make_pair(24 * 14, 40 * 14));  // 336/14 = 24, 560/14 = 40: exact, no tie
  t = vl3::resize_targets({{21, 35, 1, 1}}, 14, 1, 1 << 20);
  EXPECT_EQ(t[0], std::make_pair(28, 28));
  // Extreme aspect ratio: never a zero side.
  t = vl3::resize_targets({{1, 100000, 1, 1}}, 14, 16, 16384);
  EXPECT_GE(t[0].first, 14);
  EXPECT_THROW(vl3::resize_targets({{0, 10, 1, 1}}, 14, 16, 16384), vl3::Error);
}

// Every golden case: targets from the source sizes equal resized_hw; image pixels patchify to pixel_values.
TEST(ResizeTargets, GoldenCases) {
  VL3_REQUIRE_GOLDEN();
  auto manifest = nlohmann::json::parse(vl3test::read_file(vl3test::golden_dir() + "/manifest.json"));
  int checked = 0;
  for (const auto& e : fs::directory_iterator(vl3test::golden_dir() + "/cases")) {
    if (!fs::exists(e.path() / "vision.safetensors")) continue;
    SCOPED_TRACE(e.path().filename().string());
    auto meta = nlohmann::json::parse(vl3test::read_file((e.path() / "meta.json").string()));
    auto in = vl3::SafetensorsFile::open((e.path() / "inputs.safetensors").string());
    auto i64 = [&](const char* name) {
      const auto* v = in->find(name);
      std::vector<int64_t> out(v->numel());
      std::memcpy(out.data(), v->data, v->nbytes);
      return out;
    };
    auto grid = i64("grid_sizes"), merge = i64("merge_sizes"), hw = i64("resized_hw");
    // Source sizes from the media facts, in conversation order.
    std::vector<VisualSize> items;
    for (const auto& msg : meta["conversation"])
      if (msg["content"].is_array())
        for (const auto& part : msg["content"]) {
          std::string type = part["type"];
          if (type != "image" && type != "video") continue;
          const auto& src = part[type];
          std::string file = src.is_string() ? src.get<std::string>()
                                             : src.value(type == "image" ? "image_path" : "video_path", "");
          file = fs::path(file).filename().string();
          const auto& m = manifest["media"][file];
          const size_t k = items.size();
          items.push_back({m["height"].get<int>(), m["width"].get<int>(), int(grid[k * 3]), int(merge[k])});
        }
    ASSERT_EQ(items.size() * 2, hw.size());
    int max_tokens = 16384;
    if (meta["preprocessor_overrides"].contains("max_tokens")) max_tokens = meta["preprocessor_overrides"]["max_tokens"];
    auto t = vl3::resize_targets(items, 14, 16, max_tokens);
    for (size_t k = 0; k < items.size(); ++k) {
      EXPECT_EQ(t[k].first, hw[k * 2]) << "item " << k;
      EXPECT_EQ(t[k].second, hw[k * 2 + 1]) << "item " << k;
    }
    // Patchify the stored PIL output of each image item and compare with its rows of pixel_values.
    const auto* pv = in->find("pixel_values");
    const float* rows = reinterpret_cast<const float*>(pv->data);
    size_t offset = 0;
    for (size_t k = 0; k < items.size(); ++k) {
      const size_t n = size_t(grid[k * 3]) * grid[k * 3 + 1] * grid[k * 3 + 2] * 588;
      const auto* u8 = in->find("item" + std::to_string(k) + "_resized_u8");
      if (u8) {
        vl3::Image img;
        img.height = int(u8->shape[1]);
        img.width = int(u8->shape[2]);
        img.rgb.assign(u8->data, u8->data + u8->nbytes);
        std::vector<float> out;
        vl3::patchify(img, 14, int(merge[k]), {}, out);
        ASSERT_EQ(out.size(), n);
        EXPECT_EQ(std::memcmp(out.data(), rows + offset, n * sizeof(float)), 0) << "pixel_values of item " << k;
        ++checked;
      }
      offset += n;
    }
  }
  EXPECT_GT(checked, 0);
}
