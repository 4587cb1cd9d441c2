// Safetensors writing: single files and transformers-style sharded checkpoints. Every file is written
// under a temporary name and renamed into place, so a crash never leaves a truncated file under the
// name a reader would open.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "vl3/error.h"
#include "vl3/safetensors.h"

namespace vl3 {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string& origin, const std::string& msg) { throw Error(origin + ": " + msg); }

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Checks what a reader would reject, before anything touches the disk.
void validate(const std::vector<TensorToWrite>& tensors, const std::string& origin) {
  std::set<std::string> seen;
  for (const TensorToWrite& t : tensors) {
    const std::string where = "tensor '" + t.name + "': ";
    if (t.name == "__metadata__") fail(origin, where + "the name is reserved for metadata");
    if (!seen.insert(t.name).second) fail(origin, where + "given twice");
    uint64_t need = dtype_size(t.dtype);
    bool overflow = false;
    for (int64_t d : t.shape) {
      if (d < 0) fail(origin, where + "shape " + shape_str(t.shape) + " has a negative dimension");
      overflow |= __builtin_mul_overflow(need, uint64_t(d), &need);
    }
    if (overflow) fail(origin, where + "shape " + shape_str(t.shape) + " is too large");
    if (t.nbytes != need)
      fail(origin, where + std::to_string(t.nbytes) + " bytes given but shape " + shape_str(t.shape) + " of " +
                       dtype_name(t.dtype) + " needs " + std::to_string(need));
    if (t.nbytes > 0 && !t.data) fail(origin, where + "data is null");
  }
}

void write_all(int fd, const void* data, size_t n, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) fail(path, std::string("write failed: ") + std::strerror(errno));
    p += w;
    n -= size_t(w);
  }
}

// Writes `path`.tmp with `fill`, flushes it to disk, then renames it over `path`.
void write_atomically(const std::string& path, const std::function<void(int fd, const std::string& tmp)>& fill) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(tmp, std::string("cannot create: ") + std::strerror(errno));
  try {
    fill(fd, tmp);
    if (::fsync(fd) != 0) fail(tmp, std::string("fsync failed: ") + std::strerror(errno));
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    fail(tmp, std::string("close failed: ") + std::strerror(err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    fail(path, std::string("cannot rename ") + tmp + " into place: " + std::strerror(err));
  }
}

void remove_file(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) fail(path, std::string("cannot remove: ") + std::strerror(errno));
}

}  // namespace

void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  validate(tensors, path);
  // ordered_json keeps the header in data order, which makes files easy to inspect.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const TensorToWrite& t : tensors) {
    header[t.name] = {
        {"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.nbytes}}};
    offset += t.nbytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {  // names or metadata that are not UTF-8
    fail(path, std::string("cannot encode the header: ") + e.what());
  }
  // Spaces up to a multiple of 8 keep the data buffer 8-byte aligned within the file.
  text.append((8 - text.size() % 8) % 8, ' ');
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = uint8_t(uint64_t(text.size()) >> (8 * i));

  write_atomically(path, [&](int fd, const std::string& tmp) {
    write_all(fd, len, sizeof(len), tmp);
    write_all(fd, text.data(), text.size(), tmp);
    for (const TensorToWrite& t : tensors) write_all(fd, t.data, t.nbytes, tmp);
  });
}

void write_safetensors_checkpoint(const std::string& dir, const std::vector<TensorToWrite>& tensors,
                                  size_t max_shard_bytes) {
  validate(tensors, dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail(dir, "cannot create the directory: " + ec.message());
  const std::string prefix = dir.empty() || dir.back() == '/' ? dir : dir + "/";
  const std::string single = prefix + "model.safetensors";
  const std::string index = prefix + "model.safetensors.index.json";

  // Greedy in the given order, like transformers: start a new shard when the next tensor would
  // overflow the current one; a tensor larger than the limit gets a shard of its own.
  std::vector<std::vector<TensorToWrite>> shards(1);
  uint64_t shard_bytes = 0, total = 0;
  for (const TensorToWrite& t : tensors) {
    if (!shards.back().empty() && shard_bytes + t.nbytes > max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(t);
    shard_bytes += t.nbytes;
    total += t.nbytes;
  }

  // Readers open model.safetensors in preference to an index, so a stale one of either kind must go
  // before the new entry point appears; stale shards from an earlier, larger save go afterwards.
  std::set<std::string> written;
  if (shards.size() == 1) {
    remove_file(index);
    write_safetensors(single, tensors);
  } else {
    nlohmann::json weight_map = nlohmann::json::object();
    for (size_t k = 0; k < shards.size(); ++k) {
      char name[64];
      std::snprintf(name, sizeof(name), "model-%05zu-of-%05zu.safetensors", k + 1, shards.size());
      write_safetensors(prefix + name, shards[k]);
      written.insert(name);
      for (const TensorToWrite& t : shards[k]) weight_map[t.name] = name;
    }
    remove_file(single);
    // The layout and key order of transformers' json.dumps(index, indent=2, sort_keys=True) + "\n".
    const nlohmann::json doc = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
    const std::string text = doc.dump(2) + "\n";
    write_atomically(index, [&](int fd, const std::string& tmp) { write_all(fd, text.data(), text.size(), tmp); });
  }
  const std::regex shard_name(R"(model-\d{5}-of-\d{5}\.safetensors)");
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (std::regex_match(name, shard_name) && !written.count(name)) remove_file(entry.path().string());
  }
  if (ec) fail(dir, "cannot list the directory: " + ec.message());
}

}  // namespace vl3
