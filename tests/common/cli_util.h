// Running the vl3 binary from a test: exit code and output (stdout and stderr together).
#pragma once
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>

#include "test_util.h"

namespace vl3test {

struct CliResult {
  int code = -1;
  std::string out;  // stdout and stderr together
};

// `env`: variable settings for the command's environment, e.g. "VL3_MODEL=/x" or "-u VL3_MODEL" (env(1) syntax).
inline CliResult run_vl3(const std::string& args, const std::string& stdin_text = "", const std::string& env = "") {
  TempDir tmp;
  std::string in = tmp.str("stdin");
  std::ofstream(in) << stdin_text;
  std::string cmd = (env.empty() ? "" : "env " + env + " ") + std::string(VL3_BINARY) + " " + args + " < " + in + " 2>&1";
  CliResult r;
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace vl3test
