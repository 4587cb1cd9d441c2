#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli.h"
#include "vl3/error.h"
#include "vl3/runtime.h"

namespace vl3cli {

void add_model_flags(CLI::App* cmd, ModelFlags& f, bool required) {
  auto* opt = cmd->add_option("-m,--model", f.dir,
                              required ? "Model directory (config.json, *.safetensors, tokenizer.json)"
                                       : "Model directory (default: $VL3_MODEL, else the bundled " VL3_DEFAULT_MODEL ")");
  if (required) opt->required();
  cmd->add_option("--dtype", f.dtype, "Weights/compute dtype: f32 or bf16 (default: the checkpoint's)");
  cmd->add_option("--threads", f.threads, "CPU threads (default: all cores)");
}

torch::Dtype parse_dtype(const std::string& s) {
  if (s == "f32" || s == "fp32" || s == "float32") return torch::kFloat32;
  if (s == "bf16" || s == "bfloat16") return torch::kBFloat16;
  throw vl3::Error("unknown dtype \"" + s + "\" (use f32 or bf16)");
}

std::string model_dir(const ModelFlags& f) {
  if (!f.dir.empty()) return f.dir;
  if (const char* e = std::getenv("VL3_MODEL"); e && *e) return e;
  if (!std::filesystem::exists(std::string(VL3_DEFAULT_MODEL) + "/config.json"))
    throw vl3::Error("no model given (-m DIR or VL3_MODEL), and the bundled model " VL3_DEFAULT_MODEL " is missing");
  return VL3_DEFAULT_MODEL;
}

std::unique_ptr<vl3::Model> load_model(const ModelFlags& f) {
  if (f.threads > 0) vl3::init_threads(f.threads);
  vl3::LoadOptions lo;
  if (!f.dtype.empty()) lo.dtype = parse_dtype(f.dtype);
  return vl3::Model::load(model_dir(f), lo);
}

void add_input_flags(CLI::App* cmd, InputFlags& f) {
  cmd->add_option("-p,--prompt", f.prompt, "User message text");
  cmd->add_option("--messages", f.messages_file, "Conversation JSON (OpenAI/HF message shape; - = stdin)");
  cmd->add_option("--image", f.images, "Image file, - or data: URI (repeatable); goes before the prompt text");
  cmd->add_option("--video", f.videos, "Video file or frame folder (repeatable)");
  cmd->add_option("--system", f.system, "System message");
  cmd->add_flag("--add-system-prompt", f.add_system_prompt, "Insert VideoLLaMA3's default system prompt");
  cmd->add_option("--media-root", f.media_root, "Base directory of relative media paths in --messages");
  cmd->add_option("--fps", f.fps, "Video frames sampled per second (default 1)");
  cmd->add_option("--max-frames", f.max_frames, "Most video frames (default 180, uniform beyond)");
  cmd->add_option("--start", f.start, "Video start time in seconds");
  cmd->add_option("--end", f.end, "Video end time in seconds");
  cmd->add_option("--max-visual-tokens", f.max_visual_tokens, "Visual token budget over all media (default 16384)");
  cmd->add_flag("--no-prune", f.no_prune, "Keep every video token (no Differential Frame Pruning)");
  cmd->add_option("--prune-threshold", f.prune_threshold, "DiffFP threshold (mean |change| x 255; default 0.1)");
}

std::vector<vl3::Message> build_messages(const InputFlags& f) {
  using vl3::ContentPart;
  std::vector<vl3::Message> msgs;
  if (!f.messages_file.empty())
    msgs = vl3::messages_from_json_text(read_text_file_or_stdin(f.messages_file), f.messages_file);
  if (!f.system.empty()) {
    if (!msgs.empty() && msgs[0].role == "system")
      throw vl3::Error("--system given but the messages already start with a system message");
    vl3::Message m;
    m.role = "system";
    m.content_is_string = true;
    m.content.push_back({ContentPart::Type::Text, f.system});
    msgs.insert(msgs.begin(), m);
  }
  if (!f.prompt.empty() || !f.images.empty() || !f.videos.empty()) {
    vl3::Message m;
    m.role = "user";
    for (const auto& img : f.images) {
      ContentPart c;
      c.type = ContentPart::Type::Image;
      c.source = img;
      m.content.push_back(c);
    }
    for (const auto& vid : f.videos) {
      ContentPart c;
      c.type = ContentPart::Type::Video;
      c.source = vid;
      c.start_time = f.start;
      c.end_time = f.end;
      m.content.push_back(c);
    }
    if (!f.prompt.empty()) m.content.push_back({ContentPart::Type::Text, f.prompt});
    m.content_is_string = f.images.empty() && f.videos.empty();
    msgs.push_back(m);
  }
  if (msgs.empty() || msgs.back().role == "system")
    throw vl3::Error("nothing to answer: give -p TEXT (with --image/--video) or --messages FILE");
  return msgs;
}

vl3::PromptOptions prompt_options(const InputFlags& f) {
  vl3::PromptOptions o;
  o.chat.add_system_prompt = f.add_system_prompt;
  o.max_visual_tokens = f.max_visual_tokens;
  o.fps = f.fps;
  o.max_frames = f.max_frames;
  o.prune = !f.no_prune;
  o.prune_threshold = f.prune_threshold;
  o.media_root = f.media_root;
  return o;
}

std::string read_text_file_or_stdin(const std::string& path) {
  std::stringstream ss;
  if (path == "-") {
    ss << std::cin.rdbuf();
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw vl3::Error(path + ": cannot open");
    ss << in.rdbuf();
  }
  return ss.str();
}

size_t peak_rss_bytes() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return size_t(std::stoull(line.substr(6))) * 1024;
  return 0;
}

namespace {
std::vector<std::string> g_argv;
}
const std::vector<std::string>& program_argv() { return g_argv; }
void set_program_argv(int argc, char** argv) { g_argv.assign(argv, argv + argc); }

}  // namespace vl3cli
