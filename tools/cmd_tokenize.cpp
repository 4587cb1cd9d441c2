// vl3 tokenize: text on stdin -> JSON ids on stdout (or --decode: JSON ids -> text).
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "vl3/error.h"
#include "vl3/tokenizer.h"

namespace vl3cli {
namespace {

struct TokenizeFlags {
  std::string model_dir, tokenizer_file;
  bool decode = false, no_special = false, skip_special = false;
};

void run(const TokenizeFlags& f) {
  if (f.model_dir.empty() == f.tokenizer_file.empty()) throw vl3::Error("give exactly one of -m DIR or --tokenizer FILE");
  const std::string path = f.tokenizer_file.empty() ? f.model_dir + "/tokenizer.json" : f.tokenizer_file;
  auto tok = vl3::Tokenizer::from_file(path);
  const std::string input = read_text_file_or_stdin("-");
  if (!f.decode) {
    auto ids = tok.encode(input, !f.no_special);
    std::cout << nlohmann::json(ids).dump() << "\n";
    return;
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(input);
  } catch (const nlohmann::json::parse_error& e) {
    throw vl3::Error(std::string("stdin: expected a JSON array of token ids: ") + e.what());
  }
  if (!j.is_array()) throw vl3::Error("stdin: expected a JSON array of token ids");
  std::vector<vl3::TokenId> ids;
  for (const auto& v : j) {
    if (!v.is_number_integer()) throw vl3::Error("stdin: token ids must be integers, got " + v.dump());
    ids.push_back(v.get<vl3::TokenId>());
  }
  std::cout << tok.decode(ids, f.skip_special);
}

}  // namespace

void register_tokenize(CLI::App& app) {
  auto f = std::make_shared<TokenizeFlags>();
  auto* cmd = app.add_subcommand("tokenize", "Text on stdin -> token ids (JSON) on stdout; --decode reverses");
  cmd->add_option("-m,--model", f->model_dir, "Model directory (uses its tokenizer.json)");
  cmd->add_option("--tokenizer", f->tokenizer_file, "A tokenizer.json file");
  cmd->add_flag("--decode", f->decode, "Read a JSON array of ids, write the text");
  cmd->add_flag("--no-special", f->no_special, "Treat special-token text (<|im_start|>...) as plain text");
  cmd->add_flag("--skip-special", f->skip_special, "With --decode: leave special tokens out");
  cmd->callback([f] { run(*f); });
}

}  // namespace vl3cli
