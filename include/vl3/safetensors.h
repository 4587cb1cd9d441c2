// Safetensors reading (memory-mapped, validated) and writing (atomic), independent of libtorch.
//
// Format: 8-byte little-endian header length n, n bytes of JSON {name: {dtype, shape, data_offsets:[b,e]},
// "__metadata__": {str: str}}, then the data buffer. Offsets are relative to the buffer start.
// Every check failure throws vl3::Error naming the file (and the tensor where there is one).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace vl3 {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

// "F32", "BF16", ... (the safetensors spelling). Throws vl3::Error for an unknown spelling.
DType dtype_from_string(const std::string& s);
const char* dtype_name(DType d);
size_t dtype_size(DType d);

// A tensor inside a mapped file: a view, valid while the owning SafetensorsFile lives.
struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;  // start of this tensor's bytes (may be unaligned)
  size_t nbytes = 0;
  int64_t numel() const;
};

// Parses and validates a safetensors byte image (header + data). `origin` names the source in errors.
// Used by SafetensorsFile and directly by the fuzz target. Checks: size >= 8, header length within the
// file and <= 100 MB, valid UTF-8 JSON object, each entry has a known dtype, an int shape (no negatives,
// no overflow), data_offsets [b, e] with b <= e <= buffer size and e - b == numel * dtype size, no two
// tensors overlapping, __metadata__ a string->string object, no key twice in one JSON object.
// Gaps between tensors and unaligned data are allowed.
struct ParsedSafetensors {
  std::map<std::string, TensorView> tensors;  // sorted by name
  std::map<std::string, std::string> metadata;
};
ParsedSafetensors parse_safetensors(const uint8_t* bytes, size_t size, const std::string& origin);

// One file, memory-mapped read-only.
class SafetensorsFile {
 public:
  static std::shared_ptr<SafetensorsFile> open(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::map<std::string, TensorView>& tensors() const { return parsed_.tensors; }
  const std::map<std::string, std::string>& metadata() const { return parsed_.metadata; }
  const TensorView* find(const std::string& name) const;  // nullptr if absent

 private:
  SafetensorsFile() = default;
  std::string path_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  ParsedSafetensors parsed_;
};

// A checkpoint directory: `model.safetensors`, or shards listed by `model.safetensors.index.json`
// ({"weight_map": {tensor: file}}); when both exist model.safetensors wins, as in transformers.
// Shard names must be plain file names in the directory. Every shard named in the index must exist
// and hold exactly the tensors the index assigns to it (an error lists the differences); a tensor in
// two files, or twice in the weight_map, is an error.
class SafetensorsCheckpoint {
 public:
  // `path` is a directory, or a single .safetensors file.
  static SafetensorsCheckpoint open(const std::string& path);

  const TensorView* find(const std::string& name) const;  // nullptr if absent
  std::vector<std::string> names() const;                  // sorted
  size_t size() const { return index_.size(); }
  // Which file holds a tensor (for error messages).
  const std::string& file_of(const std::string& name) const;

 private:
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, std::pair<const TensorView*, size_t>> index_;  // name -> (view, file idx)
};

// A tensor to write: bytes are copied from `data` (nbytes must equal numel * dtype size).
struct TensorToWrite {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  size_t nbytes = 0;
};

// Writes one file atomically (PATH.tmp, fsync, then rename). Data is laid out in the order given, and
// the header lists "__metadata__" (omitted when `metadata` is empty) then the tensors in that same
// order, padded with spaces to a multiple of 8 bytes. Throws vl3::Error on duplicate or reserved
// names, negative dims, nbytes != numel * dtype size, or I/O errors (nothing is left behind then).
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

// Writes `dir/model.safetensors` when everything fits in `max_shard_bytes`, else
// `dir/model-0000K-of-0000N.safetensors` shards plus `dir/model.safetensors.index.json`
// (with metadata.total_size), as transformers' save_pretrained does. Tensors keep their order and
// are packed greedily (a tensor larger than the limit gets a shard of its own). Creates `dir` if
// needed, and removes what an earlier save left there that would now mislead a reader: the other
// entry point (model.safetensors or the index) and model-*-of-*.safetensors shards not just written.
void write_safetensors_checkpoint(const std::string& dir, const std::vector<TensorToWrite>& tensors,
                                  size_t max_shard_bytes = size_t(5) << 30);

}  // namespace vl3
