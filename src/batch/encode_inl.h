#pragma once
// Template body of chunk_windows (encode.h).
#include <algorithm>
#include <string>

#include "util/error.h"

namespace crossrank {

template <class Emit>
void chunk_windows(std::vector<int32_t> q, const std::vector<int32_t>& d, const ScoreOptions& o, int specials,
                   Emit&& emit) {
  check(o.max_chunks > 0, "max_chunks must be > 0");
  const std::size_t q_cap = static_cast<std::size_t>(o.max_length) * 3 / 4;
  if (q.size() > q_cap) q.resize(q_cap);
  const int window = o.max_length - specials - static_cast<int>(q.size());
  check(window >= 1, "max_length too small for chunking");
  // Negative: a quarter of the window, at most 64 (the server's choice, which must fit
  // whatever the prompt takes). The overlap matters only when there are several windows.
  const int overlap = o.chunk_overlap < 0 ? std::min(64, window / 4) : o.chunk_overlap;
  check(d.size() <= static_cast<std::size_t>(window) || overlap < window,
        "chunk_overlap " + std::to_string(overlap) + " must be in [0, " + std::to_string(window) +
            ") for this query and max_length");
  const std::size_t stride = static_cast<std::size_t>(std::max(1, window - overlap));
  int count = 0;
  for (std::size_t start = 0;; start += stride) {
    const std::size_t end = std::min(d.size(), start + static_cast<std::size_t>(window));
    std::vector<int32_t> part(d.begin() + static_cast<long>(std::min(start, d.size())),
                              d.begin() + static_cast<long>(end));
    emit(q, part);
    if (end >= d.size() || ++count >= o.max_chunks) break;
  }
}

}  // namespace crossrank
