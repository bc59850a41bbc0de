#pragma once
// The one rule that sizes forward passes, shared by Engine::score (offline) and the
// server's Batcher (online): a pass holds at most max_seqs sequences and max_tokens
// tokens, and its activation estimate (Engine::activation_bytes) stays within the
// engine's memory budget. After an allocation failure the sequence cap shrinks to 3/4 of
// the failed pass (the seeds' OOM back-off), for the rest of the policy's life.
#include <cstddef>

#include "crossrank/crossrank.h"

namespace crossrank {

class BatchPolicy {
 public:
  // max_seqs: sequences per pass (>= 1); max_tokens: tokens per pass, 0 = no cap.
  BatchPolicy(const Engine& engine, int max_seqs, int max_tokens);

  // True when a pass of `seqs` sequences holding `tokens` tokens, the longest `max_len`,
  // may run. A single sequence always may (it is tried whatever its size).
  bool fits(std::size_t seqs, std::size_t tokens, int max_len) const;
  // True when the memory budget (not a count or token cap) is what stops the pass from
  // growing: callers log this once.
  bool memory_bound(std::size_t seqs, std::size_t tokens, int max_len) const;
  // Records an allocation failure on a pass of `seqs` sequences: the cap becomes
  // max(1, seqs * 3 / 4). Returns false when seqs was 1 (nothing smaller to try).
  bool shrink(std::size_t seqs);
  std::size_t max_seqs() const { return max_seqs_; }
  int max_tokens() const { return max_tokens_; }

 private:
  const Engine& engine_;
  std::size_t max_seqs_;
  int max_tokens_;
};

}  // namespace crossrank
