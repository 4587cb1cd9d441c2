// safetensors <-> torch tensors.
#include "model/tensor_io.h"

#include <cstring>

#include "vl3/error.h"

namespace vl3 {
namespace {

torch::Dtype to_torch(DType d, const std::string& what) {
  switch (d) {
    case DType::F64: return torch::kFloat64;
    case DType::F32: return torch::kFloat32;
    case DType::F16: return torch::kFloat16;
    case DType::BF16: return torch::kBFloat16;
    case DType::I64: return torch::kInt64;
    case DType::I32: return torch::kInt32;
    case DType::I16: return torch::kInt16;
    case DType::I8: return torch::kInt8;
    case DType::U8: return torch::kUInt8;
    case DType::BOOL: return torch::kBool;
  }
  throw Error(what + ": unsupported dtype");
}

}  // namespace

DType dtype_from_torch(torch::Dtype d) {
  switch (d) {
    case torch::kFloat64: return DType::F64;
    case torch::kFloat32: return DType::F32;
    case torch::kFloat16: return DType::F16;
    case torch::kBFloat16: return DType::BF16;
    case torch::kInt64: return DType::I64;
    case torch::kInt32: return DType::I32;
    case torch::kInt16: return DType::I16;
    case torch::kInt8: return DType::I8;
    case torch::kUInt8: return DType::U8;
    case torch::kBool: return DType::BOOL;
    default: throw Error(std::string("cannot store dtype ") + c10::toString(d) + " in safetensors");
  }
}


// A CPU tensor sharing (or, when unaligned, copying) the bytes of a checkpoint view.
torch::Tensor tensor_from_view(const TensorView& v) {
  auto dtype = to_torch(v.dtype, v.name);
  const size_t align = dtype_size(v.dtype);
  if (reinterpret_cast<uintptr_t>(v.data) % align == 0)
    return torch::from_blob(const_cast<uint8_t*>(v.data), v.shape, torch::TensorOptions(dtype));
  auto t = torch::empty(v.shape, torch::TensorOptions(dtype));
  std::memcpy(t.data_ptr(), v.data, v.nbytes);
  return t;
}

std::map<std::string, torch::Tensor> read_tensors(const std::string& path) {
  auto file = SafetensorsFile::open(path);
  std::map<std::string, torch::Tensor> out;
  for (const auto& [name, view] : file->tensors()) out[name] = tensor_from_view(view).clone();
  return out;
}

void write_tensors(const std::string& path, const std::map<std::string, torch::Tensor>& tensors) {
  std::vector<torch::Tensor> keep;
  std::vector<TensorToWrite> w;
  for (const auto& [name, t] : tensors) {
    keep.push_back(t.detach().to(torch::kCPU).contiguous());
    const auto& c = keep.back();
    w.push_back({name, dtype_from_torch(c.scalar_type()), c.sizes().vec(), c.data_ptr(), size_t(c.nbytes())});
  }
  write_safetensors(path, w);
}

}  // namespace vl3
