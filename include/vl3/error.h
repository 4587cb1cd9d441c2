// vl3::Error: the one exception type the library throws for bad input (files, JSON, configs,
// prompts). Its message names what is wrong and where; frontends print it and exit non-zero.
#pragma once
#include <stdexcept>
#include <string>

namespace vl3 {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace vl3
