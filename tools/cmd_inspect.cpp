// vl3 inspect: config summary, parameters per module, tensor list, and whether the tensors match the config.
#include <cstdio>
#include <map>

#include "cli.h"
#include "model/videollama3.h"
#include "vl3/safetensors.h"

namespace vl3cli {
namespace {

std::string module_of(const std::string& n) {
  if (n.find("vision_encoder.") != std::string::npos || n.find("vision_model.") != std::string::npos) return "vision tower";
  if (n.find("mm_projector.") != std::string::npos || n.find("model.projector.") != std::string::npos) return "projector";
  if (n.find("embed_tokens") != std::string::npos) return "LLM embeddings";
  if (n.rfind("lm_head", 0) == 0) return "LLM lm_head";
  if (n.find(".layers.") != std::string::npos) return "LLM decoder layers";
  return "LLM final norm / other";
}

void run(const std::string& dir, bool list) {
  auto cfg = vl3::VideoLlama3Config::load(dir);
  auto ckpt = vl3::SafetensorsCheckpoint::open(dir);
  const auto& t = cfg.text;
  const auto& v = cfg.vision;
  std::printf("%s\n", dir.c_str());
  std::printf("  layout        %s (%s)\n", cfg.layout == vl3::CheckpointLayout::Official ? "official" : "HF-native",
              cfg.architectures.empty() ? "?" : cfg.architectures[0].c_str());
  std::printf("  LLM           Qwen2: hidden %d, %d layers, %d heads / %d kv (head_dim %d), MLP %d, vocab %d, rope_theta %g, %s lm_head\n",
              t.hidden_size, t.num_hidden_layers, t.num_attention_heads, t.num_key_value_heads, t.head_dim(),
              t.intermediate_size, t.vocab_size, t.rope_theta, t.tie_word_embeddings ? "tied" : "separate");
  std::printf("  vision        hidden %d, %d layers, %d heads (head_dim %d), MLP %d, patch %d\n", v.hidden_size,
              v.num_hidden_layers, v.num_attention_heads, v.head_dim(), v.intermediate_size, v.patch_size);
  std::printf("  projector     %s; image token %d; token compression %s; dtype %s\n", cfg.mm_projector_type.c_str(),
              cfg.image_token_index, cfg.use_token_compression ? "on" : "off", cfg.torch_dtype.c_str());

  std::map<std::string, std::pair<int64_t, size_t>> per_module;  // params, bytes
  int64_t total = 0;
  for (const auto& name : ckpt.names()) {
    const auto* tv = ckpt.find(name);
    auto& e = per_module[module_of(name)];
    e.first += tv->numel();
    e.second += tv->nbytes;
    total += tv->numel();
  }
  std::printf("\n  %-24s %16s %12s\n", "module", "parameters", "MiB");
  for (const auto& [mod, e] : per_module)
    std::printf("  %-24s %16lld %12.1f\n", mod.c_str(), (long long)e.first, e.second / 1048576.0);
  std::printf("  %-24s %16lld\n", "total", (long long)total);

  // Compare against the network the config describes (built on the meta device: no memory).
  auto net = vl3::build_network(cfg, torch::TensorOptions().device(torch::kMeta));
  int problems = 0;
  for (const auto& [name, p] : vl3::named_weights(*net)) {
    const auto* tv = ckpt.find(name);
    if (!tv) {
      std::printf("  MISSING     %s\n", name.c_str());
      ++problems;
    } else if (tv->shape != p.sizes().vec()) {
      std::printf("  MIS-SHAPED  %s\n", name.c_str());
      ++problems;
    }
  }
  std::printf("  %s\n", problems ? "the checkpoint does NOT match its config (vl3 run will refuse it)"
                                 : "every tensor the config needs is present with the right shape");
  if (!list) return;
  std::printf("\n");
  for (const auto& name : ckpt.names()) {
    const auto* tv = ckpt.find(name);
    std::printf("  %-72s %-5s %-22s %s\n", name.c_str(), vl3::dtype_name(tv->dtype),
                c10::str(c10::IntArrayRef(tv->shape)).c_str(), ckpt.file_of(name).c_str());
  }
}

}  // namespace

void register_inspect(CLI::App& app) {
  struct Flags { std::string dir; bool quiet = false; };
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("inspect", "Show a checkpoint's config, parameter counts and tensors");
  cmd->add_option("-m,--model", f->dir, "Model directory")->required();
  cmd->add_flag("--no-tensors", f->quiet, "Leave out the tensor list");
  cmd->callback([f] { run(f->dir, !f->quiet); });
}

}  // namespace vl3cli
