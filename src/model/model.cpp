// Model::load: config, tokenizer, optional processor/generation configs, weights.
#include <filesystem>

#include "model/videollama3.h"
#include "vl3/error.h"
#include "vl3/model.h"
#include "vl3/safetensors.h"

namespace vl3 {
namespace fs = std::filesystem;

namespace {

torch::Dtype default_dtype(const VideoLlama3Config& c, const torch::Device& device) {
  if (c.torch_dtype == "float32") return torch::kFloat32;
  if (c.torch_dtype == "float16") return device.is_cpu() ? torch::kFloat32 : torch::kFloat16;
  return torch::kBFloat16;  // "bfloat16" and unset: the released checkpoints' dtype
}

// Adds special tokens that tokenizer_config.json / added_tokens.json declare but tokenizer.json lacks
// (older saves keep VideoLLaMA3's <image> only there).
void add_declared_tokens(Tokenizer& tok, const std::string& dir) {
  auto cfg_path = (fs::path(dir) / "tokenizer_config.json").string();
  if (fs::exists(cfg_path)) {
    auto j = read_json_file(cfg_path);
    if (j.contains("added_tokens_decoder") && j["added_tokens_decoder"].is_object())
      for (auto& [id, entry] : j["added_tokens_decoder"].items())
        if (entry.is_object() && entry.contains("content") && entry["content"].is_string()) {
          TokenId tid;
          try {
            tid = TokenId(std::stol(id));
          } catch (const std::exception&) {
            throw Error(cfg_path + ": added_tokens_decoder key \"" + id + "\" is not a token id");
          }
          if (tok.id_to_token(tid).empty()) tok.add_special_token(entry["content"].get<std::string>(), tid);
        }
  }
  auto added_path = (fs::path(dir) / "added_tokens.json").string();
  if (fs::exists(added_path)) {
    auto j = read_json_file(added_path);
    if (j.is_object())
      for (auto& [content, id] : j.items())
        if (id.is_number_integer() && tok.token_to_id(content) < 0) tok.add_special_token(content, id.get<TokenId>());
  }
}

}  // namespace

std::unique_ptr<Model> Model::load(const std::string& dir, const LoadOptions& opt) {
  auto m = std::make_unique<Model>();
  m->dir = dir;
  m->config = VideoLlama3Config::load(dir);
  m->processor = ProcessorConfig::load(dir);
  m->generation = GenerationConfig::load(dir);
  auto tok_path = (fs::path(dir) / "tokenizer.json").string();
  if (!fs::exists(tok_path)) throw Error(dir + ": no tokenizer.json in the model directory");
  m->tokenizer = Tokenizer::from_file(tok_path);
  add_declared_tokens(m->tokenizer, dir);
  if (m->tokenizer.id_to_token(m->config.image_token_index).empty())
    throw Error(tok_path + ": the image token id " + std::to_string(m->config.image_token_index) +
                " from config.json is not in the tokenizer");

  m->device = opt.device;
  m->dtype = opt.dtype.value_or(default_dtype(m->config, opt.device));
  auto ckpt = SafetensorsCheckpoint::open(dir);
  // Build on CPU, fill from the mapped file, then move: one resident copy of the weights.
  m->net = build_network(m->config, torch::TensorOptions().dtype(m->dtype));
  load_weights(*m->net, ckpt, dir);
  if (!opt.device.is_cpu()) m->net->to(opt.device);
  m->net->eval();
  for (auto& p : m->net->parameters()) p.set_requires_grad(false);
  return m;
}

std::vector<TokenId> Model::stop_tokens() const {
  std::vector<TokenId> out;
  auto add = [&](int id) {
    if (id >= 0 && std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  };
  add(tokenizer.token_to_id("<|im_end|>"));
  for (int id : config.text.eos_token_id) add(id);
  for (int id : generation.eos_token_id) add(id);
  return out;
}

}  // namespace vl3
