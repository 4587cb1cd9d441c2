#include "model/frame_pruning.h"

#include "vl3/error.h"

namespace vl3 {

torch::Tensor frame_pruning_mask(const torch::Tensor& pixel_values, const std::vector<VisualGrid>& grids,
                                 double threshold, int64_t min_tokens) {
  std::vector<torch::Tensor> masks;
  int64_t start = 0;
  for (const auto& g : grids) {
    const int64_t tokens = (g.h / g.merge) * (g.w / g.merge);  // merged tokens per frame
    auto keep = torch::ones({g.t, tokens}, torch::kBool);
    if (g.video && g.t > 1) {
      // One row per merged token: its m*m consecutive patch rows (merge-block order) side by side.
      auto p = pixel_values.narrow(0, start, g.patches()).to(torch::kFloat32).reshape({g.t, tokens, -1});
      auto diff = (p.narrow(0, 1, g.t - 1) - p.narrow(0, 0, g.t - 1)).abs().mean(-1) * 255.0;  // [t-1, tokens]
      keep.narrow(0, 1, g.t - 1).copy_(diff > threshold);
      auto counts = keep.sum(1);  // [t]
      const int64_t floor_n = std::min(min_tokens, tokens);
      for (int64_t f = 1; f < g.t; ++f)
        if (counts[f].item<int64_t>() < floor_n) keep[f].narrow(0, 0, floor_n).fill_(true);
    }
    masks.push_back(keep.flatten());
    start += g.patches();
  }
  return masks.empty() ? torch::ones({0}, torch::kBool) : torch::cat(masks);
}

std::vector<int64_t> prune_placeholders(const std::vector<int64_t>& ids, int64_t visual_token,
                                        const torch::Tensor& keep) {
  auto k = keep.to(torch::kBool).contiguous();
  const bool* kp = k.data_ptr<bool>();
  const int64_t n = k.numel();
  std::vector<int64_t> out;
  out.reserve(ids.size());
  int64_t j = 0;
  for (int64_t id : ids) {
    if (id == visual_token) {
      if (j >= n) break;
      if (!kp[j++]) continue;
    }
    out.push_back(id);
  }
  int64_t placeholders = std::count(ids.begin(), ids.end(), visual_token);
  if (placeholders != n)
    throw Error("the prompt has " + std::to_string(placeholders) + " visual placeholders but the pruning mask covers " +
                std::to_string(n) + " tokens");
  return out;
}

}  // namespace vl3
