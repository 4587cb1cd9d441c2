// Differential Frame Pruning on videos the test makes itself (ffmpeg, lossless H.264): a static video
// keeps frame 0 and one token per later frame; a moving square keeps its own region and nothing else.
#include <gtest/gtest.h>

#include <cstdlib>

#include "model/frame_pruning.h"
#include "test_util.h"
#include "vl3/media.h"
#include "vl3/processor.h"

namespace {

// Samples at 1 fps at native size, patchifies with merge 2, returns the DiffFP mask as [frames, tokens].
torch::Tensor mask_of(const std::string& path, int64_t& tokens_per_frame) {
  vl3::VideoOptions opt;
  auto clip = vl3::load_video(path, opt, [](const vl3::VideoInfo& i) { return std::make_pair(i.width, i.height); });
  std::vector<float> rows;
  for (const auto& f : clip.frames) vl3::patchify(f, 14, 2, {}, rows);
  const int64_t t = int64_t(clip.frames.size());
  vl3::VisualGrid g{t, clip.frames[0].height / 14, clip.frames[0].width / 14, 2, true};
  auto px = torch::from_blob(rows.data(), {int64_t(rows.size()) / 588, 588}, torch::kFloat32);
  tokens_per_frame = (g.h / 2) * (g.w / 2);
  return vl3::frame_pruning_mask(px, {g}).view({t, tokens_per_frame});
}

void make_video(const std::string& filtergraph, const std::string& out) {
  const std::string cmd = "ffmpeg -v error -y -f lavfi -i \"" + filtergraph +
                          "\" -c:v libx264 -qp 0 -pix_fmt yuv420p " + out + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

}  // namespace

TEST(FramePruning, StaticVideoKeepsFrameZeroOnly) {
  vl3test::TempDir tmp;
  make_video("color=c=blue:s=112x112:r=4:d=5", tmp.str("static.mp4"));
  int64_t n = 0;
  auto keep = mask_of(tmp.str("static.mp4"), n);
  ASSERT_EQ(keep.size(0), 5);
  EXPECT_EQ(keep[0].sum().item<int64_t>(), n);  // first frame whole
  for (int64_t f = 1; f < 5; ++f) {
    EXPECT_EQ(keep[f].sum().item<int64_t>(), 1) << "frame " << f;  // nothing changed: token 0 only
    EXPECT_TRUE(keep[f][0].item<bool>());
  }
}

TEST(FramePruning, MovingSquareKeepsItsRegion) {
  vl3test::TempDir tmp;
  // 224x112 black, a 28x28 red square moving 28 px/s to the right at y = 42..70 (merged-token rows 1 and 2).
  make_video("color=c=black:s=224x112:r=4:d=5[bg];color=c=red:s=28x28:r=4:d=5[fg];[bg][fg]overlay=x='t*28':y=42",
             tmp.str("moving.mp4"));
  int64_t n = 0;
  auto keep = mask_of(tmp.str("moving.mp4"), n);
  ASSERT_EQ(n, 8 * 4);  // 4 rows x 8 columns of 28x28 merged tokens
  auto grid = keep.view({keep.size(0), 4, 8});
  for (int64_t f = 1; f < keep.size(0); ++f) {
    SCOPED_TRACE(testing::Message() << "frame " << f);
    EXPECT_GE(grid[f].sum().item<int64_t>(), 2);                   // the square's old and new place
    EXPECT_EQ(grid[f][0].sum().item<int64_t>(), 0);                // the static rows above and below
    EXPECT_EQ(grid[f][3].sum().item<int64_t>(), 0);
    EXPECT_LE(grid[f].sum().item<int64_t>(), 8);                   // a small region, not the frame
  }
}
