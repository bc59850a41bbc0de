#pragma once
// Bounded, thread-safe LRU cache of pair scores for the server: key = a 128-bit keyed
// hash of (scoring settings, query, passage), value = the raw fp32 logit and the pair's
// token count. Sharded (one mutex per shard) so concurrent requests rarely contend.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace crossrank {

// 128-bit cache key: SipHash-128 of the serialized fields under a random per-process key,
// so collisions are negligible and cannot be crafted by clients.
struct CacheKey {
  std::uint64_t hi = 0, lo = 0;
  bool operator==(const CacheKey& o) const { return hi == o.hi && lo == o.lo; }
};

struct CachedScore {
  float logit = 0.0f;
  std::int32_t tokens = 0;  // tokens of the encoded pair (for usage accounting)
};

class ScoreCache {
 public:
  // capacity_bytes = 0 disables the cache (get() always misses, put() does nothing).
  explicit ScoreCache(std::size_t capacity_bytes);

  // Key of one pair; `settings` must capture everything else that changes the logit
  // (model, truncation mode, max_length, per-request caps).
  CacheKey make_key(std::string_view settings, std::string_view query, std::string_view passage) const;

  // Looks `key` up and marks it most recently used; counts a hit or a miss.
  bool get(const CacheKey& key, CachedScore* out);
  // Inserts or refreshes `key`, evicting least recently used entries over capacity.
  void put(const CacheKey& key, const CachedScore& value);

  bool enabled() const { return capacity_ > 0; }
  std::size_t capacity_bytes() const { return capacity_; }
  std::size_t entries() const;
  std::size_t bytes() const { return entries() * kEntryBytes; }
  std::uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  std::uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }
  std::uint64_t evictions() const { return evictions_.load(std::memory_order_relaxed); }

  // Memory per entry used for the budget: list node (56 B with malloc overhead) + hash
  // node (56 B) + bucket pointer, rounded up.
  static constexpr std::size_t kEntryBytes = 128;

 private:
  struct KeyHash {
    std::size_t operator()(const CacheKey& k) const { return static_cast<std::size_t>(k.lo); }
  };
  struct Shard {
    std::mutex mu;
    std::list<std::pair<CacheKey, CachedScore>> lru;  // front = most recent
    std::unordered_map<CacheKey, std::list<std::pair<CacheKey, CachedScore>>::iterator, KeyHash> map;
    std::size_t max_entries = 0;
  };
  static constexpr std::size_t kShards = 16;

  Shard& shard_of(const CacheKey& k) { return *shards_[k.hi % kShards]; }

  std::size_t capacity_;
  std::uint64_t seed1_, seed2_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<std::uint64_t> hits_{0}, misses_{0}, evictions_{0};
};

}  // namespace crossrank
