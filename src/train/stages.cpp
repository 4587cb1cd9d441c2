// Stage presets, config overrides, parameter groups, and the one-sample gradient dump.
#include "train/stages.h"

#include <nlohmann/json.hpp>

#include "model/videollama3.h"
#include "train/data.h"
#include "train/step.h"
#include "vl3/chat.h"
#include "vl3/error.h"
#include "vl3/model.h"

namespace vl3 {

void apply_stage_preset(TrainOptions& o, int stage) {
  if (stage < 1 || stage > 4) throw Error("--stage must be 1, 2, 3 or 4 (got " + std::to_string(stage) + ")");
  o.stage = stage;
  if (stage == 1) {  // vision encoder adaptation: LLM frozen
    o.lr_llm = 0;
    o.lr_projector = 1e-3;
    o.lr_vision = 1e-5;
  } else {
    o.lr_llm = 1e-5;
    o.lr_projector = 1e-5;
    o.lr_vision = 2e-6;
  }
  o.image_merge_size = stage == 4 ? 2 : 1;
  o.frame_pruning = stage >= 3;
}

void apply_train_config(TrainOptions& o, const nlohmann::json& j) {
  if (!j.is_object()) throw Error("training config: expected a JSON object");
  if (j.contains("stage")) apply_stage_preset(o, j.at("stage").get<int>());  // preset first, then the rest
  for (auto it = j.begin(); it != j.end(); ++it) {
    const auto& k = it.key();
    const auto& v = it.value();
    try {
#define VL3_FIELD(name) \
  if (k == #name) {     \
    v.get_to(o.name);   \
    continue;           \
  }
      if (k == "stage") continue;
      VL3_FIELD(model_dir) VL3_FIELD(out_dir) VL3_FIELD(data) VL3_FIELD(media_root) VL3_FIELD(strict)
      VL3_FIELD(lr_llm) VL3_FIELD(lr_projector) VL3_FIELD(lr_vision) VL3_FIELD(image_merge_size)
      VL3_FIELD(frame_pruning) VL3_FIELD(prune_threshold) VL3_FIELD(train_on_prompt) VL3_FIELD(weight_decay) VL3_FIELD(warmup_ratio)
      VL3_FIELD(lr_scheduler_type)
      VL3_FIELD(max_grad_norm) VL3_FIELD(global_batch_size) VL3_FIELD(micro_batch_size) VL3_FIELD(epochs)
      VL3_FIELD(max_steps) VL3_FIELD(seed) VL3_FIELD(dtype) VL3_FIELD(gradient_checkpointing)
      VL3_FIELD(model_max_length) VL3_FIELD(mm_max_length) VL3_FIELD(fps) VL3_FIELD(max_frames)
      VL3_FIELD(save_steps) VL3_FIELD(save_total_limit) VL3_FIELD(resume) VL3_FIELD(prefetch)
#undef VL3_FIELD
    } catch (const nlohmann::json::exception& e) {
      throw Error("training config: \"" + k + "\" has the wrong type (" + e.what() + ")");
    }
    throw Error("training config: unknown key \"" + k + "\"");
  }
}

TrainModule module_of(const std::string& name) {
  auto starts = [&](const char* p) { return name.rfind(p, 0) == 0; };
  if (starts("model.vision_encoder.") || starts("model.vision_model.") || starts("vision_encoder."))
    return TrainModule::Vision;
  if (starts("model.mm_projector.") || starts("model.projector.")) return TrainModule::Projector;
  return TrainModule::LLM;
}

std::vector<ParamGroup> make_param_groups(VideoLlama3Impl& net, const TrainOptions& opt) {
  const char* names[] = {"llm", "projector", "vision"};
  const double lrs[] = {opt.lr_llm, opt.lr_projector, opt.lr_vision};
  std::vector<ParamGroup> groups(6);
  for (int m = 0; m < 3; ++m) {
    groups[size_t(2 * m)] = {names[m], lrs[m], opt.weight_decay, {}};
    groups[size_t(2 * m + 1)] = {std::string(names[m]) + "/no_decay", lrs[m], 0.0, {}};
  }
  for (auto& [name, p] : named_weights(net)) {
    const int m = int(module_of(name));
    const bool trains = lrs[m] > 0;
    p.set_requires_grad(trains);
    if (!trains) continue;
    // transformers 4.46 exempts biases and nn.LayerNorm weights (not Qwen2's RMSNorm) from decay.
    const bool layer_norm = name.find("layer_norm") != std::string::npos ||
                            (m == int(TrainModule::Vision) && name.find("layernorm") != std::string::npos);
    const bool no_decay = name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0;
    groups[size_t(2 * m + ((no_decay || layer_norm) ? 1 : 0))].params.emplace_back(name, p);
  }
  std::vector<ParamGroup> out;
  for (auto& g : groups)
    if (!g.params.empty()) out.push_back(std::move(g));
  if (out.empty()) throw Error("nothing to train: every learning rate is 0");
  return out;
}

SampleOptions sample_options(const TrainOptions& o) {
  SampleOptions s;
  s.image_merge_size = o.image_merge_size;
  s.prune = o.frame_pruning;
  s.prune_threshold = o.prune_threshold;
  s.train_on_prompt = o.train_on_prompt;
  s.model_max_length = o.model_max_length;
  s.mm_max_length = o.mm_max_length;
  s.fps = o.fps;
  s.max_frames = o.max_frames;
  return s;
}

std::map<std::string, torch::Tensor> train_sample_dump(Model& model, const nlohmann::json& sample_json,
                                                       const std::string& media_root, int stage) {
  TrainOptions o;
  apply_stage_preset(o, stage);
  auto& net = *model.net;
  auto groups = make_param_groups(net, o);
  // A record in the annotation format, or a conversation in the messages format.
  // A record's media paths are resolved against media_root while it is converted; messages' paths when the
  // sample is prepared (resolving a relative root twice would give ROOT/ROOT/file).
  std::vector<Message> messages;
  const bool record = sample_json.is_object() && sample_json.contains("conversations");
  if (record)
    messages = record_to_messages(sample_json, media_root);
  else
    messages = messages_from_json(sample_json);
  if (!model.config.use_token_compression) o.frame_pruning = false;
  auto sample = prepare_train_sample(model, messages, sample_options(o), record ? std::string() : media_root);
  sample.origin = "train sample";

  for (auto& g : groups)
    for (auto& [name, p] : g.params) p.mutable_grad() = torch::Tensor();
  auto out = packed_loss(net, {&sample});
  if (out.supervised == 0) throw Error("the sample has no supervised token (no assistant content)");
  auto loss = out.loss_sum / double(out.supervised);
  loss.backward();

  std::map<std::string, torch::Tensor> t;
  t["input_ids"] = torch::tensor(sample.ids, torch::kLong).view({1, -1});
  t["labels"] = torch::tensor(sample.labels, torch::kLong).view({1, -1});
  t["loss"] = loss.detach().to(torch::kFloat32).view({1});
  t["num_supervised"] = torch::tensor({out.supervised}, torch::kLong);
  for (auto& g : groups)
    for (auto& [name, p] : g.params)
      t["grad." + name] = p.grad().defined() ? p.grad().to(torch::kFloat32) : torch::zeros_like(p, torch::kFloat32);
  return t;
}

}  // namespace vl3
