// libFuzzer target for parse_safetensors: any byte string must either parse into views that lie
// inside the input, or be rejected with vl3::Error. ASan catches reads outside the input when the
// views' bytes are touched below.
#include <cstddef>
#include <cstdint>

#include "vl3/error.h"
#include "vl3/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const vl3::ParsedSafetensors p = vl3::parse_safetensors(data, size, "fuzz");
    volatile uint64_t sink = 0;
    for (const auto& [name, v] : p.tensors) {
      uint64_t sum = uint64_t(v.numel()) + vl3::dtype_size(v.dtype) + name.size();
      for (size_t i = 0; i < v.nbytes; ++i) sum += v.data[i];
      sink = sink + sum;
    }
    for (const auto& [k, val] : p.metadata) sink = sink + k.size() + val.size();
  } catch (const vl3::Error&) {
  }
  return 0;
}
