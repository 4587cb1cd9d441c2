// vl3 make-model: a seeded random-weight checkpoint in the official (or HF-native) layout.
#include <iostream>

#include "cli.h"
#include "vl3/make_model.h"

namespace vl3cli {

void register_make_model(CLI::App& app) {
  struct Flags {
    std::string preset = "tiny", out, dtype, tokenizer, init;
    uint64_t seed = 0;
    std::vector<std::string> overrides;
    bool hf = false;
    size_t shard_mb = 5 * 1024;
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("make-model", "Write a random-weight checkpoint (tiny, small, mid, or the real 2b/7b shapes)");
  cmd->add_option("--preset", f->preset, "tiny | small | mid | 2b | 7b")->check(CLI::IsMember({"tiny", "small", "mid", "2b", "7b"}));
  cmd->add_option("--init", f->init, "golden (large random scales) or train (N(0,0.02): for training from scratch); default: train for small")->check(CLI::IsMember({"golden", "train"}));
  cmd->add_option("--tokenizer", f->tokenizer, "Directory with tokenizer.json + tokenizer_config.json (vl3 make-tokenizer) instead of Qwen2.5's");
  cmd->add_option("out", f->out, "Output directory")->required();
  cmd->add_option("--seed", f->seed, "Random seed");
  cmd->add_option("--dtype", f->dtype, "f32 or bf16 (default: f32 for tiny, bf16 otherwise)");
  cmd->add_flag("--hf-layout", f->hf, "Use transformers' native VideoLlama3ForConditionalGeneration naming");
  cmd->add_option("--set", f->overrides,
                  "Change a config.json key after the preset: key=value (JSON value; nested keys with dots), repeatable");
  cmd->add_option("--max-shard-mb", f->shard_mb, "Shard size limit in MiB");
  cmd->callback([f] {
    vl3::MakeModelOptions o;
    o.preset = f->preset;
    o.seed = f->seed;
    o.layout = f->hf ? vl3::CheckpointLayout::HFNative : vl3::CheckpointLayout::Official;
    if (!f->dtype.empty()) o.dtype = parse_dtype(f->dtype);
    o.max_shard_bytes = f->shard_mb << 20;
    o.tokenizer_dir = f->tokenizer;
    o.init = f->init;
    o.overrides = f->overrides;
    vl3::make_model(f->out, o);
    std::cerr << "wrote " << f->preset << " checkpoint to " << f->out << "\n";
  });
}

}  // namespace vl3cli
