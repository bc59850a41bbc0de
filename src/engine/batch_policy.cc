#include "engine/batch_policy.h"

#include <algorithm>

#include "util/error.h"

namespace crossrank {

BatchPolicy::BatchPolicy(const Engine& engine, int max_seqs, int max_tokens)
    : engine_(engine), max_seqs_(static_cast<std::size_t>(std::max(1, max_seqs))), max_tokens_(max_tokens) {
  check(max_seqs > 0, "batch_size must be > 0");
  check(max_tokens >= 0, "max_batch_tokens must be >= 0");
}

bool BatchPolicy::fits(std::size_t seqs, std::size_t tokens, int max_len) const {
  if (seqs <= 1) return true;
  if (seqs > max_seqs_) return false;
  if (max_tokens_ > 0 && tokens > static_cast<std::size_t>(max_tokens_)) return false;
  return !memory_bound(seqs, tokens, max_len);
}

bool BatchPolicy::memory_bound(std::size_t seqs, std::size_t tokens, int max_len) const {
  return seqs > 1 && engine_.activation_bytes(static_cast<int>(tokens), max_len, static_cast<int>(seqs)) >
                         engine_.memory_budget();
}

bool BatchPolicy::shrink(std::size_t seqs) {
  if (seqs <= 1) return false;
  max_seqs_ = std::max<std::size_t>(1, seqs * 3 / 4);
  return true;
}

}  // namespace crossrank
