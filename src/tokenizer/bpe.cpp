#include "tokenizer/bpe.h"

#include <algorithm>
#include <queue>

#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"
#include "vl3/error.h"

namespace vl3::tok {
namespace {

// Words longer than this are rare and would mostly fill the cache with one-off entries
// (tokenizers has a similar bound); the cache stops growing at kCacheCapacity entries.
constexpr size_t kMaxCachedWord = 256;
constexpr size_t kCacheCapacity = 100000;

uint64_t pair_key(TokenId a, TokenId b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

}  // namespace

size_t Bpe::PairMap::slot_of(uint64_t key) const {
  const size_t mask = slots_.size() - 1;
  size_t i = size_t((key * 0x9E3779B97F4A7C15ull) >> 32) & mask;
  while (slots_[i].key != key && slots_[i].key != kEmpty) i = (i + 1) & mask;
  return i;
}

const Bpe::Merge* Bpe::PairMap::find(TokenId a, TokenId b) const {
  if (slots_.empty()) return nullptr;
  const Slot& s = slots_[slot_of(pair_key(a, b))];
  return s.key == kEmpty ? nullptr : &s.merge;
}

void Bpe::PairMap::insert_or_assign(TokenId a, TokenId b, Merge m) {
  if (2 * (size_ + 1) > slots_.size()) {
    std::vector<Slot> old(std::max<size_t>(64, 2 * slots_.size()));
    old.swap(slots_);
    for (const Slot& s : old)
      if (s.key != kEmpty) slots_[slot_of(s.key)] = s;
  }
  Slot& s = slots_[slot_of(pair_key(a, b))];
  if (s.key == kEmpty) ++size_;
  s = {pair_key(a, b), m};
}

void Bpe::set_vocab(std::unordered_map<std::string, TokenId> vocab) {
  vocab_ = std::move(vocab);
  merges_.clear();
  next_rank_ = 0;
  for (int b = 0; b < 256; ++b) {
    std::string ch;
    utf8_append(byte_to_char(uint8_t(b)), ch);
    auto it = vocab_.find(ch);
    byte_ids_[b] = it == vocab_.end() ? -1 : it->second;
  }
  std::lock_guard<std::mutex> lock(cache_mutex_);
  cache_.clear();
}

void Bpe::add_merge(const std::string& left, const std::string& right) {
  auto find = [&](const std::string& t) {
    auto it = vocab_.find(t);
    if (it == vocab_.end()) throw Error("token \"" + t + "\" is not in the vocabulary");
    return it->second;
  };
  const TokenId a = find(left), b = find(right), r = find(left + right);
  merges_.insert_or_assign(a, b, {next_rank_++, r});
}

void Bpe::encode_word(std::string_view word, std::vector<TokenId>& out) const {
  const bool cacheable = word.size() <= kMaxCachedWord;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(std::string(word));
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t first = out.size();
  merge_word(word, out);
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() < kCacheCapacity) cache_.emplace(std::string(word), std::vector<TokenId>(out.begin() + first, out.end()));
  }
}

// tokenizers' Word::merge_all: a min-heap of candidate pairs keyed by (rank, position) over a
// doubly linked list of symbols. Each merge costs O(log n), so a 1 MB word stays fast where
// rescanning for the best pair after every merge would be quadratic.
void Bpe::merge_word(std::string_view word, std::vector<TokenId>& out) const {
  if (ignore_merges_) {
    auto it = vocab_.find(byte_level_encode(word));
    if (it != vocab_.end()) {
      out.push_back(it->second);
      return;
    }
  }

  struct Symbol {
    TokenId id;
    int32_t prev, next;
    bool alive;
  };
  std::vector<Symbol> sym;
  sym.reserve(word.size());
  bool last_was_unk = false;
  for (unsigned char b : word) {
    const TokenId id = byte_ids_[b];
    if (id >= 0) {
      sym.push_back({id, 0, 0, true});
      last_was_unk = false;
    } else if (unk_ >= 0) {
      if (!(fuse_unk_ && last_was_unk)) sym.push_back({unk_, 0, 0, true});
      last_was_unk = true;
    }
    // Without an unknown token, a byte missing from the vocabulary is dropped, as in tokenizers.
  }
  const int32_t n = int32_t(sym.size());
  for (int32_t i = 0; i < n; ++i) {
    sym[i].prev = i - 1;
    sym[i].next = i + 1 < n ? i + 1 : -1;
  }

  struct Candidate {
    int32_t rank;
    int32_t pos;
    TokenId result;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::vector<Candidate> initial;
  for (int32_t i = 0; i + 1 < n; ++i)
    if (const Merge* m = merges_.find(sym[i].id, sym[i + 1].id)) initial.push_back({m->rank, i, m->result});
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue(std::greater<Candidate>(),
                                                                                        std::move(initial));
  auto push_pair = [&](int32_t pos) {
    const int32_t nx = sym[pos].next;
    if (nx < 0) return;
    if (const Merge* m = merges_.find(sym[pos].id, sym[nx].id)) queue.push({m->rank, pos, m->result});
  };

  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = sym[top.pos];
    if (!left.alive || left.next < 0) continue;
    const int32_t right_pos = left.next;
    // Skip entries made stale by an earlier merge at either end of the pair.
    const Merge* m = merges_.find(left.id, sym[right_pos].id);
    if (!m || m->result != top.result) continue;
    left.id = top.result;
    left.next = sym[right_pos].next;
    sym[right_pos].alive = false;
    if (left.next >= 0) sym[left.next].prev = top.pos;
    if (left.prev >= 0) push_pair(left.prev);
    push_pair(top.pos);
  }
  for (int32_t i = n > 0 ? 0 : -1; i >= 0; i = sym[i].next) out.push_back(sym[i].id);
}

}  // namespace vl3::tok
