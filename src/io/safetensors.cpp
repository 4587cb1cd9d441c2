// Safetensors parsing and memory-mapped reading. Every byte of a file is untrusted: parse_safetensors
// is the fuzz target's entry point, so it must reject anything malformed with a vl3::Error and never
// read outside [bytes, bytes + size).
#include "vl3/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>
#include <utility>

#include "vl3/error.h"

namespace vl3 {
namespace {

using json = nlohmann::json;

// The same limit as the reference implementation: a header beyond this is corruption, not a model.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
// A valid header nests three levels (root, entry, shape); the limit bounds recursion in
// nlohmann's dump and comparison code for hostile inputs.
constexpr int kMaxJsonDepth = 16;
// Error messages list at most this many tensor names.
constexpr size_t kMaxListedNames = 10;

struct DTypeInfo {
  DType dtype;
  const char* name;
  size_t size;
};
constexpr DTypeInfo kDTypes[] = {
    {DType::F64, "F64", 8}, {DType::F32, "F32", 4},   {DType::F16, "F16", 2}, {DType::BF16, "BF16", 2},
    {DType::I64, "I64", 8}, {DType::I32, "I32", 4},   {DType::I16, "I16", 2}, {DType::I8, "I8", 1},
    {DType::U8, "U8", 1},   {DType::BOOL, "BOOL", 1},
};

const DTypeInfo* find_dtype(const std::string& s) {
  for (const auto& d : kDTypes)
    if (s == d.name) return &d;
  return nullptr;
}

const DTypeInfo& info(DType d) {
  for (const auto& i : kDTypes)
    if (i.dtype == d) return i;
  throw Error("invalid DType value " + std::to_string(int(d)));
}

[[noreturn]] void fail(const std::string& origin, const std::string& msg) { throw Error(origin + ": " + msg); }
[[noreturn]] void fail_tensor(const std::string& origin, const std::string& name, const std::string& msg) {
  throw Error(origin + ": tensor '" + name + "': " + msg);
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

// "a, b, c and 7 more": keeps messages about large checkpoints readable.
std::string join_list(const std::vector<std::string>& items) {
  std::string s;
  for (size_t i = 0; i < items.size() && i < kMaxListedNames; ++i) s += (i ? ", " : "") + items[i];
  if (items.size() > kMaxListedNames) s += " and " + std::to_string(items.size() - kMaxListedNames) + " more";
  return s;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string range_str(uint64_t b, uint64_t e) { return "[" + std::to_string(b) + ", " + std::to_string(e) + "]"; }

// Offset of the first byte that is not well-formed UTF-8 (overlongs, surrogates and code points
// above U+10FFFF included), or `size` if all are.
size_t utf8_error_offset(const uint8_t* s, size_t size) {
  size_t i = 0;
  while (i < size) {
    const uint8_t c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return i;
    }
    if (size - i < len || s[i + 1] < lo || s[i + 1] > hi) return i;
    for (size_t k = 2; k < len; ++k)
      if ((s[i + k] & 0xC0) != 0x80) return i;
    i += len;
  }
  return size;
}

// Parses JSON, rejecting duplicate keys (nlohmann would silently keep the last one, which for a
// header means a tensor described twice) and nesting deeper than kMaxJsonDepth.
json parse_json_strict(const char* begin, const char* end, const std::string& origin, const std::string& what) {
  std::vector<std::set<std::string>> keys;  // one set per open object
  auto cb = [&](int depth, json::parse_event_t ev, json& parsed) {
    switch (ev) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (depth >= kMaxJsonDepth)
          fail(origin, what + " nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
        if (ev == json::parse_event_t::object_start) keys.emplace_back();
        break;
      case json::parse_event_t::key:
        if (!keys.back().insert(parsed.get<std::string>()).second)
          fail(origin, what + " has the key '" + parsed.get<std::string>() + "' twice");
        break;
      case json::parse_event_t::object_end:
        keys.pop_back();
        break;
      default:
        break;
    }
    return true;
  };
  try {
    return json::parse(begin, end, cb);
  } catch (const json::exception& e) {
    fail(origin, what + " is not valid JSON: " + e.what());
  }
}

std::vector<int64_t> parse_shape(const json& entry, const std::string& origin, const std::string& name) {
  auto it = entry.find("shape");
  if (it == entry.end()) fail_tensor(origin, name, "missing 'shape'");
  if (!it->is_array())
    fail_tensor(origin, name, std::string("'shape' is JSON ") + it->type_name() + ", expected an array");
  std::vector<int64_t> shape;
  for (size_t i = 0; i < it->size(); ++i) {
    const json& d = (*it)[i];
    if (d.is_number_unsigned()) {
      if (d.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
        fail_tensor(origin, name, "shape[" + std::to_string(i) + "] = " + d.dump() + " is too large");
      shape.push_back(int64_t(d.get<uint64_t>()));
    } else if (d.is_number_integer()) {
      fail_tensor(origin, name, "shape[" + std::to_string(i) + "] = " + d.dump() + " is negative");
    } else if (d.is_number_float()) {
      fail_tensor(origin, name, "shape[" + std::to_string(i) + "] = " + d.dump() + " is not an integer");
    } else {
      fail_tensor(origin, name, "shape[" + std::to_string(i) + "] is JSON " + d.type_name() + ", expected an integer");
    }
  }
  return shape;
}

std::pair<uint64_t, uint64_t> parse_offsets(const json& entry, const std::string& origin, const std::string& name) {
  auto it = entry.find("data_offsets");
  if (it == entry.end()) fail_tensor(origin, name, "missing 'data_offsets'");
  if (!it->is_array() || it->size() != 2)
    fail_tensor(
        origin, name,
        "'data_offsets' must be two non-negative integers, got " +
            (it->is_array() ? "an array of " + std::to_string(it->size()) : std::string("JSON ") + it->type_name()));
  uint64_t v[2];
  for (size_t i = 0; i < 2; ++i) {
    const json& o = (*it)[i];
    if (o.is_number_unsigned())
      v[i] = o.get<uint64_t>();
    else if (o.is_number())  // negative or fractional: short, safe to print
      fail_tensor(origin, name,
                  "data_offsets[" + std::to_string(i) + "] = " + o.dump() + " is not a non-negative integer");
    else
      fail_tensor(origin, name,
                  "data_offsets[" + std::to_string(i) + "] is JSON " + o.type_name() + ", expected an integer");
  }
  return {v[0], v[1]};
}

std::map<std::string, std::string> parse_metadata(const json& m, const std::string& origin) {
  if (!m.is_object())
    fail(origin, std::string("__metadata__ is JSON ") + m.type_name() + ", expected an object of strings");
  std::map<std::string, std::string> out;
  for (auto it = m.begin(); it != m.end(); ++it) {
    if (!it->is_string())
      fail(origin, "__metadata__ key '" + it.key() + "' is JSON " + it->type_name() + ", expected a string");
    out[it.key()] = it->get<std::string>();
  }
  return out;
}

// The tensor's byte size from its shape, or a failure if it does not fit in 64 bits.
uint64_t needed_bytes(const std::vector<int64_t>& shape, DType dtype, const std::string& origin,
                      const std::string& name) {
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  uint64_t n = dtype_size(dtype);
  for (int64_t d : shape)
    if (__builtin_mul_overflow(n, uint64_t(d), &n))
      fail_tensor(origin, name,
                  "shape " + shape_str(shape) + " of " + dtype_name(dtype) + " is too large (byte size overflows)");
  return n;
}

}  // namespace

DType dtype_from_string(const std::string& s) {
  if (const DTypeInfo* d = find_dtype(s)) return d->dtype;
  throw Error("unknown dtype '" + s + "'");
}
const char* dtype_name(DType d) { return info(d).name; }
size_t dtype_size(DType d) { return info(d).size; }

int64_t TensorView::numel() const {
  // A zero anywhere makes the product 0 even when the other dims would overflow (validation allows that).
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

ParsedSafetensors parse_safetensors(const uint8_t* bytes, size_t size, const std::string& origin) {
  if (size < 8) fail(origin, "file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];  // little-endian regardless of host
  if (n > kMaxHeaderBytes)
    fail(origin,
         "header length " + std::to_string(n) + " exceeds the " + std::to_string(kMaxHeaderBytes) + "-byte limit");
  if (n > size - 8)
    fail(origin,
         "header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(size) + " bytes)");
  const uint8_t* header = bytes + 8;
  if (size_t bad = utf8_error_offset(header, n); bad != n)
    fail(origin, "header is not valid UTF-8 (byte " + std::to_string(bad) + " of the header)");
  const json root = parse_json_strict(reinterpret_cast<const char*>(header), reinterpret_cast<const char*>(header + n),
                                      origin, "header");
  if (!root.is_object()) fail(origin, std::string("header is JSON ") + root.type_name() + ", expected an object");

  const uint8_t* buffer = header + n;
  const uint64_t buffer_size = size - 8 - n;
  ParsedSafetensors out;
  struct Range {
    uint64_t begin, end;
    const std::string* name;
  };
  std::vector<Range> ranges;
  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__") {
      out.metadata = parse_metadata(*it, origin);
      continue;
    }
    const json& entry = *it;
    if (!entry.is_object())
      fail_tensor(origin, name, std::string("entry is JSON ") + entry.type_name() + ", expected an object");
    auto dt = entry.find("dtype");
    if (dt == entry.end()) fail_tensor(origin, name, "missing 'dtype'");
    if (!dt->is_string())
      fail_tensor(origin, name, std::string("'dtype' is JSON ") + dt->type_name() + ", expected a string");
    const DTypeInfo* dtype = find_dtype(dt->get<std::string>());
    if (!dtype) fail_tensor(origin, name, "unknown dtype '" + dt->get<std::string>() + "'");
    std::vector<int64_t> shape = parse_shape(entry, origin, name);
    const uint64_t need = needed_bytes(shape, dtype->dtype, origin, name);
    const auto [b, e] = parse_offsets(entry, origin, name);
    if (b > e) fail_tensor(origin, name, "data_offsets " + range_str(b, e) + " begin after they end");
    if (e > buffer_size)
      fail_tensor(origin, name,
                  "data_offsets " + range_str(b, e) + " end beyond the data buffer (" + std::to_string(buffer_size) +
                      " bytes)");
    if (e - b != need)
      fail_tensor(origin, name,
                  "data_offsets " + range_str(b, e) + " hold " + std::to_string(e - b) + " bytes but shape " +
                      shape_str(shape) + " of " + dtype->name + " needs " + std::to_string(need));
    TensorView& v = out.tensors[name];
    v.name = name;
    v.dtype = dtype->dtype;
    v.shape = std::move(shape);
    v.data = buffer + b;
    v.nbytes = size_t(need);
    if (need > 0) ranges.push_back({b, e, &v.name});
  }

  // Gaps are allowed (some writers pad); overlaps mean two tensors share bytes, which no writer
  // produces. Sorted by start, the first range to overlap any earlier one also overlaps its
  // predecessor, so comparing neighbours finds every overlap.
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& x, const Range& y) { return std::tie(x.begin, x.end) < std::tie(y.begin, y.end); });
  for (size_t i = 1; i < ranges.size(); ++i) {
    const Range &p = ranges[i - 1], &r = ranges[i];
    if (r.begin < p.end)
      fail(origin, "tensors '" + *p.name + "' " + range_str(p.begin, p.end) + " and '" + *r.name + "' " +
                       range_str(r.begin, r.end) + " overlap");
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    fail(path, std::string("cannot stat: ") + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, "not a regular file");
  }
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  f->map_size_ = size_t(st.st_size);
  if (f->map_size_ > 0) {  // mmap rejects length 0; an empty file then fails the size check below
    void* p = mmap(nullptr, f->map_size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      fail(path, std::string("cannot mmap: ") + std::strerror(err));
    }
    f->map_ = p;
  }
  ::close(fd);  // the mapping keeps the file referenced
  f->parsed_ = parse_safetensors(static_cast<const uint8_t*>(f->map_), f->map_size_, path);
  return f;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) munmap(map_, map_size_);
}

const TensorView* SafetensorsFile::find(const std::string& name) const {
  auto it = parsed_.tensors.find(name);
  return it == parsed_.tensors.end() ? nullptr : &it->second;
}

// ---------------------------------------------------------------------------------------------------

namespace {

bool is_regular_file(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}
bool is_directory(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string read_small_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  std::string s;
  char buf[1 << 16];
  for (;;) {
    const ssize_t r = ::read(fd, buf, sizeof(buf));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      const int err = errno;
      ::close(fd);
      fail(path, std::string("cannot read: ") + std::strerror(err));
    }
    if (r == 0) break;
    s.append(buf, size_t(r));
  }
  ::close(fd);
  return s;
}

// weight_map of an index file: tensor name -> shard file name (a plain name inside the directory).
std::map<std::string, std::string> read_weight_map(const std::string& index_path) {
  const std::string text = read_small_file(index_path);
  const json root = parse_json_strict(text.data(), text.data() + text.size(), index_path, "index");
  if (!root.is_object()) fail(index_path, std::string("index is JSON ") + root.type_name() + ", expected an object");
  auto wm = root.find("weight_map");
  if (wm == root.end()) fail(index_path, "missing 'weight_map'");
  if (!wm->is_object())
    fail(index_path, std::string("'weight_map' is JSON ") + wm->type_name() + ", expected an object");
  std::map<std::string, std::string> out;
  for (auto it = wm->begin(); it != wm->end(); ++it) {
    if (!it->is_string())
      fail(index_path, "weight_map entry '" + it.key() + "' is JSON " + it->type_name() + ", expected a file name");
    const std::string& file = it->get_ref<const std::string&>();
    // Shards live next to the index; a path would let an index point anywhere on disk.
    if (file.empty() || file == "." || file == ".." || file.find('/') != std::string::npos)
      fail(index_path, "weight_map entry '" + it.key() + "' names '" + file + "', which is not a plain file name");
    out[it.key()] = file;
  }
  return out;
}

}  // namespace

SafetensorsCheckpoint SafetensorsCheckpoint::open(const std::string& path) {
  SafetensorsCheckpoint ck;
  auto add_file = [&](std::shared_ptr<SafetensorsFile> f) {
    ck.files_.push_back(std::move(f));
    for (const auto& [name, view] : ck.files_.back()->tensors()) ck.index_[name] = {&view, ck.files_.size() - 1};
  };
  if (!is_directory(path)) {
    add_file(SafetensorsFile::open(path));  // a single file; open() reports a missing path
    return ck;
  }
  const std::string dir = path.back() == '/' ? path : path + "/";
  // model.safetensors wins over an index, as in transformers' from_pretrained.
  if (is_regular_file(dir + "model.safetensors")) {
    add_file(SafetensorsFile::open(dir + "model.safetensors"));
    return ck;
  }
  const std::string index_path = dir + "model.safetensors.index.json";
  if (!is_regular_file(index_path))
    fail(path, "no checkpoint here: looked for model.safetensors and model.safetensors.index.json");

  const std::map<std::string, std::string> weight_map = read_weight_map(index_path);
  std::map<std::string, std::vector<std::string>> expected;  // shard -> tensor names (sorted)
  for (const auto& [name, file] : weight_map) expected[file].push_back(name);
  std::vector<std::string> absent;
  for (const auto& [file, names] : expected)
    if (!is_regular_file(dir + file)) absent.push_back(quoted(file));
  if (!absent.empty()) fail(index_path, "shard files missing from " + dir + ": " + join_list(absent));

  for (const auto& [file, names] : expected) {
    auto f = SafetensorsFile::open(dir + file);
    std::vector<std::string> missing, extra;
    for (const std::string& n : names)
      if (!f->find(n)) missing.push_back(quoted(n));
    for (const auto& [n, view] : f->tensors()) {
      auto it = weight_map.find(n);
      if (it == weight_map.end())
        extra.push_back(quoted(n));
      else if (it->second != file)  // the same tensor stored in two shards
        extra.push_back(quoted(n) + " (the index puts it in " + quoted(it->second) + ")");
    }
    if (!missing.empty() || !extra.empty()) {
      std::string msg = "shard '" + file + "' does not match the index:";
      if (!missing.empty()) msg += " missing " + join_list(missing) + " (listed in the index, absent from the shard)";
      if (!missing.empty() && !extra.empty()) msg += ";";
      if (!extra.empty()) msg += " extra " + join_list(extra) + " (in the shard, not assigned to it by the index)";
      fail(index_path, msg);
    }
    add_file(std::move(f));
  }
  return ck;
}

const TensorView* SafetensorsCheckpoint::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second.first;
}

std::vector<std::string> SafetensorsCheckpoint::names() const {
  std::vector<std::string> out;
  out.reserve(index_.size());
  for (const auto& kv : index_) out.push_back(kv.first);
  return out;
}

const std::string& SafetensorsCheckpoint::file_of(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) throw Error("checkpoint has no tensor '" + name + "'");
  return files_[it->second.second]->path();
}

}  // namespace vl3
