// Normalisation (NFC) and pre-tokenization (regex splits + the ByteLevel step) of the text
// between added tokens, with Hugging Face tokenizers' semantics.
#pragma once
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vl3::tok {

// NFC through utf8proc. `s` must be valid UTF-8 (encode() checks the whole text first).
std::string nfc(std::string_view s);

// A PCRE2 pattern (UTF + UCP, JIT when available) written in Hugging Face's Oniguruma dialect.
class Regex {
 public:
  // `where` names the pattern's origin in error messages. literal=true matches the text as is.
  Regex(const std::string& pattern, bool literal, const std::string& where);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // All matches (byte offsets) in order, with the Oniguruma crate's find_iter rule for empty
  // matches (one right after the previous match is skipped). `text` must be valid UTF-8.
  void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const;

 private:
  struct Code;
  std::unique_ptr<Code> code_;
  std::string where_;
};

enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

class PreTokenizer {
 public:
  void add_split(std::shared_ptr<const Regex> regex, SplitBehavior behavior, bool invert);
  // The final ByteLevel step; use_regex splits with GPT-2's pattern (as its own Split step).
  void set_byte_level(bool add_prefix_space, bool use_regex);

  // Appends the words of `text` to `words`. Words are views into `text` or, when the ByteLevel
  // step prepends a space, into strings kept alive in `storage`.
  void split(std::string_view text, std::vector<std::string_view>& words,
             std::deque<std::string>& storage) const;

 private:
  struct Rule {
    std::shared_ptr<const Regex> regex;
    SplitBehavior behavior;
    bool invert;
  };
  static void apply(const Rule& rule, std::string_view piece, std::vector<std::string_view>& out);

  std::vector<Rule> rules_;                     // before the ByteLevel step
  bool add_prefix_space_ = false;
  std::shared_ptr<const Regex> byte_level_re_;  // null unless ByteLevel's use_regex
};

}  // namespace vl3::tok
