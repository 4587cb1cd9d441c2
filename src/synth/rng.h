// The synthetic world's PRNG: xoshiro256** seeded through splitmix64. Only integer draws are used (no std::
// distributions, whose outputs differ between standard libraries), so a seed gives the same world everywhere.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

namespace vl3::synth {

inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// A seed for item `index` of stream `stream`: independent items can be generated in any order.
inline uint64_t derive_seed(uint64_t seed, uint64_t stream, uint64_t index) {
  uint64_t s = seed;
  uint64_t a = splitmix64(s);
  s = a ^ (stream * 0xD1B54A32D192ED03ull);
  uint64_t b = splitmix64(s);
  s = b ^ (index * 0x8CB92BA72F3D8DD7ull);
  return splitmix64(s);
}

// Stateless hash of a few integers (noise textures).
inline uint64_t hash3(uint64_t seed, uint64_t x, uint64_t y) {
  uint64_t s = seed ^ (x * 0x9E3779B97F4A7C15ull) ^ (y * 0xC2B2AE3D27D4EB4Full);
  return splitmix64(s);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& w : s_) w = splitmix64(seed);
  }
  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, n), unbiased (rejection); n > 0.
  uint64_t below(uint64_t n) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do v = next();
    while (v >= limit);
    return v % n;
  }
  int range(int lo, int hi) { return lo + int(below(uint64_t(hi - lo + 1))); }  // inclusive
  bool chance(int percent) { return int(below(100)) < percent; }
  template <class T>
  const T& pick(const std::vector<T>& v) { return v[size_t(below(v.size()))]; }
  template <class T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[size_t(below(i))]);
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace vl3::synth
