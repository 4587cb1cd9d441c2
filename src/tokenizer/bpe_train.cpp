// Byte-level BPE training (vl3/bpe_train.h): the classic algorithm (count pairs over distinct words, merge the
// most frequent, repeat) on words pre-tokenized exactly as vl3::Tokenizer pre-tokenizes them.
#include "vl3/bpe_train.h"

#include <algorithm>
#include <cctype>
#include <deque>
#include <map>
#include <memory>
#include <sstream>
#include <unordered_map>

#include "tokenizer/byte_level.h"
#include "tokenizer/pretokenize.h"
#include "vl3/assets.h"
#include "vl3/chat.h"
#include "vl3/error.h"
#include "vl3/files.h"

namespace vl3 {
namespace {

using json = nlohmann::json;

void remove_all(std::string& s, const std::string& what) {
  for (size_t p; (p = s.find(what)) != std::string::npos;) s.erase(p, what.size());
}

// Splits a byte-level word into its characters (UTF-8 sequences).
std::vector<std::string> chars_of(const std::string& w) {
  std::vector<std::string> out;
  for (size_t i = 0; i < w.size();) {
    const unsigned char c = static_cast<unsigned char>(w[i]);
    const size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    out.push_back(w.substr(i, n));
    i += n;
  }
  return out;
}

// True when a byte-level spelling holds both an ASCII letter and ASCII punctuation (printable ASCII bytes are
// their own characters in the byte-level alphabet; space and newline are not, so " black" is no mix).
bool mixes_letter_and_punctuation(const std::string& s) {
  bool letter = false, punct = false;
  for (const char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c >= 0x80) continue;
    letter = letter || std::isalpha(c);
    punct = punct || std::ispunct(c);
  }
  return letter && punct;
}

}  // namespace

BpeTrainResult train_bpe_tokenizer(const std::vector<std::string>& texts, const BpeTrainOptions& opt) {
  if (opt.vocab_size < 256) throw Error("bpe: the vocabulary must hold at least the 256 byte symbols");
  json tpl = json::parse(embedded_tokenizer_json());

  // The pre-tokenizer of the template: its Split regex, then ByteLevel without prefix space.
  const auto& pre = tpl.at("pre_tokenizer");
  std::string pattern;
  for (const auto& p : pre.at("pretokenizers"))
    if (p.at("type") == "Split") pattern = p.at("pattern").at("Regex").get<std::string>();
  if (pattern.empty()) throw Error("bpe: the template tokenizer has no Split pre-tokenizer");
  tok::PreTokenizer pt;
  pt.add_split(std::make_shared<tok::Regex>(pattern, false, "bpe split"), tok::SplitBehavior::Isolated, false);
  pt.set_byte_level(false, false);

  std::vector<std::string> added;
  for (const auto& t : tpl.at("added_tokens")) added.push_back(t.at("content").get<std::string>());

  // Distinct words with their counts (std::map: deterministic order).
  std::map<std::string, int64_t> word_counts;
  std::vector<std::string_view> words;
  std::deque<std::string> storage;
  for (std::string text : texts) {
    for (const auto& a : added) remove_all(text, a);
    text = tok::nfc(text);
    words.clear();
    storage.clear();
    pt.split(text, words, storage);
    for (auto w : words) ++word_counts[tok::byte_level_encode(w)];
  }

  // Symbols: the 256 byte characters in GPT-2's order (printable bytes first), as Qwen2's ids 0..255.
  std::vector<std::pair<uint32_t, uint8_t>> order;
  for (int b = 0; b < 256; ++b) order.push_back({tok::byte_to_char(uint8_t(b)), uint8_t(b)});
  std::sort(order.begin(), order.end());
  std::vector<std::string> vocab;
  std::unordered_map<std::string, int> id_of;
  for (const auto& [cp, b] : order) {
    const std::string s = tok::byte_level_encode(std::string_view(reinterpret_cast<const char*>(&b), 1));
    id_of[s] = int(vocab.size());
    vocab.push_back(s);
  }
  struct Word { std::vector<int> ids; int64_t count; };
  std::vector<Word> ws;
  for (const auto& [w, n] : word_counts) {
    Word x{{}, n};
    for (const auto& c : chars_of(w)) x.ids.push_back(id_of.at(c));
    ws.push_back(std::move(x));
  }

  std::vector<std::pair<int, int>> merges;
  while (int(vocab.size()) < opt.vocab_size) {
    std::unordered_map<uint64_t, int64_t> pairs;
    for (const auto& w : ws)
      for (size_t i = 0; i + 1 < w.ids.size(); ++i) pairs[(uint64_t(uint32_t(w.ids[i])) << 32) | uint32_t(w.ids[i + 1])] += w.count;
    int64_t best_n = 0;
    uint64_t best = 0;
    std::string best_spelling;
    for (const auto& [key, n] : pairs) {
      if (n < best_n || n < opt.min_frequency) continue;
      const int a = int(key >> 32), b = int(key & 0xffffffffu);
      if (opt.split_letters_from_punctuation && mixes_letter_and_punctuation(vocab[size_t(a)] + vocab[size_t(b)])) continue;
      std::string spelling = vocab[size_t(a)] + " " + vocab[size_t(b)];
      if (n > best_n || spelling < best_spelling) best_n = n, best = key, best_spelling = std::move(spelling);
    }
    if (best_n == 0) break;
    const int a = int(best >> 32), b = int(best & 0xffffffffu);
    // A spelling already reached through other merges keeps its id: the rule is added, no new token.
    const std::string merged = vocab[size_t(a)] + vocab[size_t(b)];
    const auto [slot, is_new] = id_of.emplace(merged, int(vocab.size()));
    if (is_new) vocab.push_back(merged);
    merges.push_back({a, b});
    const int m = slot->second;
    for (auto& w : ws) {
      std::vector<int>& v = w.ids;
      size_t o = 0;
      for (size_t i = 0; i < v.size(); ++i) {
        if (i + 1 < v.size() && v[i] == a && v[i + 1] == b) {
          v[o++] = m;
          ++i;
        } else {
          v[o++] = v[i];
        }
      }
      v.resize(o);
    }
  }

  // The tokenizer.json: the template with a new model and renumbered added tokens.
  json vj = json::object();
  for (size_t i = 0; i < vocab.size(); ++i) vj[vocab[i]] = int(i);
  json mj = json::array();
  for (const auto& [a, b] : merges) mj.push_back(json::array({vocab[size_t(a)], vocab[size_t(b)]}));
  tpl["model"]["vocab"] = vj;
  tpl["model"]["merges"] = mj;
  std::map<std::string, int> new_id;
  int next = int(vocab.size());
  for (auto& t : tpl["added_tokens"]) {
    new_id[t.at("content").get<std::string>()] = next;
    t["id"] = next++;
  }
  BpeTrainResult res;
  res.tokenizer_json = tpl.dump(2);
  res.merges = int64_t(merges.size());
  res.words = int64_t(word_counts.size());
  res.total_ids = next;

  json cfg = json::parse(embedded_tokenizer_config());
  json dec = json::object();
  for (auto it = cfg.at("added_tokens_decoder").begin(); it != cfg.at("added_tokens_decoder").end(); ++it) {
    const std::string content = it.value().at("content").get<std::string>();
    auto f = new_id.find(content);
    if (f == new_id.end()) throw Error("bpe: tokenizer_config.json names an added token the tokenizer lacks: " + content);
    dec[std::to_string(f->second)] = it.value();
  }
  cfg["added_tokens_decoder"] = dec;
  res.tokenizer_config = cfg;
  return res;
}

std::vector<std::string> corpus_texts_from_annotations(const std::string& path) {
  const std::string all = read_text_file(path);
  std::vector<json> records;
  const size_t first = all.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && all[first] == '[') {
    try {
      for (auto& r : json::parse(all)) records.push_back(std::move(r));
    } catch (const json::exception& e) {
      throw Error(path + ": bad JSON (" + e.what() + ")");
    }
  } else {
    std::istringstream ls(all);
    std::string line;
    for (int64_t ln = 1; std::getline(ls, line); ++ln) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      try {
        records.push_back(json::parse(line));
      } catch (const json::exception& e) {
        throw Error(path + ":" + std::to_string(ln) + ": bad JSON (" + e.what() + ")");
      }
    }
  }
  std::vector<std::string> out;
  auto add = [&](std::string s) {
    remove_all(s, "<image>");
    remove_all(s, "<video>");
    if (!s.empty()) out.push_back(std::move(s));
  };
  for (const auto& r : records) {
    if (!r.is_object()) continue;
    const char* key = r.contains("conversations") ? "conversations" : "messages";
    if (!r.contains(key) || !r.at(key).is_array()) continue;
    for (const auto& m : r.at(key)) {
      if (!m.is_object()) continue;
      for (const char* field : {"value", "content"}) {
        if (!m.contains(field)) continue;
        const auto& v = m.at(field);
        if (v.is_string()) add(v.get<std::string>());
        if (v.is_array())
          for (const auto& part : v)
            if (part.is_object() && part.contains("text") && part.at("text").is_string()) add(part.at("text").get<std::string>());
      }
    }
  }
  // What the chat template itself writes between special tokens.
  for (const char* role : {"system\n", "user\n", "assistant\n"}) out.push_back(role);
  out.push_back(kDefaultSystemPrompt);
  for (int t = 0; t <= 180; ++t) out.push_back("Time " + std::to_string(t) + ".0s:,\n");
  return out;
}

}  // namespace vl3
