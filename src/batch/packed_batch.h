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

  int32_t num_seqs() const { return static_cast<int32_t>(cu_seqlens.size()) - 1; }
  int32_t total_tokens() const { return cu_seqlens.empty() ? 0 : cu_seqlens.back(); }
  int32_t seqlen(int32_t s) const { return cu_seqlens[s + 1] - cu_seqlens[s]; }
};

// Packs encoded pairs in the given order; position ids start at config.position_offset()
// (for XLM-R a literal <pad> id keeps position padding_idx and is skipped, as in HF).
// Throws Error if a sequence is empty, longer than config.max_length(), or holds an id
// outside the vocabulary / type vocabulary.
PackedBatch pack_batch(std::span<const EncodedPair* const> pairs, const ModelConfig& config);

}  // namespace crossrank
