// Shared pieces of the vl3 subcommands (argument groups, model loading, output helpers).
#pragma once
#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "vl3/chat.h"
#include "vl3/generate.h"
#include "vl3/model.h"

namespace vl3cli {

struct ModelFlags {
  std::string dir;
  std::string dtype;  // "", "f32", "bf16"
  int threads = 0;
};

void add_model_flags(CLI::App* cmd, ModelFlags& f, bool required = true);

// What to ask: prompt text and/or a messages file, media, and how media become tokens.
struct InputFlags {
  std::string prompt, messages_file, system, media_root;
  std::vector<std::string> images, videos;
  bool add_system_prompt = false, no_prune = false;
  double fps = 0, prune_threshold = 0.1;
  int max_frames = 0, max_visual_tokens = 0;
  std::optional<double> start, end;
};
void add_input_flags(CLI::App* cmd, InputFlags& f);
std::vector<vl3::Message> build_messages(const InputFlags& f);
vl3::PromptOptions prompt_options(const InputFlags& f);
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
void register_train(CLI::App& app);
void register_eval(CLI::App& app);
void register_synth(CLI::App& app);
void register_make_tokenizer(CLI::App& app);
void register_eval_table(CLI::App& app);

// The program's arguments as given (for vl3 train --nproc, which starts copies of itself).
const std::vector<std::string>& program_argv();
void set_program_argv(int argc, char** argv);

}  // namespace vl3cli
