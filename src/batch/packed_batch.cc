#include "batch/packed_batch.h"

#include <algorithm>
#include <string>

#include "util/error.h"

namespace crossrank {

PackedBatch pack_batch(std::span<const EncodedPair* const> pairs, const ModelConfig& config) {
  PackedBatch b;
  size_t total = 0;
  for (const auto* p : pairs) total += p->ids.size();
  b.input_ids.reserve(total);
  b.token_type_ids.reserve(total);
  b.position_ids.reserve(total);
  b.cu_seqlens.reserve(pairs.size() + 1);
  b.cu_seqlens.push_back(0);
  const int off = config.position_offset();
  // (XLM-)RoBERTa derives positions from the ids, as HF create_position_ids_from_input_ids:
  // a <pad> id anywhere keeps position padding_idx and is not counted by later tokens.
  const bool roberta_positions = config.arch == Arch::kXlmRoberta;
  for (size_t s = 0; s < pairs.size(); ++s) {
    const EncodedPair& p = *pairs[s];
    const int n = static_cast<int>(p.ids.size());
    check(n > 0, "pair " + std::to_string(s) + ": empty token sequence");
    check(n <= config.max_length(), "pair " + std::to_string(s) + ": " + std::to_string(n) +
                                        " tokens exceed the model limit of " + std::to_string(config.max_length()));
    check(p.type_ids.empty() || p.type_ids.size() == p.ids.size(),
          "pair " + std::to_string(s) + ": type_ids length differs from ids length");
    int counted = 0;
    for (int i = 0; i < n; ++i) {
      const int32_t id = p.ids[i];
      const int32_t tt = p.type_ids.empty() ? 0 : p.type_ids[i];
      check(id >= 0 && id < config.vocab_size,
            "pair " + std::to_string(s) + ": token id " + std::to_string(id) + " outside vocabulary");
      check(tt >= 0 && tt < config.type_vocab_size,
            "pair " + std::to_string(s) + ": token type " + std::to_string(tt) + " outside type vocabulary");
      b.input_ids.push_back(id);
      b.token_type_ids.push_back(tt);
      if (roberta_positions)
        b.position_ids.push_back(id == config.pad_token_id ? config.pad_token_id : off + counted++);
      else
        b.position_ids.push_back(off + i);
    }
    b.cu_seqlens.push_back(b.cu_seqlens.back() + n);
    b.max_seqlen = std::max(b.max_seqlen, n);
  }
  return b;
}

}  // namespace crossrank
