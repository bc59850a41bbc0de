#pragma once
// A packed variable-length batch: sequences laid end to end with no padding, as TEI's
// flash path and FlashAttention varlen do. Sequence s occupies tokens
// [cu_seqlens[s], cu_seqlens[s+1]).
#include <cstdint>
#include <span>
#include <vector>

#include "crossrank/crossrank.h"
#include "model/config.h"

namespace crossrank {

struct PackedBatch {
  std::vector<int32_t> input_ids;       // [total_tokens]
  std::vector<int32_t> token_type_ids;  // [total_tokens]
  std::vector<int32_t> position_ids;    // [total_tokens]
  std::vector<int32_t> cu_seqlens;      // [num_seqs + 1], cu_seqlens[0] == 0
  int32_t max_seqlen = 0;
  // Shared prefixes (decoder rerankers): empty, or per sequence the index of an earlier
  // sequence whose tokens logically precede this one's (its K/V are attended to first;
  // its positions continue from the parent's length), -1 for none. A parent is a prefix
  // only: it yields no score. scored() lists the sequences that do.
  std::vector<int32_t> parent;
  // Per packed pair, the sequence whose logit is its score (empty: pair i is sequence i).
  std::vector<int32_t> pair_seq;

  int32_t num_seqs() const { return static_cast<int32_t>(cu_seqlens.size()) - 1; }
  int32_t total_tokens() const { return cu_seqlens.empty() ? 0 : cu_seqlens.back(); }
  int32_t seqlen(int32_t s) const { return cu_seqlens[s + 1] - cu_seqlens[s]; }
  int32_t parent_of(int32_t s) const { return parent.empty() ? -1 : parent[s]; }
  bool has_prefixes() const { return !parent.empty(); }
};

// Packs encoded pairs in the given order, with the family's position ids. Where the family
// shares prefixes (causal decoders), pairs whose shared_prefix tokens are equal are packed
// as one prefix sequence plus one child sequence each (see parent, pair_seq).
// share_prefixes = false packs every pair whole (deterministic mode: a pair's arithmetic
// must not depend on whether another pair of its query is in the batch).
// Throws Error if a sequence is empty, longer than config.max_length, or holds an id
// outside the vocabulary / type vocabulary.
PackedBatch pack_batch(std::span<const EncodedPair* const> pairs, const ModelConfig& config,
                       bool share_prefixes = true);

}  // namespace crossrank
