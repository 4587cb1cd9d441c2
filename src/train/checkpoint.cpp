// Training checkpoints: model directory + optimizer state, written under a temporary name, fsynced, and renamed
// into place so that a crash at any point leaves the previous checkpoint intact.
#include "train/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "model/tensor_io.h"
#include "train/optimizer.h"
#include "vl3/assets.h"
#include "vl3/error.h"

namespace vl3 {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Files of a model directory besides config.json and the weights (tokenizer, processor, generation config).
const char* const kModelFiles[] = {
    "tokenizer.json",          "tokenizer_config.json",   "special_tokens_map.json", "added_tokens.json",
    "vocab.json",              "merges.txt",              "chat_template.json",      "chat_template.jinja",
    "preprocessor_config.json", "processor_config.json",  "generation_config.json",
};

const char* torch_dtype_name(torch::Dtype d) {
  switch (d) {
    case torch::kFloat32: return "float32";
    case torch::kBFloat16: return "bfloat16";
    case torch::kFloat16: return "float16";
    default: throw Error(std::string("cannot save model weights as ") + c10::toString(d));
  }
}

void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw Error(path + ": cannot open for writing: " + std::strerror(errno));
  f << text;
  f.close();
  if (!f) throw Error(path + ": write failed");
}

// open(O_RDONLY) + fsync: works for regular files and directories.
void fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open for fsync: " + std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) throw Error(path + ": fsync failed: " + std::strerror(err));
}

// Directories OUT/checkpoint-N as (N, path), N ascending. Names must be exactly "checkpoint-" + digits.
std::vector<std::pair<uint64_t, fs::path>> list_checkpoints(const std::string& out_dir) {
  std::vector<std::pair<uint64_t, fs::path>> out;
  std::error_code ec;
  if (!fs::is_directory(out_dir, ec)) return out;
  const std::string prefix = "checkpoint-";
  for (fs::directory_iterator it(out_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    if (digits.size() > 18 || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    std::error_code dir_ec;
    if (!it->is_directory(dir_ec)) continue;
    out.emplace_back(std::stoull(digits), it->path());
  }
  if (ec) throw Error(out_dir + ": cannot list the directory: " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

void remove_tree(const fs::path& p) {
  std::error_code ec;
  fs::remove_all(p, ec);
  if (ec) throw Error(p.string() + ": cannot remove: " + ec.message());
}

}  // namespace

void write_model_dir(Model& model, const std::string& dir, torch::Dtype dtype) {
  if (!model.net) throw Error(dir + ": the model has no network to save");
  const char* dtype_name = torch_dtype_name(dtype);
  try {
    fs::create_directories(dir);
    save_weights(*model.net, dir, dtype);

    // config.json: the source's own file (keeps keys we do not model, e.g. auto_map), torch_dtype updated.
    const fs::path src(model.dir);
    const bool have_src = !model.dir.empty() && fs::is_directory(src);
    json cfg;
    if (have_src && fs::exists(src / "config.json")) {
      cfg = read_json_file((src / "config.json").string());
      if (!cfg.is_object()) throw Error((src / "config.json").string() + ": not a JSON object");
    } else {
      cfg = model.config.to_json();
    }
    cfg["torch_dtype"] = dtype_name;
    for (const char* sub : {"text_config", "vision_config", "vision_encoder_config"})
      if (cfg.contains(sub) && cfg[sub].is_object() && cfg[sub].contains("torch_dtype"))
        cfg[sub]["torch_dtype"] = dtype_name;
    write_text_file((fs::path(dir) / "config.json").string(), cfg.dump(2) + "\n");

    // Tokenizer / processor / generation files and remote code, copied as they are (symlinks followed).
    // Weights and their index are never copied: save_weights wrote ours.
    std::error_code same_ec;
    if (have_src && !fs::equivalent(src, dir, same_ec)) {
      for (const char* name : kModelFiles)
        if (fs::is_regular_file(src / name))
          fs::copy_file(src / name, fs::path(dir) / name, fs::copy_options::overwrite_existing);
      for (const auto& e : fs::directory_iterator(src))
        if (e.path().extension() == ".py" && fs::is_regular_file(e.path()))
          fs::copy_file(e.path(), fs::path(dir) / e.path().filename(), fs::copy_options::overwrite_existing);
    }
    if (!fs::exists(fs::path(dir) / "tokenizer.json"))
      write_text_file((fs::path(dir) / "tokenizer.json").string(), embedded_tokenizer_json());
  } catch (const fs::filesystem_error& e) {
    throw Error(e.path1().string() + ": " + e.code().message() + " (writing the model directory " + dir + ")");
  }
}

void write_checkpoint(Model& model, const AdamW* opt, const json& state, const std::string& out_dir,
                      const std::string& name, torch::Dtype dtype) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
    throw Error("checkpoint name \"" + name + "\" must be a plain directory name");
  if (!state.is_object() && !state.is_null())
    throw Error(out_dir + "/" + name + ": the trainer state must be a JSON object");
  const std::string pid = std::to_string(::getpid());
  const fs::path out(out_dir), final_dir = out / name;
  const fs::path tmp = out / ("." + name + ".tmp-" + pid), old = out / ("." + name + ".old-" + pid);

  bool had_old = false;  // OUT/NAME was moved aside to `old`
  // On failure: drop the partial temporary directory and put a moved-aside checkpoint back.
  auto clean_up = [&] {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    if (had_old && !fs::exists(final_dir, ec)) fs::rename(old, final_dir, ec);
  };
  try {
    fs::create_directories(out);
    remove_tree(tmp);  // a leftover of an earlier failed attempt by this very process id

    // 1. Everything into the temporary directory.
    write_model_dir(model, tmp.string(), dtype);
    json trainer_state = state.is_null() ? json::object() : state;
    if (opt) {
      write_tensors((tmp / "optimizer.safetensors").string(), opt->state_tensors());
      trainer_state["optimizer_steps"] = opt->steps();
    }
    write_text_file((tmp / "trainer_state.json").string(), trainer_state.dump(2) + "\n");

    // 2. Durable before it becomes visible: every file, then the directory itself.
    for (const auto& e : fs::directory_iterator(tmp))
      if (e.is_regular_file()) fsync_path(e.path().string());
    fsync_path(tmp.string());

    // 3. Swap: the old checkpoint aside, the new one in, the old one removed.
    if (fs::exists(final_dir)) {
      remove_tree(old);
      fs::rename(final_dir, old);
      had_old = true;
    }
    fs::rename(tmp, final_dir);
    had_old = false;  // the new checkpoint is in place: nothing to restore from here on
    fsync_path(out.string());
    remove_tree(old);
  } catch (const fs::filesystem_error& e) {
    clean_up();
    throw Error(e.path1().string() + ": " + e.code().message() + " (writing checkpoint " + final_dir.string() + ")");
  } catch (...) {
    clean_up();
    throw;
  }
}

std::optional<std::string> latest_checkpoint(const std::string& out_dir) {
  auto all = list_checkpoints(out_dir);
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    const auto state_path = it->second / "trainer_state.json";
    std::error_code ec;
    if (!fs::is_regular_file(state_path, ec)) continue;
    try {
      read_json_file(state_path.string());
      return it->second.string();
    } catch (const std::exception&) {
      continue;  // unreadable or truncated: fall back to an older checkpoint
    }
  }
  return std::nullopt;
}

json read_trainer_state(const std::string& dir) {
  const std::string path = (fs::path(dir) / "trainer_state.json").string();
  if (!fs::exists(path)) throw Error(dir + ": no trainer_state.json (not a training checkpoint)");
  json j = read_json_file(path);
  if (!j.is_object()) throw Error(path + ": the trainer state must be a JSON object");
  return j;
}

std::map<std::string, torch::Tensor> read_optimizer_state(const std::string& dir) {
  const std::string path = (fs::path(dir) / "optimizer.safetensors").string();
  if (!fs::exists(path)) throw Error(dir + ": no optimizer.safetensors");
  auto tensors = read_tensors(path);  // copies: independent of the mapping
  for (auto& [name, t] : tensors) {
    if (!t.is_floating_point()) throw Error(path + ": tensor " + name + " is not floating-point");
    if (t.scalar_type() != torch::kFloat32) t = t.to(torch::kFloat32);
  }
  return tensors;
}

void prune_checkpoints(const std::string& out_dir, int keep) {
  if (keep <= 0) return;
  auto all = list_checkpoints(out_dir);  // ascending N: the oldest first
  if (all.size() <= size_t(keep)) return;
  for (size_t i = 0; i + size_t(keep) < all.size(); ++i) remove_tree(all[i].second);
}

}  // namespace vl3
