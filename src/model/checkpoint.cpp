// Checkpoint <-> network: name-for-name loading with validation, and saving.
#include <filesystem>
#include <sstream>
#include <set>

#include "model/tensor_io.h"
#include "model/videollama3.h"
#include "vl3/error.h"
#include "vl3/model.h"
#include "vl3/safetensors.h"

namespace vl3 {
namespace {

// Names some checkpoints carry that are not parameters (rotary tables are recomputed).
bool ignorable(const std::string& name, bool tied) {
  auto ends = [&](const std::string& s) {
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  return ends("rotary_emb.inv_freq") || ends("rotary_pos_emb.inv_freq") || (tied && name == "lm_head.weight");
}

}  // namespace

std::shared_ptr<VideoLlama3Impl> build_network(const VideoLlama3Config& config, const torch::TensorOptions& opt) {
  return std::make_shared<VideoLlama3Impl>(config, opt);
}

std::vector<std::pair<std::string, torch::Tensor>> named_weights(VideoLlama3Impl& net) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : net.named_parameters(/*recurse=*/true)) out.emplace_back(item.key(), item.value());
  return out;
}

void load_weights(VideoLlama3Impl& net, const SafetensorsCheckpoint& ckpt, const std::string& origin) {
  torch::NoGradGuard no_grad;
  std::vector<std::string> missing, mismatched, unexpected;
  auto params = named_weights(net);
  std::set<std::string> expected;
  for (auto& [name, param] : params) {
    expected.insert(name);
    const TensorView* v = ckpt.find(name);
    if (!v) {
      missing.push_back(name);
      continue;
    }
    if (v->shape != param.sizes().vec()) {
      mismatched.push_back(name + " (" + ckpt.file_of(name) + " has " + c10::str(c10::IntArrayRef(v->shape)) +
                           ", the config needs " + c10::str(param.sizes()) + ")");
      continue;
    }
    if (v->dtype != DType::F32 && v->dtype != DType::BF16 && v->dtype != DType::F16 && v->dtype != DType::F64) {
      mismatched.push_back(name + " (" + ckpt.file_of(name) + " stores " + dtype_name(v->dtype) +
                           ", a floating-point dtype is needed)");
      continue;
    }
    param.copy_(tensor_from_view(*v));
  }
  const bool tied = net.config.text.tie_word_embeddings;
  for (const auto& name : ckpt.names())
    if (!expected.count(name) && !ignorable(name, tied)) unexpected.push_back(name);
  if (missing.empty() && mismatched.empty() && unexpected.empty()) return;

  std::ostringstream msg;
  msg << origin << ": the checkpoint does not match its config.json";
  auto list = [&](const char* what, const std::vector<std::string>& names) {
    if (names.empty()) return;
    msg << "\n  " << what << " (" << names.size() << "):";
    for (size_t i = 0; i < names.size() && i < 20; ++i) msg << "\n    " << names[i];
    if (names.size() > 20) msg << "\n    ... and " << names.size() - 20 << " more";
  };
  list("missing tensors", missing);
  list("mis-shaped tensors", mismatched);
  list("unexpected tensors", unexpected);
  throw Error(msg.str());
}

void save_weights(VideoLlama3Impl& net, const std::string& dir, torch::Dtype dtype, size_t max_shard_bytes) {
  std::vector<torch::Tensor> keep;  // owns converted copies while writing
  std::vector<TensorToWrite> out;
  for (auto& [name, p] : named_weights(net)) {
    auto t = p.detach().to(torch::kCPU, dtype).contiguous();
    keep.push_back(t);
    out.push_back({name, dtype_from_torch(dtype), t.sizes().vec(), t.data_ptr(), size_t(t.nbytes())});
  }
  std::filesystem::create_directories(dir);
  write_safetensors_checkpoint(dir, out, max_shard_bytes);
}

}  // namespace vl3
