#include "tokenizer/pretokenize.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>
#include <new>

#include "vl3/error.h"

namespace vl3::tok {

std::string nfc(std::string_view s) {
  // Code points below U+0300 are NFC already and never compose with a neighbour below U+0300;
  // their UTF-8 uses only bytes below 0xCC, which makes ASCII and most Latin text a no-op.
  bool simple = true;
  for (unsigned char c : s) simple &= c < 0xCC;
  if (simple) return std::string(s);
  // utf8proc_NFC would stop at the first NUL byte; utf8proc_map with an explicit length and
  // the same options (STABLE | COMPOSE) is NFC over the whole string.
  utf8proc_uint8_t* out = nullptr;
  const utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()), utf8proc_ssize_t(s.size()), &out,
                   utf8proc_option_t(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0) throw Error(std::string("tokenizer: NFC normalisation failed: ") + utf8proc_errmsg(n));
  std::string r(reinterpret_cast<const char*>(out), size_t(n));
  std::free(out);
  return r;
}

// ---------------------------------------------------------------------------------------------

struct Regex::Code {
  pcre2_code* code = nullptr;
  ~Code() { pcre2_code_free(code); }
};

namespace {

// Hugging Face compiles Split patterns with Oniguruma, whose \s is exactly Unicode White_Space.
// PCRE2's \s (with UCP) also matches U+180E, which Unicode 6.3 took out of White_Space, so \s
// and \S are spelt as the property (valid both inside and outside a character class).
std::string to_pcre2_dialect(const std::string& p) {
  std::string out;
  out.reserve(p.size() + 32);
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] != '\\' || i + 1 == p.size()) {
      out += p[i];
      continue;
    }
    const char next = p[++i];
    if (next == 's') {
      out += "\\p{White_Space}";
    } else if (next == 'S') {
      out += "\\P{White_Space}";
    } else {
      out += '\\';
      out += next;
    }
  }
  return out;
}

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  if (pcre2_get_error_message(code, buf, sizeof(buf)) < 0) return "PCRE2 error " + std::to_string(code);
  return reinterpret_cast<const char*>(buf);
}

struct MatchData {
  pcre2_match_data* md;
  explicit MatchData(const pcre2_code* code) : md(pcre2_match_data_create_from_pattern(code, nullptr)) {
    if (!md) throw std::bad_alloc();
  }
  ~MatchData() { pcre2_match_data_free(md); }
};

// Only for the rare subject that overflows JIT's default 32 KiB stack.
struct BigJitStack {
  pcre2_match_context* ctx = pcre2_match_context_create(nullptr);
  pcre2_jit_stack* stack = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, nullptr);
  BigJitStack() {
    if (!ctx || !stack) throw std::bad_alloc();
    pcre2_jit_stack_assign(ctx, nullptr, stack);
  }
  ~BigJitStack() {
    pcre2_jit_stack_free(stack);
    pcre2_match_context_free(ctx);
  }
};

size_t utf8_len_at(unsigned char lead) { return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4; }

}  // namespace

Regex::Regex(const std::string& pattern, bool literal, const std::string& where)
    : code_(std::make_unique<Code>()), where_(where) {
  const std::string p = literal ? pattern : to_pcre2_dialect(pattern);
  int err = 0;
  PCRE2_SIZE err_off = 0;
  // NEVER_BACKSLASH_C: \C could end a match inside a character, and later stages rely on
  // every piece being valid UTF-8. (PCRE2_LITERAL admits neither option, nor needs them.)
  const uint32_t opts = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP | PCRE2_NEVER_BACKSLASH_C);
  code_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.data()), p.size(), opts, &err, &err_off, nullptr);
  if (!code_->code) {
    throw Error(where + ": invalid regex " + (literal ? "string" : "pattern") + " (" + pcre2_message(err) +
                " at offset " + std::to_string(err_off) + ")");
  }
  pcre2_jit_compile(code_->code, PCRE2_JIT_COMPLETE);  // the interpreter is the fallback
}

Regex::~Regex() = default;

void Regex::find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const {
  MatchData md(code_->code);
  std::unique_ptr<BigJitStack> big;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  const size_t n = text.size();
  size_t pos = 0;
  bool have_prev = false;
  size_t prev_end = 0;
  while (pos <= n) {
    // The whole text was checked once; checking it again on every call would be quadratic.
    int rc = pcre2_match(code_->code, subject, n, pos, PCRE2_NO_UTF_CHECK, md.md, big ? big->ctx : nullptr);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT && !big) {
      big = std::make_unique<BigJitStack>();
      continue;
    }
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) throw Error(where_ + ": regex matching failed (" + pcre2_message(rc) + ")");
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.md);
    const size_t s = ov[0], e = ov[1];
    if (s < pos || e < s) throw Error(where_ + ": regex reported a match outside the searched text (\\K?)");
    if (s == e && have_prev && prev_end == e) {
      if (pos == n) break;
      pos += utf8_len_at(static_cast<unsigned char>(text[pos]));
      continue;
    }
    out.emplace_back(s, e);
    pos = e;
    have_prev = true;
    prev_end = e;
  }
}

// ---------------------------------------------------------------------------------------------

void PreTokenizer::add_split(std::shared_ptr<const Regex> regex, SplitBehavior behavior, bool invert) {
  rules_.push_back({std::move(regex), behavior, invert});
}

void PreTokenizer::set_byte_level(bool add_prefix_space, bool use_regex) {
  add_prefix_space_ = add_prefix_space;
  if (use_regex) {
    static const std::shared_ptr<const Regex> gpt2 = std::make_shared<const Regex>(
        R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)", false,
        "ByteLevel pre-tokenizer");
    byte_level_re_ = gpt2;
  } else {
    byte_level_re_.reset();
  }
}

void PreTokenizer::apply(const Rule& rule, std::string_view piece, std::vector<std::string_view>& out) {
  if (piece.empty()) return;
  std::vector<std::pair<size_t, size_t>> found;
  rule.regex->find_all(piece, found);

  struct Part {
    size_t begin, end;
    bool match;
  };
  std::vector<Part> parts;
  parts.reserve(found.size() * 2 + 1);
  size_t prev = 0;
  for (auto [s, e] : found) {
    if (prev != s) parts.push_back({prev, s, rule.invert});
    parts.push_back({s, e, !rule.invert});
    prev = e;
  }
  if (prev != piece.size()) parts.push_back({prev, piece.size(), rule.invert});

  // The folds below are those of tokenizers' NormalizedString::split.
  std::vector<Part> kept;
  kept.reserve(parts.size());
  bool previous_match = false;
  switch (rule.behavior) {
    case SplitBehavior::Isolated:
      kept = parts;
      break;
    case SplitBehavior::Removed:
      for (const Part& p : parts)
        if (!p.match) kept.push_back(p);
      break;
    case SplitBehavior::Contiguous:
      for (const Part& p : parts) {
        if (p.match == previous_match && !kept.empty())
          kept.back().end = p.end;
        else
          kept.push_back(p);
        previous_match = p.match;
      }
      break;
    case SplitBehavior::MergedWithPrevious:
      for (const Part& p : parts) {
        if (p.match && !previous_match && !kept.empty())
          kept.back().end = p.end;
        else
          kept.push_back(p);
        previous_match = p.match;
      }
      break;
    case SplitBehavior::MergedWithNext:
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
        if (it->match && !previous_match && !kept.empty())
          kept.back().begin = it->begin;
        else
          kept.push_back(*it);
        previous_match = it->match;
      }
      std::reverse(kept.begin(), kept.end());
      break;
  }
  for (const Part& p : kept)
    if (p.end > p.begin) out.push_back(piece.substr(p.begin, p.end - p.begin));
}

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& words,
                         std::deque<std::string>& storage) const {
  if (text.empty()) return;
  std::vector<std::string_view> cur{text}, next;
  for (const Rule& rule : rules_) {
    next.clear();
    for (std::string_view piece : cur) apply(rule, piece, next);
    cur.swap(next);
  }
  for (std::string_view piece : cur) {
    if (add_prefix_space_ && piece.front() != ' ') {
      storage.push_back(" " + std::string(piece));
      piece = storage.back();
    }
    if (byte_level_re_)
      apply({byte_level_re_, SplitBehavior::Isolated, false}, piece, words);
    else
      words.push_back(piece);
  }
}

}  // namespace vl3::tok
