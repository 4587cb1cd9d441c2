// Training checkpoints: a model directory that vl3 run and the official code load (same layout as the source
// checkpoint: config.json, safetensors, tokenizer and processor files, remote-code .py files) plus the trainer's
// own files (optimizer.safetensors, trainer_state.json). Written under a temporary name in the same parent
// directory and renamed into place, so a kill at any moment leaves the previous checkpoint intact.
#pragma once
#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>

#include "vl3/model.h"

namespace vl3 {

class AdamW;

// Writes the model files of `model` into DIR (created; existing files overwritten): weights via save_weights in
// `dtype`, config.json (the source config.json with torch_dtype updated, or the config's to_json when the source
// has none), and every tokenizer/processor/generation/remote-code file of the source directory (model.dir), with
// the embedded tokenizer written as tokenizer.json when the source directory had none.
void write_model_dir(Model& model, const std::string& dir, torch::Dtype dtype);

// Writes OUT/NAME atomically: the model files (write_model_dir), and when `opt` is given optimizer.safetensors
// (AdamW::state_tensors) and trainer_state.json (`state`, with "optimizer_steps" added). Steps:
// write OUT/.NAME.tmp-PID, fsync the files, remove an old OUT/NAME (renamed aside first), rename.
void write_checkpoint(Model& model, const AdamW* opt, const nlohmann::json& state, const std::string& out_dir,
                      const std::string& name, torch::Dtype dtype);

// OUT/checkpoint-N with the largest N that has a readable trainer_state.json; nullopt when none.
std::optional<std::string> latest_checkpoint(const std::string& out_dir);

// Reads DIR/trainer_state.json and DIR/optimizer.safetensors (fp32 tensors by name). vl3::Error on problems.
nlohmann::json read_trainer_state(const std::string& dir);
std::map<std::string, torch::Tensor> read_optimizer_state(const std::string& dir);

// Removes OUT/checkpoint-N directories beyond the `keep` most recent ones (keep <= 0: keep all).
void prune_checkpoints(const std::string& out_dir, int keep);

}  // namespace vl3
