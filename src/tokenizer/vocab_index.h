#pragma once
// VocabIndex: a flat open-addressing hash table from byte strings to ids, shared by the
// WordPiece and BPE models. Keys live in one arena, so a lookup by string_view allocates
// nothing and touches one or two cache lines.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace crossrank {

class VocabIndex {
 public:
  // Builds the index from (key, id) pairs (ids >= 0); a later duplicate key overwrites the
  // earlier id. The keys are copied.
  void build(const std::vector<std::pair<std::string_view, int32_t>>& entries) {
    std::size_t cap = 16;
    while (cap < entries.size() * 2) cap <<= 1;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    std::size_t bytes = 0;
    for (const auto& e : entries) bytes += e.first.size();
    arena_.clear();
    arena_.reserve(bytes);
    max_len_ = 0;
    size_ = 0;
    for (const auto& [key, id] : entries) {
      const uint64_t h = hash(key);
      std::size_t i = h & mask_;
      while (slots_[i].id >= 0 && !equal(slots_[i], h, key)) i = (i + 1) & mask_;
      Slot& slot = slots_[i];
      if (slot.id < 0) {
        slot.hash = static_cast<uint32_t>(h >> 32);
        slot.len = static_cast<uint32_t>(key.size());
        slot.offset = static_cast<uint32_t>(arena_.size());
        arena_.append(key);
        max_len_ = std::max(max_len_, key.size());
        ++size_;
      }
      slot.id = id;
    }
  }

  // Id of `key`, or -1.
  int32_t find(std::string_view key) const {
    if (key.size() > max_len_ || slots_.empty()) return -1;
    const uint64_t h = hash(key);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.id < 0) return -1;
      if (equal(slot, h, key)) return slot.id;
    }
  }

  // Longest key in bytes.
  std::size_t max_len() const { return max_len_; }
  // Number of distinct keys.
  std::size_t size() const { return size_; }

 private:
  struct Slot {
    uint32_t hash = 0;  // high half of the 64-bit hash
    uint32_t len = 0;
    uint32_t offset = 0;
    int32_t id = -1;  // -1: empty
  };

  static uint64_t mix(uint64_t h) {
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 32;
    return h;
  }
  static uint64_t hash(std::string_view s) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (s.size() * 0xff51afd7ed558ccdull);
    const char* p = s.data();
    std::size_t n = s.size();
    while (n >= 8) {
      uint64_t v;
      std::memcpy(&v, p, 8);
      h = mix(h ^ v) * 0xbf58476d1ce4e5b9ull;
      p += 8;
      n -= 8;
    }
    uint64_t v = 0;
    if (n > 0) std::memcpy(&v, p, n);
    return mix(h ^ v);
  }
  bool equal(const Slot& slot, uint64_t h, std::string_view key) const {
    return slot.hash == static_cast<uint32_t>(h >> 32) && slot.len == key.size() &&
           std::memcmp(arena_.data() + slot.offset, key.data(), key.size()) == 0;
  }

  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::string arena_;
  std::size_t max_len_ = 0;
  std::size_t size_ = 0;
};

}  // namespace crossrank
