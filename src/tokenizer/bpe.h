// The BPE model of a byte-level tokenizer: vocabulary, merge ranks, and the merge loop.
#pragma once
#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "vl3/tokenizer.h"

namespace vl3::tok {

class Bpe {
 public:
  Bpe() { byte_ids_.fill(-1); }

  // Both throw vl3::Error (message without origin; the JSON reader adds it).
  void set_vocab(std::unordered_map<std::string, TokenId> vocab);
  // Merges are added in rank order; a repeated pair takes the later rank, as tokenizers does.
  void add_merge(const std::string& left, const std::string& right);

  void set_unk(TokenId unk, bool fuse_unk) { unk_ = unk, fuse_unk_ = fuse_unk; }
  void set_ignore_merges(bool v) { ignore_merges_ = v; }

  const std::unordered_map<std::string, TokenId>& vocab() const { return vocab_; }

  // Appends the ids of one pre-tokenized word given as raw bytes (the byte-level mapping is
  // applied here). Results for short words are cached; thread-safe.
  void encode_word(std::string_view word, std::vector<TokenId>& out) const;

 private:
  struct Merge {
    int32_t rank;
    TokenId result;
  };
  // (left, right) -> merge, open addressing with linear probing: the merge loop looks pairs up
  // several times per merge, and this is markedly faster than std::unordered_map there.
  class PairMap {
   public:
    const Merge* find(TokenId a, TokenId b) const;
    void insert_or_assign(TokenId a, TokenId b, Merge m);
    void clear() { slots_.clear(), size_ = 0; }

   private:
    static constexpr uint64_t kEmpty = ~uint64_t(0);  // ids are non-negative, so no key is all ones
    struct Slot {
      uint64_t key = kEmpty;
      Merge merge{};
    };
    size_t slot_of(uint64_t key) const;
    std::vector<Slot> slots_;  // size is zero or a power of two, at most half full
    size_t size_ = 0;
  };
  void merge_word(std::string_view word, std::vector<TokenId>& out) const;

  std::unordered_map<std::string, TokenId> vocab_;
  std::array<TokenId, 256> byte_ids_;  // id of each byte's one-character token, -1 if none
  PairMap merges_;
  int32_t next_rank_ = 0;
  TokenId unk_ = -1;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;

  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<TokenId>> cache_;
};

}  // namespace vl3::tok
