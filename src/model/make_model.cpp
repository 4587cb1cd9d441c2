#include "vl3/make_model.h"

#include <filesystem>

#include "model/tensor_io.h"
#include "model/torch_compat.h"
#include "model/videollama3.h"
#include "vl3/assets.h"
#include "vl3/error.h"
#include "vl3/files.h"
#include "vl3/model.h"
#include "vl3/safetensors.h"
#include "vl3/tokenizer.h"

namespace vl3 {
namespace fs = std::filesystem;

VideoLlama3Config preset_config(const std::string& preset) {
  VideoLlama3Config c;  // defaults are VideoLLaMA3-2B
  if (preset == "2b") {
    c.torch_dtype = "bfloat16";
  } else if (preset == "7b") {
    c.text.hidden_size = 3584;
    c.text.intermediate_size = 18944;
    c.text.num_attention_heads = 28;
    c.text.num_key_value_heads = 4;
    c.text.vocab_size = 152064;
    c.text.tie_word_embeddings = false;
    c.torch_dtype = "bfloat16";
  } else if (preset == "tiny") {
    c.text.hidden_size = 64;
    c.text.intermediate_size = 112;
    c.text.num_hidden_layers = 2;
    c.text.num_attention_heads = 4;
    c.text.num_key_value_heads = 2;
    c.vision.hidden_size = 64;
    c.vision.intermediate_size = 96;
    c.vision.num_hidden_layers = 2;
    c.vision.num_attention_heads = 4;
    c.torch_dtype = "float32";
  } else if (preset == "mid") {
    // Between tiny and 2b, for training benchmarks: 117 M parameters (78 M of them the embedding).
    c.text.hidden_size = 512;
    c.text.intermediate_size = 1536;
    c.text.num_hidden_layers = 8;
    c.text.num_attention_heads = 8;
    c.text.num_key_value_heads = 2;
    c.vision.hidden_size = 384;
    c.vision.intermediate_size = 1536;
    c.vision.num_hidden_layers = 8;
    c.vision.num_attention_heads = 6;
    c.torch_dtype = "float32";
  } else if (preset == "small") {
    // The model vl3 trains itself on the synthetic world (scripts/train_small.sh): 5.0 M parameters, 20 MB in
    // fp32 with its own ~900-token vocabulary (vl3 make-tokenizer; vocab_size is then set from the tokenizer).
    c.text.hidden_size = 256;
    c.text.intermediate_size = 768;
    c.text.num_hidden_layers = 4;
    c.text.num_attention_heads = 4;
    c.text.num_key_value_heads = 2;
    c.text.vocab_size = 1088;
    c.text.max_position_embeddings = 4096;
    c.vision.hidden_size = 192;
    c.vision.intermediate_size = 512;
    c.vision.num_hidden_layers = 4;
    c.vision.num_attention_heads = 3;
    c.torch_dtype = "float32";
  } else {
    throw Error("unknown preset \"" + preset + "\" (choose tiny, small, mid, 2b or 7b)");
  }
  return c;
}

namespace {

// The small model's visual budget (docs/small-model.md): images are merged 2x2 like video frames, and an image or
// frame gives 9 to 16 tokens of 28x28 pixels. A synthetic scene (84x84) is then 3x3 tokens, one per grid cell;
// a bar chart 4x4; a text image 6x2. Few tokens make training steps cheap and an object easy to find, which is
// what lets the model learn within an hour on 2 cores.
constexpr int kSmallMinVisualTokens = 9, kSmallMaxVisualTokens = 16, kSmallImageMerge = 2;

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

// Two initialisations. "golden": the scales of the golden checkpoint, large enough that attention, RoPE and
// MLPs matter in a random model. "train": Hugging Face's from-scratch init (normal(0, initializer_range 0.02) for
// every matrix and embedding, zero biases, unit norms), for models that are trained from scratch.
torch::Tensor init_tensor(const std::string& name, c10::IntArrayRef shape, uint64_t seed, bool train_init) {
  uint64_t h = seed ^ 0x9E3779B97F4A7C15ull;
  for (unsigned char ch : name) h = (h ^ ch) * 0x100000001B3ull;  // per-name stream: order-independent
  auto gen = compat::make_cpu_generator(h);
  auto randn = [&](double std) { return torch::randn(shape, gen, torch::kFloat32) * std; };
  if (train_init) {
    if (ends_with(name, ".bias")) return torch::zeros(shape, torch::kFloat32);
    if (shape.size() == 1) return torch::ones(shape, torch::kFloat32);
    return randn(0.02);
  }
  if (ends_with(name, ".bias")) return randn(0.02);
  if (shape.size() == 1) return 1.0 + randn(0.1);  // LayerNorm / RMSNorm weights
  if (name.find("patch_embedding") != std::string::npos) return randn(0.02);
  if (name.find("embed_tokens") != std::string::npos) return randn(1.0 / std::sqrt(double(shape[1])));
  const double fan_in = double(shape[1]);
  const bool projector = name.find("mm_projector") != std::string::npos || name.find(".projector.") != std::string::npos;
  return randn((projector ? 0.5 : 1.0) / std::sqrt(fan_in));
}

std::string shard_name(size_t k, size_t n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", k, n);
  return buf;
}

// "key=value" edits of the config.json that the preset would write; the result is parsed (and checked) as any
// config.json is.
VideoLlama3Config apply_overrides(const VideoLlama3Config& cfg, const std::vector<std::string>& overrides) {
  nlohmann::json j = cfg.to_json();
  for (const auto& o : overrides) {
    const size_t eq = o.find('=');
    if (eq == std::string::npos || eq == 0) throw Error("make-model: override \"" + o + "\" is not key=value");
    const std::string key = o.substr(0, eq), text = o.substr(eq + 1);
    nlohmann::json* node = &j;
    size_t start = 0;
    for (;;) {
      const size_t dot = key.find('.', start);
      const std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      if (!node->is_object() || !node->contains(part))
        throw Error("make-model: config.json has no key \"" + key + "\"");
      node = &(*node)[part];
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    auto value = nlohmann::json::parse(text, nullptr, false);
    *node = value.is_discarded() ? nlohmann::json(text) : value;
  }
  VideoLlama3Config out = VideoLlama3Config::from_json(j, "make-model overrides");
  out.layout = cfg.layout;
  return out;
}

}  // namespace

void make_model(const std::string& out_dir, const MakeModelOptions& opt) {
  VideoLlama3Config cfg = preset_config(opt.preset);
  cfg.layout = opt.layout;
  if (opt.layout == CheckpointLayout::HFNative) {
    cfg.image_token_index = 151655;
    cfg.video_token_index = 151656;
  }
  // The tokenizer: the embedded Qwen2.5 one, or the one in opt.tokenizer_dir (special ids from it).
  std::string tokenizer_json = embedded_tokenizer_json(), tokenizer_config = embedded_tokenizer_config();
  int bos = 151643, im_end = 151645;
  if (!opt.tokenizer_dir.empty()) {
    const fs::path td(opt.tokenizer_dir);
    tokenizer_json = read_text_file((td / "tokenizer.json").string());
    tokenizer_config = read_text_file((td / "tokenizer_config.json").string());
    const Tokenizer tok = Tokenizer::from_json(tokenizer_json, (td / "tokenizer.json").string());
    auto id = [&](const char* t) {
      const int v = tok.token_to_id(t);
      if (v < 0) throw Error(opt.tokenizer_dir + "/tokenizer.json: lacks the special token " + std::string(t));
      return v;
    };
    bos = id("<|endoftext|>");
    im_end = id("<|im_end|>");
    cfg.image_token_index = id(opt.layout == CheckpointLayout::HFNative ? "<|image_pad|>" : "<image>");
    if (opt.layout == CheckpointLayout::HFNative) cfg.video_token_index = id("<|video_pad|>");
    cfg.text.bos_token_id = bos;
    cfg.text.eos_token_id = {im_end};
    cfg.text.vocab_size = int((tok.vocab_size() + 63) / 64 * 64);  // padded, as Qwen2's 151936
  }
  if (!opt.overrides.empty()) cfg = apply_overrides(cfg, opt.overrides);
  const bool fp32_preset = opt.preset == "tiny" || opt.preset == "small" || opt.preset == "mid";
  const bool train_init = opt.init.empty() ? opt.preset == "small" : opt.init == "train";
  if (!opt.init.empty() && opt.init != "train" && opt.init != "golden")
    throw Error("make-model: unknown init \"" + opt.init + "\" (choose golden or train)");
  const torch::Dtype dtype = opt.dtype.value_or(fp32_preset ? torch::kFloat32 : torch::kBFloat16);
  cfg.torch_dtype = dtype == torch::kFloat32 ? "float32" : dtype == torch::kFloat16 ? "float16" : "bfloat16";
  fs::create_directories(out_dir);
  const fs::path dir(out_dir);

  // Names and shapes from the network itself, built on the meta device (no memory).
  auto meta = build_network(cfg, torch::TensorOptions().dtype(dtype).device(torch::kMeta));
  struct Spec { std::string name; std::vector<int64_t> shape; size_t bytes; };
  std::vector<Spec> specs;
  for (auto& [name, p] : named_weights(*meta))
    specs.push_back({name, p.sizes().vec(), size_t(p.numel()) * c10::elementSize(dtype)});

  // Group into shards in order, then generate and write one shard at a time.
  std::vector<std::vector<const Spec*>> shards(1);
  size_t cur = 0;
  for (const auto& s : specs) {
    if (cur > 0 && cur + s.bytes > opt.max_shard_bytes) {
      shards.emplace_back();
      cur = 0;
    }
    shards.back().push_back(&s);
    cur += s.bytes;
  }
  const DType st_dtype = dtype_from_torch(dtype);
  nlohmann::json weight_map = nlohmann::json::object();
  size_t total = 0;
  for (size_t k = 0; k < shards.size(); ++k) {
    const std::string file = shards.size() == 1 ? "model.safetensors" : shard_name(k + 1, shards.size());
    std::vector<torch::Tensor> keep;
    std::vector<TensorToWrite> out;
    for (const Spec* s : shards[k]) {
      keep.push_back(init_tensor(s->name, s->shape, opt.seed, train_init).to(dtype).contiguous());
      out.push_back({s->name, st_dtype, s->shape, keep.back().data_ptr(), s->bytes});
      weight_map[s->name] = file;
      total += s->bytes;
    }
    write_safetensors((dir / file).string(), out);
  }
  if (shards.size() > 1) {
    nlohmann::json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
    write_text_file((dir / "model.safetensors.index.json").string(), index.dump(2));
  } else {
    fs::remove(dir / "model.safetensors.index.json");
  }

  write_text_file((dir / "config.json").string(), cfg.to_json().dump(2));
  write_text_file((dir / "tokenizer.json").string(), tokenizer_json);
  write_text_file((dir / "tokenizer_config.json").string(), tokenizer_config);
  write_text_file((dir / "chat_template.json").string(), embedded_chat_template());
  const bool small = opt.preset == "small";
  nlohmann::json pre = {{"image_processor_type", "Videollama3ImageProcessor"},
                        {"do_convert_rgb", true}, {"do_resize", true}, {"do_rescale", true}, {"do_normalize", true},
                        {"resample", 3}, {"rescale_factor", 1.0 / 255.0},
                        {"image_mean", {0.5, 0.5, 0.5}}, {"image_std", {0.5, 0.5, 0.5}},
                        {"patch_size", 14}, {"min_tokens", small ? kSmallMinVisualTokens : 16},
                        {"max_tokens", small ? kSmallMaxVisualTokens : 16384}};
  write_text_file((dir / "preprocessor_config.json").string(), pre.dump(2));
  nlohmann::json proc = {{"processor_class", "Videollama3Qwen2Processor"}, {"fps", 1}, {"max_frames", 180},
                         {"image_merge_size", small ? kSmallImageMerge : 1}, {"video_merge_size", 2}};
  write_text_file((dir / "processor_config.json").string(), proc.dump(2));
  // Tiny random models decode greedily; 2b/7b get the Qwen2.5-Instruct sampling defaults the released
  // checkpoints are believed to carry (facts §7.4: inferred, not seen).
  nlohmann::json gen = {{"bos_token_id", bos}, {"eos_token_id", {im_end, bos}}, {"pad_token_id", bos}};
  if (fp32_preset) {
    gen["do_sample"] = false;
  } else {
    gen.update({{"do_sample", true}, {"temperature", 0.7}, {"top_p", 0.8}, {"top_k", 20},
                {"repetition_penalty", opt.preset == "2b" ? 1.1 : 1.05}});
  }
  write_text_file((dir / "generation_config.json").string(), gen.dump(2));
}

}  // namespace vl3
