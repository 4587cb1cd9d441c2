// vl3 make-tokenizer: learns a small byte-level BPE tokenizer from training annotation files.
#include <filesystem>
#include <iostream>

#include "cli.h"
#include "vl3/bpe_train.h"
#include "vl3/files.h"

namespace vl3cli {

void register_make_tokenizer(CLI::App& app) {
  struct Flags {
    std::vector<std::string> data;
    std::string out;
    int vocab_size = 1024, min_frequency = 2;
    bool split_punct = false;
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("make-tokenizer",
                                 "Learn a byte-level BPE tokenizer.json (Qwen2.5's rules and special tokens) from annotation files");
  cmd->add_option("--data", f->data, "Training annotation files (JSON/JSONL, official or messages records)")->required();
  cmd->add_option("--out", f->out, "Output directory: tokenizer.json + tokenizer_config.json")->required();
  cmd->add_option("--vocab-size", f->vocab_size, "Byte symbols + merges (added tokens come on top)")->check(CLI::Range(256, 1 << 20));
  cmd->add_option("--min-frequency", f->min_frequency, "Never merge a pair seen fewer times")->check(CLI::Range(1, 1 << 30));
  cmd->add_flag("--split-letters-from-punctuation", f->split_punct,
                "Never merge an ASCII letter with ASCII punctuation (keeps the B of \"(B)\" a token of its own)");
  cmd->callback([f] {
    std::vector<std::string> texts;
    for (const auto& p : f->data) {
      auto t = vl3::corpus_texts_from_annotations(p);
      texts.insert(texts.end(), std::make_move_iterator(t.begin()), std::make_move_iterator(t.end()));
    }
    vl3::BpeTrainOptions o;
    o.vocab_size = f->vocab_size;
    o.min_frequency = f->min_frequency;
    o.split_letters_from_punctuation = f->split_punct;
    const auto r = vl3::train_bpe_tokenizer(texts, o);
    namespace fs = std::filesystem;
    fs::create_directories(f->out);
    vl3::write_text_file((fs::path(f->out) / "tokenizer.json").string(), r.tokenizer_json);
    vl3::write_text_file((fs::path(f->out) / "tokenizer_config.json").string(), r.tokenizer_config.dump(2));
    std::cerr << "learned " << r.merges << " merges from " << texts.size() << " texts (" << r.words
              << " distinct words); " << r.total_ids << " ids with the added tokens -> " << f->out << "\n";
  });
}

}  // namespace vl3cli
