// Shared pieces of the vl3 subcommands (argument groups, model loading, output helpers).
#pragma once
#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "vl3/model.h"

namespace vl3cli {

struct ModelFlags {
  std::string dir;
  std::string dtype;  // "", "f32", "bf16"
  int threads = 0;
};

void add_model_flags(CLI::App* cmd, ModelFlags& f, bool required = true);
std::unique_ptr<vl3::Model> load_model(const ModelFlags& f);
torch::Dtype parse_dtype(const std::string& s);  // "f32"/"fp32"/"float32", "bf16"/"bfloat16"
std::string read_text_file_or_stdin(const std::string& path);  // "-" = stdin

// Peak resident set size of this process so far, in bytes (VmHWM).
size_t peak_rss_bytes();

// Every subcommand registers itself on the app and runs through the callback it sets.
void register_run(CLI::App& app);
void register_inspect(CLI::App& app);
void register_tokenize(CLI::App& app);
void register_make_model(CLI::App& app);
void register_dump(CLI::App& app);
void register_bench(CLI::App& app);

}  // namespace vl3cli
