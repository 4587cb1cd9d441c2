// Helpers shared by the test folders.
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace vl3test {

// ../shared/golden when present (the tests that need it skip otherwise; CI always has it).
inline std::string golden_dir() {
  if (const char* e = std::getenv("VL3_GOLDEN_DIR")) return e;
  return VL3_GOLDEN_DIR;
}
inline bool have_golden() { return std::filesystem::exists(golden_dir() + "/manifest.json"); }
#define VL3_REQUIRE_GOLDEN()                                                       \
  do {                                                                             \
    if (!vl3test::have_golden()) GTEST_SKIP() << "no golden data at " << vl3test::golden_dir(); \
  } while (0)

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A fresh temporary directory, removed at destruction.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "vl3test-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string str(const std::string& name = "") const { return (path / name).string(); }
};

}  // namespace vl3test
