#include "tokenizer/added_tokens.h"

#include <utf8proc.h>

#include <algorithm>
#include <map>

#include "tokenizer/utf8.h"

namespace vl3::tok {
namespace {

// Unicode White_Space, what tokenizers' `\s` (Rust regex) strips for lstrip / rstrip.
bool is_white_space(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

// Rust regex's Unicode `\w` (Alphabetic, marks, decimal digits, connector punctuation,
// Join_Control), which tokenizers uses to decide single_word.
bool is_word_char(uint32_t c) {
  if (c == 0x200C || c == 0x200D) return true;
  // The only Alphabetic characters that are neither letters nor marks: circled / parenthesised
  // / squared Latin letters (So with Other_Alphabetic).
  if ((c >= 0x24B6 && c <= 0x24E9) || (c >= 0x1F130 && c <= 0x1F149) || (c >= 0x1F150 && c <= 0x1F169) ||
      (c >= 0x1F170 && c <= 0x1F189))
    return true;
  switch (utf8proc_category(utf8proc_int32_t(c))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

// Start of the character that ends text[0, end).
size_t prev_char(std::string_view text, size_t end) {
  size_t i = end - 1;
  while (i > 0 && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) --i;
  return i;
}

}  // namespace

void AddedTokenMatcher::build(const std::vector<std::pair<std::string, const AddedToken*>>& items) {
  entries_.clear();
  nodes_.assign(1, Node{});
  edges_.clear();
  std::fill(std::begin(root_child_), std::end(root_child_), -1);

  // Build with ordered maps, then flatten each node's children into a sorted run of edges.
  std::vector<std::map<uint8_t, int32_t>> children(1);
  std::vector<int32_t> entry_of(1, -1);
  for (const auto& [pattern, token] : items) {
    if (pattern.empty()) continue;
    int32_t node = 0;
    for (unsigned char b : pattern) {
      auto it = children[node].find(b);
      if (it == children[node].end()) {
        it = children[node].emplace(b, int32_t(children.size())).first;
        children.emplace_back();
        entry_of.push_back(-1);
      }
      node = it->second;
    }
    if (entry_of[node] >= 0) continue;
    entry_of[node] = int32_t(entries_.size());
    entries_.push_back({token->id, token->single_word, token->lstrip, token->rstrip});
  }
  nodes_.assign(children.size(), Node{});
  for (size_t n = 0; n < children.size(); ++n) {
    nodes_[n].entry = entry_of[n];
    nodes_[n].first_edge = uint32_t(edges_.size());
    nodes_[n].num_edges = uint32_t(children[n].size());
    for (auto [b, child] : children[n]) edges_.push_back({b, child});
  }
  for (auto [b, child] : children[0]) root_child_[b] = child;
}

std::pair<size_t, int32_t> AddedTokenMatcher::longest_at(std::string_view text, size_t pos) const {
  std::pair<size_t, int32_t> best{0, -1};
  int32_t node = root_child_[static_cast<unsigned char>(text[pos])];
  size_t i = pos + 1;
  while (node >= 0) {
    const Node& nd = nodes_[node];
    if (nd.entry >= 0) best = {i - pos, nd.entry};
    if (i == text.size()) break;
    const auto b = static_cast<uint8_t>(text[i]);
    const Edge* first = edges_.data() + nd.first_edge;
    const Edge* last = first + nd.num_edges;
    const Edge* e = std::lower_bound(first, last, b, [](const Edge& x, uint8_t v) { return x.byte < v; });
    node = (e != last && e->byte == b) ? e->node : -1;
    ++i;
  }
  return best;
}

void AddedTokenMatcher::split(std::string_view text, std::vector<Segment>& out) const {
  const size_t n = text.size();
  size_t done = 0;  // text before this is already in `out`
  size_t pos = 0;
  while (pos < n) {
    // A token starts with a UTF-8 lead byte, never a continuation byte, so stepping byte by
    // byte cannot match inside a character.
    if (root_child_[static_cast<unsigned char>(text[pos])] < 0) {
      ++pos;
      continue;
    }
    const auto [len, entry] = longest_at(text, pos);
    if (entry < 0) {
      ++pos;
      continue;
    }
    const Entry& t = entries_[entry];
    size_t start = pos, stop = pos + len;
    // As with tokenizers' Aho-Corasick iterator, the search goes on after the match even when
    // single_word then rejects it.
    pos = stop;
    if (t.single_word) {
      bool word_before = false, word_after = false;
      if (start > 0) {
        size_t i = prev_char(text, start);
        word_before = is_word_char(utf8_next(text, i));
      }
      if (stop < n) {
        size_t j = stop;
        word_after = is_word_char(utf8_next(text, j));
      }
      if (word_before || word_after) continue;
    }
    if (t.lstrip) {
      size_t s = start;
      while (s > done) {
        size_t c = prev_char(text, s), k = c;
        if (!is_white_space(utf8_next(text, k))) break;
        s = c;
      }
      start = s;
    }
    if (t.rstrip) {
      size_t k = stop;
      while (k < n) {
        size_t c = k;
        if (!is_white_space(utf8_next(text, c))) break;
        k = c;
      }
      // tokenizers resumes its search at the token's end and may then match inside the
      // stripped spaces, giving overlapping pieces; resuming after them keeps pieces disjoint.
      stop = pos = k;
    }
    if (start > done) out.push_back({done, start, -1});
    out.push_back({start, stop, t.id});
    done = stop;
  }
  if (done < n) out.push_back({done, n, -1});
}

}  // namespace vl3::tok
