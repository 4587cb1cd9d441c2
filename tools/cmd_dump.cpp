// vl3 dump: run one prompt and write the tensors the LLM sees and produces (goldens, debugging).
// Names (stable): input_ids I64 [1, L] (the final, pruned sequence); logits F32 [L, V]; hidden_states F32
// [nl+1, L, H] (transformers' convention: [0] embeddings, [nl] after the final norm); gen_ids I64 [n] with
// --greedy-tokens n. With media, the golden names of ../shared/golden/README.md: pixel_values, grid_sizes,
// merge_sizes, resized_hw, item_modal, item{i}_resized_u8 / _timestamps / _source_frame_index, patch_embeds,
// encoder_layer_out, pre_merge, merged, projected, compression_mask, input_ids_unpruned.
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "model/tensor_io.h"
#include "model/videollama3.h"
#include "vl3/chat.h"
#include "vl3/generate.h"
#include "vl3/safetensors.h"
#include "vl3/error.h"
#include "vl3/train.h"

namespace vl3cli {
namespace {

struct DumpFlags {
  ModelFlags model;
  InputFlags input;
  std::string out;
  int greedy_tokens = 0;
  std::string train_sample;  // --train-sample FILE.json: labels, loss and gradients of one training sample
  int stage = 3;
};

// vl3 dump --train-sample FILE --stage N: one sample's labels, loss and fp32 gradients (no optimizer step).
void run_train_sample(DumpFlags f) {
  if (f.model.dtype.empty()) f.model.dtype = "f32";
  auto model = load_model(f.model);
  auto j = nlohmann::json::parse(read_text_file_or_stdin(f.train_sample), nullptr, false);
  if (j.is_discarded()) throw vl3::Error(f.train_sample + ": not valid JSON");
  std::string root = f.input.media_root;
  if (root.empty()) root = std::filesystem::path(f.train_sample).parent_path().string();
  auto out = vl3::train_sample_dump(*model, j, root, f.stage);
  vl3::write_tensors(f.out, out);
  std::cerr << "wrote " << f.out << " (loss " << out["loss"].item<float>() << ", "
            << out["num_supervised"].item<int64_t>() << " supervised tokens)\n";
}

void run(DumpFlags f) {
  if (!f.train_sample.empty()) return run_train_sample(f);
  if (f.model.dtype.empty()) f.model.dtype = "f32";  // reference numerics by default
  auto msgs = build_messages(f.input);
  auto model = load_model(f.model);
  auto po = prompt_options(f.input);
  po.keep_debug = true;
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

  std::map<std::string, torch::Tensor> out = prompt.debug;  // pixels, grids, vision stages, DiffFP mask
  out["input_ids"] = ids.view({1, L});                         // the final sequence the LLM sees
  out["logits"] = logits;
  out["hidden_states"] = torch::stack(hidden).contiguous();
  if (f.greedy_tokens > 0) {
    vl3::GenerateOptions go;
    go.max_new_tokens = f.greedy_tokens;
    go.stop = {-2};  // never stop early: the dump always has n tokens
    auto res = vl3::generate(*model, prompt, go);
    out["gen_ids"] = torch::tensor(std::vector<int64_t>(res.tokens.begin(), res.tokens.end()), torch::kLong);
  }
  vl3::write_tensors(f.out, out);
  std::cerr << "wrote " << f.out << " (" << L << " tokens)\n";
}

}  // namespace

void register_dump(CLI::App& app) {
  auto f = std::make_shared<DumpFlags>();
  auto* cmd = app.add_subcommand("dump", "Run a prompt once and write input_ids, logits, hidden states");
  add_model_flags(cmd, f->model);
  add_input_flags(cmd, f->input);
  cmd->add_option("--out", f->out, "Output .safetensors")->required();
  cmd->add_option("--greedy-tokens", f->greedy_tokens, "Also write gen_ids: this many greedy tokens");
  cmd->add_option("--train-sample", f->train_sample,
                  "A training sample (annotation record or messages JSON): write labels, loss, grad.<name>");
  cmd->add_option("--stage", f->stage, "With --train-sample: the stage whose trainable parameters get gradients");
  cmd->callback([f] { run(*f); });
}

}  // namespace vl3cli
