#pragma once
// Random token-id pairs for backend tests (no tokenizer): [0, random ids..., 2] of the
// given lengths, token type ids 0 or 1 per pair where the model has two types, and their
// packed batch.
#include <random>
#include <vector>

#include "batch/packed_batch.h"
#include "model/config.h"

namespace crossrank::test {

inline std::vector<EncodedPair> random_pairs(const ModelConfig& c, const std::vector<int>& lens, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<EncodedPair> out;
  for (int n : lens) {
    EncodedPair p;
    p.ids.push_back(0);
    for (int i = 1; i < n - 1; ++i) p.ids.push_back(5 + static_cast<int>(rng() % (c.vocab_size - 10)));
    if (n > 1) p.ids.push_back(2);
    p.type_ids.assign(n, static_cast<int>(rng() % 2) * (c.type_vocab_size > 1));
    out.push_back(std::move(p));
  }
  return out;
}

inline PackedBatch pack(const std::vector<EncodedPair>& pairs, const ModelConfig& c) {
  std::vector<const EncodedPair*> p;
  for (const auto& e : pairs) p.push_back(&e);
  return pack_batch(p, c);
}

}  // namespace crossrank::test
