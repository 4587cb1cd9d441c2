// Parsing of config.json (both layouts), preprocessor/processor configs and generation_config.json.
#include "vl3/config.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "vl3/error.h"

namespace vl3 {
namespace {

using json = nlohmann::json;

std::string type_name(const json& v) { return v.type_name(); }

// Typed getters: `req` throws when the key is absent; `opt` keeps the default when absent or null.
// Both throw when present with the wrong type, naming the file and the key path.
struct Reader {
  const json& j;
  std::string origin;
  std::string prefix;  // e.g. "vision_encoder_config."

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw Error(origin + ": \"" + prefix + key + "\" " + what);
  }
  const json* get(const std::string& key) const {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return nullptr;
    return &*it;
  }
  void opt(const std::string& key, int& out) const {
    if (const json* v = get(key)) {
      if (!v->is_number_integer()) fail(key, "must be an integer, got " + type_name(*v));
      out = v->get<int>();
    }
  }
  void opt(const std::string& key, double& out) const {
    if (const json* v = get(key)) {
      if (!v->is_number()) fail(key, "must be a number, got " + type_name(*v));
      out = v->get<double>();
    }
  }
  void opt(const std::string& key, bool& out) const {
    if (const json* v = get(key)) {
      if (!v->is_boolean()) fail(key, "must be true or false, got " + type_name(*v));
      out = v->get<bool>();
    }
  }
  void opt(const std::string& key, std::string& out) const {
    if (const json* v = get(key)) {
      if (!v->is_string()) fail(key, "must be a string, got " + type_name(*v));
      out = v->get<std::string>();
    }
  }
  // An int or a list of ints (eos_token_id takes both forms).
  void opt(const std::string& key, std::vector<int>& out) const {
    if (const json* v = get(key)) {
      if (v->is_number_integer()) {
        out = {v->get<int>()};
      } else if (v->is_array()) {
        out.clear();
        for (const auto& e : *v) {
          if (!e.is_number_integer()) fail(key, "must hold integers");
          out.push_back(e.get<int>());
        }
      } else {
        fail(key, "must be an integer or a list of integers, got " + type_name(*v));
      }
    }
  }
  void opt(const std::string& key, std::vector<double>& out) const {
    if (const json* v = get(key)) {
      if (!v->is_array()) fail(key, "must be a list of numbers, got " + type_name(*v));
      out.clear();
      for (const auto& e : *v) {
        if (!e.is_number()) fail(key, "must hold numbers");
        out.push_back(e.get<double>());
      }
    }
  }
  template <typename T>
  void req(const std::string& key, T& out) const {
    if (!get(key)) fail(key, "is missing");
    opt(key, out);
  }
};

void check_positive(const std::string& origin, const std::string& key, int v) {
  if (v <= 0) throw Error(origin + ": \"" + key + "\" must be positive, got " + std::to_string(v));
}

VisionConfig parse_vision(const json& j, const std::string& origin, const std::string& prefix) {
  if (!j.is_object()) throw Error(origin + ": \"" + prefix + "\" must be an object");
  Reader r{j, origin, prefix + "."};
  VisionConfig c;
  r.req("hidden_size", c.hidden_size);
  r.req("intermediate_size", c.intermediate_size);
  r.req("num_hidden_layers", c.num_hidden_layers);
  r.req("num_attention_heads", c.num_attention_heads);
  r.opt("num_channels", c.num_channels);
  r.opt("patch_size", c.patch_size);
  r.opt("layer_norm_eps", c.layer_norm_eps);
  r.opt("hidden_act", c.hidden_act);
  r.opt("attention_dropout", c.attention_dropout);
  for (auto& [k, v] : {std::pair<const char*, int>{"hidden_size", c.hidden_size},
                       {"intermediate_size", c.intermediate_size},
                       {"num_hidden_layers", c.num_hidden_layers},
                       {"num_attention_heads", c.num_attention_heads},
                       {"num_channels", c.num_channels},
                       {"patch_size", c.patch_size}})
    check_positive(origin, prefix + "." + k, v);
  if (c.hidden_size % c.num_attention_heads != 0 || c.head_dim() % 4 != 0)
    throw Error(origin + ": " + prefix + " hidden_size " + std::to_string(c.hidden_size) +
                " must split into num_attention_heads " + std::to_string(c.num_attention_heads) +
                " heads whose size is a multiple of 4 (2D rotary positions)");
  if (c.hidden_act != "gelu_pytorch_tanh")
    throw Error(origin + ": " + prefix + ".hidden_act \"" + c.hidden_act +
                "\" is not supported (VideoLLaMA3 uses gelu_pytorch_tanh)");
  return c;
}

Qwen2Config parse_text(const json& j, const std::string& origin, const std::string& prefix) {
  Reader r{j, origin, prefix};
  Qwen2Config c;
  r.req("vocab_size", c.vocab_size);
  r.req("hidden_size", c.hidden_size);
  r.req("intermediate_size", c.intermediate_size);
  r.req("num_hidden_layers", c.num_hidden_layers);
  r.req("num_attention_heads", c.num_attention_heads);
  c.num_key_value_heads = c.num_attention_heads;
  r.opt("num_key_value_heads", c.num_key_value_heads);
  r.opt("max_position_embeddings", c.max_position_embeddings);
  r.opt("rope_theta", c.rope_theta);
  r.opt("rms_norm_eps", c.rms_norm_eps);
  r.opt("tie_word_embeddings", c.tie_word_embeddings);
  r.opt("hidden_act", c.hidden_act);
  r.opt("bos_token_id", c.bos_token_id);
  r.opt("eos_token_id", c.eos_token_id);
  r.opt("attention_dropout", c.attention_dropout);
  r.opt("use_sliding_window", c.use_sliding_window);
  for (auto& [k, v] : {std::pair<const char*, int>{"vocab_size", c.vocab_size},
                       {"hidden_size", c.hidden_size},
                       {"intermediate_size", c.intermediate_size},
                       {"num_hidden_layers", c.num_hidden_layers},
                       {"num_attention_heads", c.num_attention_heads},
                       {"num_key_value_heads", c.num_key_value_heads},
                       {"max_position_embeddings", c.max_position_embeddings}})
    check_positive(origin, prefix + k, v);
  if (c.hidden_size % c.num_attention_heads != 0 || c.head_dim() % 2 != 0)
    throw Error(origin + ": hidden_size " + std::to_string(c.hidden_size) + " is not divisible into " +
                std::to_string(c.num_attention_heads) + " heads of even size");
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    throw Error(origin + ": num_attention_heads " + std::to_string(c.num_attention_heads) +
                " is not a multiple of num_key_value_heads " + std::to_string(c.num_key_value_heads));
  if (const json* rs = r.get("rope_scaling"))
    throw Error(origin + ": \"" + prefix + "rope_scaling\" = " + rs->dump() +
                " is not supported (VideoLLaMA3 checkpoints use plain RoPE)");
  if (c.use_sliding_window)
    throw Error(origin + ": \"" + prefix + "use_sliding_window\" true is not supported");
  if (c.hidden_act != "silu")
    throw Error(origin + ": \"" + prefix + "hidden_act\" \"" + c.hidden_act + "\" is not supported (silu)");
  return c;
}

}  // namespace

json read_json_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open (" + std::string(std::strerror(errno)) + ")");
  std::stringstream ss;
  ss << f.rdbuf();
  try {
    return json::parse(ss.str());
  } catch (const json::parse_error& e) {
    throw Error(path + ": invalid JSON at byte " + std::to_string(e.byte) + ": " + e.what());
  }
}

VideoLlama3Config VideoLlama3Config::from_json(const json& j, const std::string& origin) {
  if (!j.is_object()) throw Error(origin + ": the config must be a JSON object");
  Reader r{j, origin, ""};
  VideoLlama3Config c;
  if (const json* a = r.get("architectures")) {
    if (!a->is_array()) r.fail("architectures", "must be a list of strings");
    for (const auto& e : *a)
      if (e.is_string()) c.architectures.push_back(e.get<std::string>());
  }
  r.opt("model_type", c.model_type);
  r.opt("torch_dtype", c.torch_dtype);
  const bool hf_native = j.contains("text_config") || j.contains("vision_config") ||
                         c.model_type == "video_llama_3";
  if (hf_native) {
    c.layout = CheckpointLayout::HFNative;
    if (!j.contains("text_config") || !j["text_config"].is_object())
      r.fail("text_config", "is missing or not an object (HF-native layout)");
    if (!j.contains("vision_config")) r.fail("vision_config", "is missing (HF-native layout)");
    c.text = parse_text(j["text_config"], origin, "text_config.");
    c.vision = parse_vision(j["vision_config"], origin, "vision_config");
    // The top-level tie_word_embeddings wins when true (transformers forwards the text config's value).
    bool tie = false;
    r.opt("tie_word_embeddings", tie);
    c.text.tie_word_embeddings = c.text.tie_word_embeddings || tie;
    c.image_token_index = 151655;
    c.video_token_index = 151656;
    r.opt("image_token_id", c.image_token_index);
    r.opt("video_token_id", c.video_token_index);
    c.use_token_compression = true;
    r.opt("use_token_compression", c.use_token_compression);
    Reader tr{j["text_config"], origin, "text_config."};
    if (!r.get("torch_dtype")) tr.opt("torch_dtype", c.torch_dtype);
  } else {
    c.layout = CheckpointLayout::Official;
    c.text = parse_text(j, origin, "");
    if (!j.contains("vision_encoder_config"))
      r.fail("vision_encoder_config", "is missing (official VideoLLaMA3 layout)");
    c.vision = parse_vision(j["vision_encoder_config"], origin, "vision_encoder_config");
    r.opt("image_token_index", c.image_token_index);
    r.opt("mm_projector_type", c.mm_projector_type);
    r.opt("use_token_compression", c.use_token_compression);
  }
  if (c.mm_projector_type != "mlp2x_gelu")
    throw Error(origin + ": mm_projector_type \"" + c.mm_projector_type +
                "\" is not supported (VideoLLaMA3 uses mlp2x_gelu)");
  if (c.image_token_index < 0 || c.image_token_index >= c.text.vocab_size)
    throw Error(origin + ": image token id " + std::to_string(c.image_token_index) +
                " is outside the vocabulary of " + std::to_string(c.text.vocab_size));
  return c;
}

VideoLlama3Config VideoLlama3Config::load(const std::string& model_dir) {
  std::string path = (std::filesystem::path(model_dir) / "config.json").string();
  if (!std::filesystem::exists(path)) {
    if (!std::filesystem::exists(model_dir))
      throw Error(model_dir + ": no such model directory");
    throw Error(model_dir + ": not a model directory (no config.json)");
  }
  return from_json(read_json_file(path), path);
}

json VideoLlama3Config::to_json() const {
  json text_j = {{"vocab_size", text.vocab_size},
                 {"hidden_size", text.hidden_size},
                 {"intermediate_size", text.intermediate_size},
                 {"num_hidden_layers", text.num_hidden_layers},
                 {"num_attention_heads", text.num_attention_heads},
                 {"num_key_value_heads", text.num_key_value_heads},
                 {"max_position_embeddings", text.max_position_embeddings},
                 {"rope_theta", text.rope_theta},
                 {"rope_scaling", nullptr},
                 {"rms_norm_eps", text.rms_norm_eps},
                 {"tie_word_embeddings", text.tie_word_embeddings},
                 {"hidden_act", text.hidden_act},
                 {"bos_token_id", text.bos_token_id},
                 {"attention_dropout", text.attention_dropout},
                 {"use_sliding_window", text.use_sliding_window},
                 {"sliding_window", nullptr}};
  text_j["eos_token_id"] =
      text.eos_token_id.size() == 1 ? json(text.eos_token_id[0]) : json(text.eos_token_id);
  json vision_j = {{"hidden_size", vision.hidden_size},
                   {"intermediate_size", vision.intermediate_size},
                   {"num_hidden_layers", vision.num_hidden_layers},
                   {"num_attention_heads", vision.num_attention_heads},
                   {"num_channels", vision.num_channels},
                   {"patch_size", vision.patch_size},
                   {"layer_norm_eps", vision.layer_norm_eps},
                   {"hidden_act", vision.hidden_act},
                   {"attention_dropout", vision.attention_dropout},
                   {"torch_dtype", torch_dtype}};
  json j;
  if (layout == CheckpointLayout::Official) {
    j = text_j;
    j["architectures"] = {"Videollama3Qwen2ForCausalLM"};
    j["model_type"] = "videollama3_qwen2";
    vision_j["model_type"] = "videollama3_vision_encoder";
    j["vision_encoder_config"] = vision_j;
    j["vision_encoder"] = nullptr;
    j["image_token_index"] = image_token_index;
    j["mm_projector_type"] = mm_projector_type;
    j["use_token_compression"] = use_token_compression;
    j["auto_map"] = {{"AutoConfig", "configuration_videollama3.Videollama3Qwen2Config"},
                     {"AutoModel", "modeling_videollama3.Videollama3Qwen2Model"},
                     {"AutoModelForCausalLM", "modeling_videollama3.Videollama3Qwen2ForCausalLM"}};
  } else {
    text_j["model_type"] = "qwen2";
    vision_j["model_type"] = "video_llama_3_vision";
    j["architectures"] = {"VideoLlama3ForConditionalGeneration"};
    j["model_type"] = "video_llama_3";
    j["text_config"] = text_j;
    j["vision_config"] = vision_j;
    j["image_token_id"] = image_token_index;
    j["video_token_id"] = video_token();
    j["tie_word_embeddings"] = text.tie_word_embeddings;
    j["use_token_compression"] = use_token_compression;
  }
  j["torch_dtype"] = torch_dtype;
  return j;
}

ProcessorConfig ProcessorConfig::load(const std::string& model_dir) {
  namespace fs = std::filesystem;
  ProcessorConfig c;
  for (const char* name : {"preprocessor_config.json", "processor_config.json"}) {
    std::string path = (fs::path(model_dir) / name).string();
    if (!fs::exists(path)) continue;
    json j = read_json_file(path);
    if (!j.is_object()) throw Error(path + ": must be a JSON object");
    Reader r{j, path, ""};
    r.opt("patch_size", c.patch_size);
    r.opt("min_tokens", c.min_tokens);
    r.opt("max_tokens", c.max_tokens);
    r.opt("rescale_factor", c.rescale_factor);
    r.opt("image_mean", c.image_mean);
    r.opt("image_std", c.image_std);
    r.opt("resample", c.resample);
    r.opt("fps", c.fps);
    r.opt("image_merge_size", c.image_merge_size);
    r.opt("video_merge_size", c.video_merge_size);
    if (c.image_mean.size() != 3 || c.image_std.size() != 3)
      throw Error(path + ": image_mean and image_std must have 3 values");
  }
  // max_frames stays at the paper/README value 180: the released processor_config's 128 is overridden
  // by every official entry point (README, eval scripts pass max_frames=180).
  return c;
}

GenerationConfig GenerationConfig::load(const std::string& model_dir) {
  GenerationConfig c;
  std::string path = (std::filesystem::path(model_dir) / "generation_config.json").string();
  if (!std::filesystem::exists(path)) return c;
  json j = read_json_file(path);
  if (!j.is_object()) throw Error(path + ": must be a JSON object");
  Reader r{j, path, ""};
  r.opt("do_sample", c.do_sample);
  r.opt("temperature", c.temperature);
  r.opt("top_p", c.top_p);
  r.opt("top_k", c.top_k);
  r.opt("repetition_penalty", c.repetition_penalty);
  r.opt("max_new_tokens", c.max_new_tokens);
  r.opt("eos_token_id", c.eos_token_id);
  r.opt("pad_token_id", c.pad_token_id);
  return c;
}

}  // namespace vl3
