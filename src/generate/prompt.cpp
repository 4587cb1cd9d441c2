// From a conversation to the LLM input: media -> pixels, chat template, placeholder expansion,
// tokenization, vision encoder (in frame chunks), Differential Frame Pruning, splice features.
#include <chrono>

#include "generate/visual_input.h"
#include "model/frame_pruning.h"
#include "model/videollama3.h"
#include "vl3/error.h"
#include "vl3/generate.h"

namespace vl3 {
namespace {

using Clock = std::chrono::steady_clock;

// Runs the vision tower + merge + projector over groups of whole images / single video frames of at
// most `max_patches` patches (attention never crosses a frame, so the result equals one big run) and
// concatenates the projected features [M, H]. Intermediates go to `debug` when given.
torch::Tensor encode_in_chunks(VideoLlama3Impl& net, const torch::Tensor& pixel_values,
                               const std::vector<VisualGrid>& grids, int64_t max_patches,
                               std::map<std::string, torch::Tensor>* debug) {
  std::vector<VisualGrid> units;  // images whole, videos frame by frame
  for (const auto& g : grids) {
    if (!g.video) {
      units.push_back(g);
      continue;
    }
    for (int64_t f = 0; f < g.t; ++f) units.push_back({1, g.h, g.w, g.merge, true});
  }
  std::vector<torch::Tensor> projected;
  std::map<std::string, std::vector<torch::Tensor>> parts;
  std::vector<std::vector<torch::Tensor>> layers;
  const auto dtype = net.llm->embed_tokens->weight.scalar_type();
  int64_t row = 0;
  for (size_t u = 0; u < units.size();) {
    std::vector<VisualGrid> chunk;
    int64_t n = 0;
    while (u < units.size() && (chunk.empty() || n + units[u].patches() <= max_patches)) {
      n += units[u].patches();
      chunk.push_back(units[u++]);
    }
    TensorObserver observe;
    if (debug)
      observe = [&](const std::string& name, int layer, const torch::Tensor& t) {
        if (layer < 0) {
          parts[name].push_back(t.to(torch::kFloat32));
          return;
        }
        if (layers.size() <= size_t(layer)) layers.resize(size_t(layer) + 1);
        layers[size_t(layer)].push_back(t.to(torch::kFloat32));
      };
    auto px = pixel_values.narrow(0, row, n).to(dtype);
    projected.push_back(net.encode_visual(px, chunk, observe));
    row += n;
  }
  if (debug) {
    for (auto& [name, ts] : parts) (*debug)[name] = torch::cat(ts, 0);
    std::vector<torch::Tensor> per_layer;
    for (auto& ts : layers) per_layer.push_back(torch::cat(ts, 0));
    if (!per_layer.empty()) (*debug)["encoder_layer_out"] = torch::stack(per_layer);
  }
  return torch::cat(projected, 0);
}

}  // namespace

Prompt prepare_prompt(Model& model, const std::vector<Message>& messages, const PromptOptions& opt) {
  torch::NoGradGuard no_grad;
  Prompt p;
  auto vin = load_visual_input(messages, model.processor, opt, p.stats);
  ChatRenderOptions chat = opt.chat;
  const int64_t placeholder = model.config.image_token_index;
  chat.image_token = model.tokenizer.id_to_token(TokenId(placeholder));
  p.text = render_chat(messages, chat, vin.videos);
  const std::string expanded =
      vin.grids.empty() ? p.text : expand_image_tokens(p.text, chat.image_token, vin.placeholder_counts);
  auto ids32 = model.tokenizer.encode(expanded);
  if (vin.grids.empty()) {
    p.ids = std::move(ids32);
    return p;
  }

  auto& net = *model.net;
  auto t0 = Clock::now();
  auto* debug = opt.keep_debug ? &p.debug : nullptr;
  auto projected = encode_in_chunks(net, vin.pixel_values.to(model.device), vin.grids, opt.max_patches_per_chunk, debug);
  p.stats.vision_seconds = std::chrono::duration<double>(Clock::now() - t0).count();

  // DiffFP on the normalised pixels (fp32, as the goldens); images and single frames keep everything.
  const bool prune = opt.prune && model.config.use_token_compression;
  auto keep = prune ? frame_pruning_mask(vin.pixel_values, vin.grids, opt.prune_threshold)
                    : torch::ones({projected.size(0)}, torch::kBool);
  std::vector<int64_t> ids(ids32.begin(), ids32.end());
  auto pruned = prune_placeholders(ids, placeholder, keep);
  p.ids.assign(pruned.begin(), pruned.end());
  p.visual = projected.index({keep.to(projected.device())});
  p.stats.visual_tokens = projected.size(0);
  p.stats.visual_tokens_kept = p.visual.size(0);
  if (debug) {
    for (auto& [k, v] : vin.debug) p.debug[k] = v;
    p.debug["input_ids_unpruned"] = torch::tensor(ids, torch::kLong).view({1, -1});
    p.debug["compression_mask"] = keep.to(torch::kLong);
  }
  return p;
}

}  // namespace vl3
