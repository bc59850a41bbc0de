#include "scheduler/score_cache.h"

#include <cstring>
#include <random>
#include <string>

namespace crossrank {

namespace {

inline std::uint64_t rotl(std::uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

// SipHash-2-4 with 128-bit output (Aumasson & Bernstein's reference, "siphash.c" with
// outlen 16): a keyed PRF, so colliding inputs cannot be crafted without the key.
CacheKey siphash128(const unsigned char* in, std::size_t len, std::uint64_t k0, std::uint64_t k1) {
  std::uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
  std::uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
  auto round = [&] {
    v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);
    v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;
    v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;
    v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);
  };
  v1 ^= 0xee;
  const std::size_t full = len - len % 8;
  for (std::size_t i = 0; i < full; i += 8) {
    std::uint64_t m;
    std::memcpy(&m, in + i, 8);  // little-endian hosts only (x86-64, aarch64)
    v3 ^= m;
    round(); round();
    v0 ^= m;
  }
  std::uint64_t b = static_cast<std::uint64_t>(len) << 56;
  for (std::size_t i = 0; i < len % 8; ++i) b |= static_cast<std::uint64_t>(in[full + i]) << (8 * i);
  v3 ^= b;
  round(); round();
  v0 ^= b;
  v2 ^= 0xee;
  round(); round(); round(); round();
  CacheKey k;
  k.lo = v0 ^ v1 ^ v2 ^ v3;
  v1 ^= 0xdd;
  round(); round(); round(); round();
  k.hi = v0 ^ v1 ^ v2 ^ v3;
  return k;
}

void append_field(std::string& buf, std::string_view s) {
  const std::uint64_t n = s.size();
  buf.append(reinterpret_cast<const char*>(&n), sizeof n);
  buf.append(s);
}

}  // namespace

ScoreCache::ScoreCache(std::size_t capacity_bytes) : capacity_(capacity_bytes) {
  std::random_device rd;
  seed1_ = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  seed2_ = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  const std::size_t per_shard = capacity_bytes / kEntryBytes / kShards;
  if (capacity_bytes > 0 && per_shard == 0) capacity_ = 0;  // too small to hold anything
  for (std::size_t i = 0; i < kShards; ++i) {
    shards_.push_back(std::make_unique<Shard>());
    shards_.back()->max_entries = per_shard;
  }
}

CacheKey ScoreCache::make_key(std::string_view settings, std::string_view query, std::string_view passage) const {
  thread_local std::string buf;
  buf.clear();
  append_field(buf, settings);
  append_field(buf, query);
  append_field(buf, passage);
  return siphash128(reinterpret_cast<const unsigned char*>(buf.data()), buf.size(), seed1_, seed2_);
}

bool ScoreCache::get(const CacheKey& key, CachedScore* out) {
  if (!enabled()) return false;
  Shard& s = shard_of(key);
  {
    std::lock_guard<std::mutex> lock(s.mu);
    auto it = s.map.find(key);
    if (it != s.map.end()) {
      s.lru.splice(s.lru.begin(), s.lru, it->second);
      *out = it->second->second;
      hits_.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
  }
  misses_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void ScoreCache::put(const CacheKey& key, const CachedScore& value) {
  if (!enabled()) return;
  Shard& s = shard_of(key);
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.map.find(key);
  if (it != s.map.end()) {
    it->second->second = value;
    s.lru.splice(s.lru.begin(), s.lru, it->second);
    return;
  }
  s.lru.emplace_front(key, value);
  s.map.emplace(key, s.lru.begin());
  while (s.lru.size() > s.max_entries) {
    s.map.erase(s.lru.back().first);
    s.lru.pop_back();
    evictions_.fetch_add(1, std::memory_order_relaxed);
  }
}

std::size_t ScoreCache::entries() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard<std::mutex> lock(s->mu);
    n += s->lru.size();
  }
  return n;
}

}  // namespace crossrank
