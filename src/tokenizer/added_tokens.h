// Added tokens (special or not) written in the text: found before BPE, with tokenizers'
// leftmost-longest rule and its lstrip / rstrip / single_word options.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vl3/tokenizer.h"

namespace vl3::tok {

struct AddedToken {
  std::string content;
  TokenId id = -1;
  bool special = false;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;  // matched in the NFC-normalised text instead of the raw text
};

// A stretch of text: an added token's id, or -1 for plain text still to be tokenized.
struct Segment {
  size_t begin, end;
  TokenId id;
};

class AddedTokenMatcher {
 public:
  // Each item is (string searched for, token): the content, NFC-normalised for normalized
  // tokens. When two tokens have the same pattern the first one wins.
  void build(const std::vector<std::pair<std::string, const AddedToken*>>& items);
  bool empty() const { return entries_.empty(); }

  // Splits `text` into consecutive segments covering it (empty segments omitted).
  void split(std::string_view text, std::vector<Segment>& out) const;

 private:
  // Byte trie; a node's children are a sorted run in `edges_`, except the root's, which are a
  // direct table (most bytes start no token, so the scan rejects them with one lookup).
  struct Node {
    uint32_t first_edge = 0, num_edges = 0;
    int32_t entry = -1;  // index into entries_ when a pattern ends here
  };
  struct Edge {
    uint8_t byte;
    int32_t node;
  };
  // Length and entry index of the longest pattern starting at text[pos], or {0, -1}.
  std::pair<size_t, int32_t> longest_at(std::string_view text, size_t pos) const;

  struct Entry {
    TokenId id;
    bool single_word, lstrip, rstrip;
  };
  std::vector<Entry> entries_;
  std::vector<Node> nodes_;
  std::vector<Edge> edges_;
  int32_t root_child_[256] = {};
};

}  // namespace vl3::tok
