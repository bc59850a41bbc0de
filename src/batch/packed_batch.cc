#include "batch/packed_batch.h"

#include <algorithm>
#include <map>
#include <string>

#include "model/architecture.h"
#include "util/error.h"

namespace crossrank {

namespace {

// Appends tokens [b, e) of pair p as one sequence starting `start` tokens into its
// logical sequence; returns its index.
int32_t append_seq(PackedBatch& out, const EncodedPair& p, int b, int e, int start, int32_t parent,
                   const ModelConfig& c) {
  out.input_ids.insert(out.input_ids.end(), p.ids.begin() + b, p.ids.begin() + e);
  if (p.type_ids.empty()) out.token_type_ids.insert(out.token_type_ids.end(), static_cast<std::size_t>(e - b), 0);
  else out.token_type_ids.insert(out.token_type_ids.end(), p.type_ids.begin() + b, p.type_ids.begin() + e);
  c.arch->positions(p.ids.data() + b, e - b, start, c, out.position_ids);
  out.cu_seqlens.push_back(out.cu_seqlens.back() + (e - b));
  out.max_seqlen = std::max(out.max_seqlen, e - b);
  if (!out.parent.empty() || parent >= 0) {
    out.parent.resize(static_cast<std::size_t>(out.num_seqs()) - 1, -1);
    out.parent.push_back(parent);
  }
  return out.num_seqs() - 1;
}

}  // namespace

PackedBatch pack_batch(std::span<const EncodedPair* const> pairs, const ModelConfig& config, bool share_prefixes) {
  PackedBatch b;
  size_t total = 0;
  for (const auto* p : pairs) total += p->ids.size();
  b.input_ids.reserve(total);
  b.token_type_ids.reserve(total);
  b.position_ids.reserve(total);
  b.cu_seqlens.reserve(pairs.size() + 1);
  b.cu_seqlens.push_back(0);
  const int types = config.arch->type_vocab(config);
  for (size_t s = 0; s < pairs.size(); ++s) {
    const EncodedPair& p = *pairs[s];
    const int n = static_cast<int>(p.ids.size());
    check(n > 0, "pair " + std::to_string(s) + ": empty token sequence");
    check(n <= config.max_length, "pair " + std::to_string(s) + ": " + std::to_string(n) +
                                      " tokens exceed the model limit of " + std::to_string(config.max_length));
    check(p.type_ids.empty() || p.type_ids.size() == p.ids.size(),
          "pair " + std::to_string(s) + ": type_ids length differs from ids length");
    check(p.shared_prefix >= 0 && p.shared_prefix < n,
          "pair " + std::to_string(s) + ": shared_prefix outside [0, " + std::to_string(n) + ")");
    for (int i = 0; i < n; ++i) {
      check(p.ids[i] >= 0 && p.ids[i] < config.vocab_size,
            "pair " + std::to_string(s) + ": token id " + std::to_string(p.ids[i]) + " outside vocabulary");
      const int32_t tt = p.type_ids.empty() ? 0 : p.type_ids[i];
      check(tt >= 0 && tt < types,
            "pair " + std::to_string(s) + ": token type " + std::to_string(tt) + " outside type vocabulary");
    }
  }
  // Groups of >= 2 pairs with the same shared prefix (causal families only).
  std::map<std::vector<int32_t>, std::vector<size_t>> groups;
  if (share_prefixes && config.arch->shares_prefix())
    for (size_t s = 0; s < pairs.size(); ++s)
      if (pairs[s]->shared_prefix > 0)
        groups[std::vector<int32_t>(pairs[s]->ids.begin(), pairs[s]->ids.begin() + pairs[s]->shared_prefix)].push_back(s);
  std::vector<int32_t> parent_of_pair(pairs.size(), -1);
  bool shared = false;
  for (auto& [prefix, members] : groups) {
    if (members.size() < 2) continue;
    const EncodedPair& p0 = *pairs[members.front()];
    parent_of_pair[members.front()] = append_seq(b, p0, 0, p0.shared_prefix, 0, -1, config);
    for (size_t m : members) parent_of_pair[m] = parent_of_pair[members.front()];
    shared = true;
  }
  if (shared) b.pair_seq.resize(pairs.size());
  for (size_t s = 0; s < pairs.size(); ++s) {
    const EncodedPair& p = *pairs[s];
    const int n = static_cast<int>(p.ids.size());
    const int32_t par = parent_of_pair[s];
    const int from = par >= 0 ? p.shared_prefix : 0;
    const int32_t seq = append_seq(b, p, from, n, from, par, config);
    if (shared) b.pair_seq[s] = seq;
  }
  return b;
}

}  // namespace crossrank
