// The golden checkpoint as a model directory: ../shared/golden/model plus the golden tokenizer
// (tokenizer/tokenizer.json.xz, decompressed), assembled once per test process in a temp dir.
#pragma once
#include <filesystem>
#include <fstream>

#include "test_util.h"
#include "vl3/assets.h"

namespace vl3test {

inline std::string golden_model_dir() {
  namespace fs = std::filesystem;
  static TempDir tmp;
  static std::string dir = [] {
    for (const auto& e : fs::directory_iterator(golden_dir() + "/model"))
      fs::create_symlink(fs::absolute(e.path()), tmp.path / e.path().filename());
    auto xz = read_file(golden_dir() + "/tokenizer/tokenizer.json.xz");
    std::ofstream(tmp.str("tokenizer.json"), std::ios::binary)
        << vl3::xz_decompress(xz.data(), xz.size(), "golden tokenizer.json.xz");
    return tmp.str();
  }();
  return dir;
}

}  // namespace vl3test
