// Model configuration: one struct per component, fields named exactly as the Hugging Face config.json keys.
//
// Two checkpoint layouts are read:
//  - official (DAMO-NLP-SG/VideoLLaMA3-*): architectures ["Videollama3Qwen2ForCausalLM"], Qwen2 keys at the top
//    level, the vision tower under "vision_encoder_config", image_token_index 151665 (`<image>`).
//  - HF-native (transformers VideoLlama3ForConditionalGeneration): "text_config" / "vision_config",
//    image_token_id 151655 (`<|image_pad|>`), video_token_id 151656.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace vl3 {

// SigLIP-NaViT vision tower (VL3-SigLIP-NaViT).
struct VisionConfig {
  int hidden_size = 1152;
  int intermediate_size = 4304;
  int num_hidden_layers = 27;
  int num_attention_heads = 16;
  int num_channels = 3;
  int patch_size = 14;
  double layer_norm_eps = 1e-6;
  std::string hidden_act = "gelu_pytorch_tanh";
  double attention_dropout = 0.0;

  int head_dim() const { return hidden_size / num_attention_heads; }
};

// Qwen2 / Qwen2.5 decoder.
struct Qwen2Config {
  int vocab_size = 151936;
  int hidden_size = 1536;
  int intermediate_size = 8960;
  int num_hidden_layers = 28;
  int num_attention_heads = 12;
  int num_key_value_heads = 2;
  int max_position_embeddings = 32768;
  double rope_theta = 1000000.0;
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = true;
  std::string hidden_act = "silu";
  int bos_token_id = 151643;
  std::vector<int> eos_token_id = {151645};
  double attention_dropout = 0.0;
  bool use_sliding_window = false;

  int head_dim() const { return hidden_size / num_attention_heads; }
};

enum class CheckpointLayout { Official, HFNative };

struct VideoLlama3Config {
  CheckpointLayout layout = CheckpointLayout::Official;
  std::vector<std::string> architectures;
  std::string model_type;
  Qwen2Config text;
  VisionConfig vision;
  std::string mm_projector_type = "mlp2x_gelu";
  int image_token_index = 151665;  // official `<image>`; HF-native image_token_id `<|image_pad|>` 151655
  int video_token_index = -1;      // HF-native video_token_id `<|video_pad|>` 151656; -1 = same as image
  bool use_token_compression = true;
  std::string torch_dtype = "bfloat16";

  // Parses either layout; every missing or ill-typed required key is a vl3::Error naming `origin`
  // and the key. Unknown keys are ignored (HF configs carry many).
  static VideoLlama3Config from_json(const nlohmann::json& j, const std::string& origin);
  static VideoLlama3Config load(const std::string& model_dir);  // reads DIR/config.json
  nlohmann::json to_json() const;                                 // in this->layout
  int video_token() const { return video_token_index >= 0 ? video_token_index : image_token_index; }
};

// preprocessor_config.json + processor_config.json (the official processor's values).
struct ProcessorConfig {
  int patch_size = 14;
  int min_tokens = 16;
  int max_tokens = 16384;
  double rescale_factor = 1.0 / 255.0;
  std::vector<double> image_mean = {0.5, 0.5, 0.5};
  std::vector<double> image_std = {0.5, 0.5, 0.5};
  int resample = 3;  // PIL BICUBIC
  double fps = 1.0;
  int max_frames = 180;  // the README/paper value (the released processor_config says 128)
  int image_merge_size = 1;
  int video_merge_size = 2;

  // Missing files keep the defaults; present but malformed files are a vl3::Error.
  static ProcessorConfig load(const std::string& model_dir);
};

// generation_config.json (absent file -> HF defaults: greedy, no penalties).
struct GenerationConfig {
  bool do_sample = false;
  double temperature = 1.0;
  double top_p = 1.0;
  int top_k = 50;
  double repetition_penalty = 1.0;
  int max_new_tokens = -1;  // -1: not set in the file
  std::vector<int> eos_token_id;
  int pad_token_id = -1;

  static GenerationConfig load(const std::string& model_dir);
};

// Reads and parses a JSON file; errors name the path (missing file, syntax error with byte offset).
nlohmann::json read_json_file(const std::string& path);

}  // namespace vl3
