#include <fstream>
#include <iostream>
#include <sstream>

#include "cli.h"
#include "vl3/error.h"
#include "vl3/runtime.h"

namespace vl3cli {

void add_model_flags(CLI::App* cmd, ModelFlags& f, bool required) {
  auto* opt = cmd->add_option("-m,--model", f.dir, "Model directory (config.json, *.safetensors, tokenizer.json)");
  if (required) opt->required();
  cmd->add_option("--dtype", f.dtype, "Weights/compute dtype: f32 or bf16 (default: the checkpoint's)");
  cmd->add_option("--threads", f.threads, "CPU threads (default: all cores)");
}

torch::Dtype parse_dtype(const std::string& s) {
  if (s == "f32" || s == "fp32" || s == "float32") return torch::kFloat32;
  if (s == "bf16" || s == "bfloat16") return torch::kBFloat16;
  throw vl3::Error("unknown dtype \"" + s + "\" (use f32 or bf16)");
}

std::unique_ptr<vl3::Model> load_model(const ModelFlags& f) {
  if (f.threads > 0) vl3::init_threads(f.threads);
  vl3::LoadOptions lo;
  if (!f.dtype.empty()) lo.dtype = parse_dtype(f.dtype);
  return vl3::Model::load(f.dir, lo);
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

}  // namespace vl3cli
