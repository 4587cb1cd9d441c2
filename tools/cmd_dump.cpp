// vl3 dump: run one prompt and write the tensors the LLM sees and produces (goldens, debugging).
// Names (stable): input_ids I64 [1, L]; logits F32 [L, V]; hidden_states F32 [nl+1, L, H] (transformers'
// convention: [0] embeddings, [nl] after the final norm); gen_ids I64 [n] with --greedy-tokens n.
#include <iostream>

#include "cli.h"
#include "model/videollama3.h"
#include "vl3/chat.h"
#include "vl3/generate.h"
#include "vl3/safetensors.h"

namespace vl3cli {
namespace {

struct DumpFlags {
  ModelFlags model;
  std::string messages, out;
  bool add_system_prompt = false;
  int greedy_tokens = 0;
};

void run(DumpFlags f) {
  if (f.model.dtype.empty()) f.model.dtype = "f32";  // reference numerics by default
  auto msgs = vl3::messages_from_json_text(read_text_file_or_stdin(f.messages), f.messages);
  auto model = load_model(f.model);
  vl3::PromptOptions po;
  po.chat.add_system_prompt = f.add_system_prompt;
  auto prompt = vl3::prepare_prompt(*model, msgs, po);

  torch::NoGradGuard no_grad;
  auto& net = *model->net;
  const int64_t L = int64_t(prompt.ids.size());
  auto ids = torch::tensor(std::vector<int64_t>(prompt.ids.begin(), prompt.ids.end()), torch::kLong);
  std::vector<torch::Tensor> hidden(net.config.text.num_hidden_layers + 1);
  auto observe = [&](const std::string& name, int layer, const torch::Tensor& t) {
    if (name == "hidden_states") hidden.at(size_t(layer)) = t.to(torch::kFloat32);
  };
  auto h = net.llm->forward(net.embed(ids, prompt.visual), nullptr, observe);
  auto logits = net.logits(h).contiguous();  // [L, V]

  std::map<std::string, torch::Tensor> out = {
      {"input_ids", ids.view({1, L})},
      {"logits", logits},
      {"hidden_states", torch::stack(hidden).contiguous()},
  };
  if (f.greedy_tokens > 0) {
    vl3::GenerateOptions go;
    go.max_new_tokens = f.greedy_tokens;
    go.stop = {-2};  // never stop early: the dump always has n tokens
    auto res = vl3::generate(*model, prompt, go);
    out["gen_ids"] = torch::tensor(std::vector<int64_t>(res.tokens.begin(), res.tokens.end()), torch::kLong);
  }
  std::vector<vl3::TensorToWrite> w;
  for (auto& [name, t] : out) {
    auto c = t.contiguous();
    out[name] = c;
    w.push_back({name, c.scalar_type() == torch::kLong ? vl3::DType::I64 : vl3::DType::F32, c.sizes().vec(),
                 c.data_ptr(), size_t(c.nbytes())});
  }
  vl3::write_safetensors(f.out, w);
  std::cerr << "wrote " << f.out << " (" << L << " tokens)\n";
}

}  // namespace

void register_dump(CLI::App& app) {
  auto f = std::make_shared<DumpFlags>();
  auto* cmd = app.add_subcommand("dump", "Run a prompt once and write input_ids, logits, hidden states");
  add_model_flags(cmd, f->model);
  cmd->add_option("--messages", f->messages, "Conversation JSON (- = stdin)")->required();
  cmd->add_option("--out", f->out, "Output .safetensors")->required();
  cmd->add_flag("--add-system-prompt", f->add_system_prompt, "Insert VideoLLaMA3's default system prompt");
  cmd->add_option("--greedy-tokens", f->greedy_tokens, "Also write gen_ids: this many greedy tokens");
  cmd->callback([f] { run(*f); });
}

}  // namespace vl3cli
