#include "generate/visual_input.h"

#include <chrono>
#include <filesystem>

#include "vl3/error.h"
#include "vl3/media.h"
#include "vl3/processor.h"

namespace vl3 {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Part {
  const ContentPart* part;
  Image image;           // images: the decoded source
  VideoInfo info;        // videos: probed
  VideoOptions vopt;
};

// Probes a video without keeping pixels: the size callback records the info and stops the load.
struct ProbeDone {};
VideoInfo probe(const std::string& src, const VideoOptions& vopt) {
  VideoInfo info;
  try {
    load_video(src, vopt, [&](const VideoInfo& i) -> std::pair<int, int> {
      info = i;
      throw ProbeDone{};
    });
  } catch (const ProbeDone&) {
  }
  return info;
}

}  // namespace

VisualInput load_visual_input(const std::vector<Message>& messages, const ProcessorConfig& proc,
                              const PromptOptions& opt, PromptStats& stats) {
  VisualInput out;
  std::vector<Part> parts;
  auto t0 = Clock::now();
  for (const auto& m : messages)
    for (const auto& c : m.content) {
      if (c.type == ContentPart::Type::Text) continue;
      Part p{&c, {}, {}, {}};
      const std::string src = resolve_media_source(c.source, opt.media_root);
      if (c.type == ContentPart::Type::Image) {
        p.image = load_image(src);
        ++stats.images;
      } else {
        p.vopt.fps = c.fps.value_or(opt.fps > 0 ? opt.fps : proc.fps);
        p.vopt.max_frames = c.max_frames.value_or(opt.max_frames > 0 ? opt.max_frames : proc.max_frames);
        p.vopt.start_time = c.start_time;
        p.vopt.end_time = c.end_time;
        p.info = probe(src, p.vopt);
        if (p.info.num_frames <= 0) throw Error(src + ": no frames to sample");
        ++stats.videos;
      }
      parts.push_back(std::move(p));
    }
  if (parts.empty()) return out;

  // Resize targets over all items at once (the budget is shared).
  const int image_merge = opt.image_merge_size > 0 ? opt.image_merge_size : proc.image_merge_size;
  std::vector<VisualSize> sizes;
  for (const auto& p : parts) {
    if (p.part->type == ContentPart::Type::Image)
      sizes.push_back({p.image.height, p.image.width, 1, image_merge});
    else
      sizes.push_back({p.info.height, p.info.width, p.info.num_frames, proc.video_merge_size});
  }
  const int max_tokens = opt.max_visual_tokens > 0 ? opt.max_visual_tokens : proc.max_tokens;
  const int min_tokens = opt.min_visual_tokens > 0 ? opt.min_visual_tokens : proc.min_tokens;
  auto targets = resize_targets(sizes, proc.patch_size, min_tokens, max_tokens);

  Normalization norm;
  norm.rescale_factor = proc.rescale_factor;
  for (int c = 0; c < 3; ++c) {
    norm.mean[size_t(c)] = float(proc.image_mean[size_t(c)]);
    norm.std[size_t(c)] = float(proc.image_std[size_t(c)]);
  }
  std::vector<float> rows;
  std::vector<int64_t> hw, modal;
  double decode_s = since(t0), prep_s = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    auto& p = parts[i];
    const auto [h, w] = targets[i];
    const int m = sizes[i].merge;
    const int p14 = proc.patch_size;
    VisualGrid g{1, h / p14, w / p14, m, false};
    const auto prefix = "item" + std::to_string(i);
    auto tp = Clock::now();
    if (p.part->type == ContentPart::Type::Image) {
      Image resized = resize_bicubic(p.image, w, h);
      patchify(resized, p14, m, norm, rows);
      out.placeholder_counts.push_back(size_t((g.h / m) * (g.w / m)));
      if (opt.keep_debug)
        out.debug[prefix + "_resized_u8"] =
            torch::from_blob(resized.rgb.data(), {1, h, w, 3}, torch::kUInt8).clone();
      p.image = Image{};
      prep_s += since(tp);
    } else {
      auto td = Clock::now();
      VideoClip clip = load_video(resolve_media_source(p.part->source, opt.media_root), p.vopt,
                                  [&](const VideoInfo&) { return std::make_pair(w, h); });
      decode_s += since(td);
      tp = Clock::now();
      g.t = int64_t(clip.frames.size());
      g.video = true;
      for (const auto& f : clip.frames) {
        patchify(f, p14, m, norm, rows);
        out.placeholder_counts.push_back(size_t((g.h / m) * (g.w / m)));
      }
      out.videos.push_back({clip.frames.size(), clip.timestamps});
      stats.frames += int(clip.frames.size());
      if (opt.keep_debug) {
        std::vector<float> ts(clip.timestamps.begin(), clip.timestamps.end());
        out.debug[prefix + "_timestamps"] = torch::tensor(ts, torch::kFloat32);
        out.debug[prefix + "_source_frame_index"] = torch::tensor(clip.source_frame_index, torch::kLong);
      }
      prep_s += since(tp);
    }
    out.grids.push_back(g);
    hw.insert(hw.end(), {h, w});
    modal.push_back(g.video ? 1 : 0);
  }
  const int64_t row = int64_t(3) * proc.patch_size * proc.patch_size;
  out.pixel_values = torch::from_blob(rows.data(), {int64_t(rows.size()) / row, row}, torch::kFloat32).clone();
  stats.load_seconds += decode_s;
  stats.preprocess_seconds += prep_s;
  if (opt.keep_debug) {
    std::vector<int64_t> grid_sizes, merges;
    for (const auto& g : out.grids) {
      grid_sizes.insert(grid_sizes.end(), {g.t, g.h, g.w});
      merges.push_back(g.merge);
    }
    const int64_t n = int64_t(out.grids.size());
    out.debug["pixel_values"] = out.pixel_values;
    out.debug["grid_sizes"] = torch::tensor(grid_sizes, torch::kLong).view({n, 3});
    out.debug["merge_sizes"] = torch::tensor(merges, torch::kLong);
    out.debug["resized_hw"] = torch::tensor(hw, torch::kLong).view({n, 2});
    out.debug["item_modal"] = torch::tensor(modal, torch::kLong);
  }
  return out;
}

}  // namespace vl3
