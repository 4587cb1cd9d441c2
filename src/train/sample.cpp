// Conversation -> (ids, labels, vision input) for training, following the official processor with
// return_labels=True and the flattening collator (see sample.h).
#include "train/sample.h"

#include "generate/visual_input.h"
#include "model/frame_pruning.h"
#include "vl3/error.h"

namespace vl3 {
namespace {


}  // namespace

TrainSample prepare_train_sample(const Model& model, const std::vector<Message>& messages, const SampleOptions& opt,
                                 const std::string& media_root) {
  torch::NoGradGuard no_grad;
  TrainSample s;
  bool any_assistant = false;
  for (const auto& m : messages) {
    if (m.role == "stream") throw Error("streaming turns (role \"stream\") are not supported for training");
    any_assistant |= m.role == "assistant";
  }
  if (!any_assistant) throw Error("the conversation has no assistant turn to learn from");

  // Vision input of the whole conversation: one resize budget (mm_max_length) over all its items.
  ProcessorConfig proc = model.processor;
  if (opt.video_merge_size > 0) proc.video_merge_size = opt.video_merge_size;
  PromptOptions popt;
  popt.max_visual_tokens = opt.mm_max_length;
  popt.image_merge_size = opt.image_merge_size;
  popt.fps = opt.fps;
  popt.max_frames = opt.max_frames;
  popt.media_root = media_root;
  PromptStats stats;
  auto vin = load_visual_input(messages, proc, popt, stats);
  s.grids = vin.grids;
  if (!vin.grids.empty()) s.pixel_values = vin.pixel_values;

  // Each message rendered and tokenized on its own, with its own share of placeholders and videos.
  ChatRenderOptions chat;
  chat.add_system_prompt = false;
  chat.add_generation_prompt = false;
  const int64_t placeholder = model.config.image_token_index;
  chat.image_token = model.tokenizer.id_to_token(TokenId(placeholder));
  const size_t gen_prompt_len = model.tokenizer.encode("<|im_start|>assistant\n").size();
  auto is_visual = [&](int64_t id) { return id == placeholder; };
  size_t unit = 0, video = 0;  // next placeholder group (image or frame), next video part
  for (const auto& m : messages) {
    std::vector<VideoFrameInfo> videos;
    std::vector<size_t> counts;
    for (const auto& p : m.content) {
      if (p.type == ContentPart::Type::Text) continue;
      const size_t frames = p.type == ContentPart::Type::Video ? vin.videos.at(video).num_frames : 1;
      if (p.type == ContentPart::Type::Video) videos.push_back(vin.videos.at(video++));
      for (size_t f = 0; f < frames; ++f) counts.push_back(vin.placeholder_counts.at(unit++));
    }
    std::string text = render_chat({m}, chat, videos);
    if (!counts.empty()) text = expand_image_tokens(text, chat.image_token, counts);
    auto ids = model.tokenizer.encode(text);
    const size_t first = s.ids.size();
    s.ids.insert(s.ids.end(), ids.begin(), ids.end());
    s.labels.resize(s.ids.size(), kIgnoreIndex);
    // Assistant turn: supervise tokens [gen_prompt_len, len-1): the content and <|im_end|>, not the "\n".
    if (m.role == "assistant" && ids.size() > gen_prompt_len + 1)
      for (size_t i = first + gen_prompt_len; i + 1 < s.ids.size(); ++i) s.labels[i] = s.ids[i];
    // train_on_prompt: the other turns' text too (after their "<|im_start|>ROLE\n"), never a visual token.
    if (opt.train_on_prompt && m.role != "assistant") {
      const size_t header = model.tokenizer.encode("<|im_start|>" + m.role + "\n").size();
      for (size_t i = first + header; i + 1 < s.ids.size(); ++i)
        if (!is_visual(s.ids[i])) s.labels[i] = s.ids[i];
    }
  }
  if (unit != vin.placeholder_counts.size())
    throw Error("internal: " + std::to_string(unit) + " placeholder groups used of " +
                std::to_string(vin.placeholder_counts.size()));

  // Truncation to model_max_length (the collator cuts ids and labels); features past the placeholders that
  // remain are dropped (official _maybe_truncate_visual_tokens).
  if (int64_t(s.ids.size()) > opt.model_max_length) {
    s.ids.resize(size_t(opt.model_max_length));
    s.labels.resize(size_t(opt.model_max_length));
  }
  int64_t M = 0;
  for (const auto& g : s.grids) M += g.merged_tokens();
  s.visual_tokens = M;
  int64_t placeholders = 0;
  for (auto id : s.ids) placeholders += id == placeholder;
  if (M > 0) {
    s.keep = opt.prune ? frame_pruning_mask(s.pixel_values, s.grids, opt.prune_threshold)
                       : torch::ones({M}, torch::kBool);
    s.keep.narrow(0, placeholders, M - placeholders).fill_(false);
    // Pruned placeholders leave ids and labels together (their labels are never supervised).
    std::vector<int64_t> ids, labels;
    const auto keep_trunc = s.keep.narrow(0, 0, placeholders);
    auto kept = keep_trunc.accessor<bool, 1>();
    int64_t k = 0;
    for (size_t i = 0; i < s.ids.size(); ++i) {
      if (s.ids[i] == placeholder && !kept[k++]) continue;
      ids.push_back(s.ids[i]);
      labels.push_back(s.labels[i]);
    }
    s.ids = std::move(ids);
    s.labels = std::move(labels);
  }
  for (auto l : s.labels) s.num_supervised += l != kIgnoreIndex;
  return s;
}

}  // namespace vl3
