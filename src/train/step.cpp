#include "train/step.h"

#include "model/videollama3.h"
#include "vl3/error.h"

namespace vl3 {

StepLoss packed_loss(VideoLlama3Impl& net, const std::vector<const TrainSample*>& samples,
                     bool gradient_checkpointing) {
  if (samples.empty()) throw Error("packed_loss: no samples");
  const auto device = net.llm->embed_tokens->weight.device();
  const auto dtype = net.llm->embed_tokens->weight.scalar_type();
  StepLoss out;

  // 1. Vision: every image and frame of the row in one encoder call (attention is per image/frame).
  std::vector<torch::Tensor> pixels, keeps;
  std::vector<VisualGrid> grids;
  for (const auto* s : samples) {
    if (!s->pixel_values.defined()) continue;
    pixels.push_back(s->pixel_values);
    keeps.push_back(s->keep);
    grids.insert(grids.end(), s->grids.begin(), s->grids.end());
  }
  torch::Tensor visual;  // [M', H]
  if (!pixels.empty()) {
    auto px = torch::cat(pixels).to(device, dtype);                // [N, 3*p*p]
    auto projected = net.encode_visual(px, grids);                 // [M, H]
    auto keep = torch::cat(keeps).to(device);                      // [M]
    visual = projected.index({keep});                              // [M', H]
    out.visual_tokens = visual.size(0);
  }

  // 2. The packed row: ids, shifted targets, segment lengths.
  std::vector<int64_t> ids, targets, segments;
  for (const auto* s : samples) {
    if (s->ids.empty()) throw Error(s->origin + ": empty sample");
    ids.insert(ids.end(), s->ids.begin(), s->ids.end());
    segments.push_back(int64_t(s->ids.size()));
  }
  const int64_t T = int64_t(ids.size());
  // targets[t] = label of token t+1, where each sample's first label is ignored (flattening collator).
  targets.assign(size_t(T), kIgnoreIndex);
  int64_t t = 0;
  for (const auto* s : samples) {
    for (size_t i = 1; i < s->labels.size(); ++i) targets[size_t(t + int64_t(i) - 1)] = s->labels[i];
    t += int64_t(s->ids.size());
  }
  std::vector<int64_t> rows, labels;
  for (int64_t i = 0; i < T; ++i)
    if (targets[size_t(i)] != kIgnoreIndex) {
      rows.push_back(i);
      labels.push_back(targets[size_t(i)]);
    }
  out.tokens = T;
  out.supervised = int64_t(rows.size());

  // 3. LLM over the row; logits only where a label is supervised.
  auto id_t = torch::tensor(ids, torch::kLong).to(device);
  auto embeds = net.embed(id_t, visual);                                      // [T, H]
  auto hidden = net.llm->forward_packed(embeds, segments, gradient_checkpointing);  // [T, H]
  if (rows.empty()) {
    out.loss_sum = (hidden.sum() * 0.0).to(torch::kFloat32);  // keeps the graph; contributes nothing
    return out;
  }
  auto sel = hidden.index_select(0, torch::tensor(rows, torch::kLong).to(device));  // [S, H]
  auto logits = net.logits(sel);                                                      // [S, V] fp32
  auto y = torch::tensor(labels, torch::kLong).to(device);
  out.loss_sum = torch::nn::functional::cross_entropy(
      logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
  return out;
}

}  // namespace vl3
