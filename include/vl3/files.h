// Whole-file text I/O with vl3::Error messages that name the path.
#pragma once
#include <string>

namespace vl3 {

std::string read_text_file(const std::string& path);                       // "PATH: cannot open" / "cannot read"
void write_text_file(const std::string& path, const std::string& text);    // replaces; "PATH: cannot write"

}  // namespace vl3
