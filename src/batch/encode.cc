#include "batch/encode.h"

#include <algorithm>
#include <string>

#include "util/error.h"

namespace crossrank {

void keep_tokens(std::vector<int32_t>& v, std::size_t n, TruncationSide side) {
  if (v.size() <= n) return;
  if (side == TruncationSide::kLeft) v.erase(v.begin(), v.end() - static_cast<long>(n));
  else v.resize(n);
}

void truncate_pair(std::vector<int32_t>& q, std::vector<int32_t>& d, int max_length, Truncation mode, int specials,
                   TruncationSide side) {
  if (mode == Truncation::kFlagEmbedding) {
    const std::size_t q_cap = static_cast<std::size_t>(max_length) * 3 / 4;
    keep_tokens(q, q_cap, side);
    keep_tokens(d, static_cast<std::size_t>(max_length), side);
    const long total = static_cast<long>(q.size() + d.size()) + specials;
    if (total > max_length) {
      const long remove = total - max_length;
      if (static_cast<long>(d.size()) > remove) keep_tokens(d, d.size() - remove, side);
    }
    return;
  }
  // LongestFirst, as tokenizers' truncate_encodings: with n1 <= n2, keep n1 and give the
  // rest to n2; if both exceed half the budget, split it (the longer one gets the odd one).
  const std::size_t budget = static_cast<std::size_t>(std::max(0, max_length - specials));
  if (q.size() + d.size() <= budget) return;
  std::size_t n1 = q.size(), n2 = d.size();
  const bool swap = n1 > n2;
  if (swap) std::swap(n1, n2);
  if (n1 > budget) n2 = n1;
  else n2 = std::max(n1, budget - n1);
  if (n1 + n2 > budget) {
    n1 = budget / 2;
    n2 = n1 + budget % 2;
  }
  if (swap) std::swap(n1, n2);
  keep_tokens(q, n1, side);
  keep_tokens(d, n2, side);
}

EncodedPair build_pair(const std::vector<int32_t>& q, const std::vector<int32_t>& d, const PairTemplate& t) {
  EncodedPair e;
  e.ids.reserve(q.size() + d.size() + 4);
  e.ids.push_back(t.cls);
  e.ids.insert(e.ids.end(), q.begin(), q.end());
  e.ids.push_back(t.sep);
  if (t.double_sep) e.ids.push_back(t.sep);
  const std::size_t first = e.ids.size();
  e.ids.insert(e.ids.end(), d.begin(), d.end());
  e.ids.push_back(t.sep);
  e.type_ids.assign(e.ids.size(), 0);
  if (t.second_type_one)
    for (std::size_t i = first; i < e.type_ids.size(); ++i) e.type_ids[i] = 1;
  return e;
}

void truncate_for(std::vector<int32_t>& q, std::vector<int32_t>& d, const ScoreOptions& o, int specials) {
  check(o.max_doc_tokens >= 0, "max_doc_tokens must be >= 0");
  if (o.max_doc_tokens > 0) keep_tokens(d, static_cast<std::size_t>(o.max_doc_tokens), o.truncation_side);
  if (!o.truncate) {
    const std::size_t n = q.size() + d.size() + static_cast<std::size_t>(specials);
    if (n > static_cast<std::size_t>(o.max_length))
      throw Error(ErrorCode::kTooLong, "the pair has " + std::to_string(n) + " tokens, more than max_length " +
                                           std::to_string(o.max_length) + ", and truncation is off");
    return;
  }
  truncate_pair(q, d, o.max_length, o.truncation, specials, o.truncation_side);
}

}  // namespace crossrank
