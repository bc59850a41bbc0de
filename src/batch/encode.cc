#include "batch/encode.h"

#include <algorithm>
#include <string>

#include "util/error.h"

namespace crossrank {

int pair_special_tokens(Arch arch) { return arch == Arch::kXlmRoberta ? 4 : 3; }

namespace {
// Keeps n tokens of v, dropping from the end (kRight) or the start (kLeft).
void keep(std::vector<int32_t>& v, size_t n, TruncationSide side) {
  if (v.size() <= n) return;
  if (side == TruncationSide::kLeft) v.erase(v.begin(), v.end() - static_cast<long>(n));
  else v.resize(n);
}
}  // namespace

void truncate_pair(std::vector<int32_t>& q, std::vector<int32_t>& d, int max_length, Truncation mode, Arch arch,
                   TruncationSide side) {
  const int specials = pair_special_tokens(arch);
  if (mode == Truncation::kFlagEmbedding) {
    const size_t q_cap = static_cast<size_t>(max_length) * 3 / 4;
    keep(q, q_cap, side);
    keep(d, static_cast<size_t>(max_length), side);
    const long total = static_cast<long>(q.size() + d.size()) + specials;
    if (total > max_length) {
      const long remove = total - max_length;
      if (static_cast<long>(d.size()) > remove) keep(d, d.size() - remove, side);
    }
    return;
  }
  // LongestFirst, as tokenizers' truncate_encodings: with n1 <= n2, keep n1 and give the
  // rest to n2; if both exceed half the budget, split it (the longer one gets the odd one).
  const size_t budget = static_cast<size_t>(std::max(0, max_length - specials));
  if (q.size() + d.size() <= budget) return;
  size_t n1 = q.size(), n2 = d.size();
  const bool swap = n1 > n2;
  if (swap) std::swap(n1, n2);
  if (n1 > budget) n2 = n1;
  else n2 = std::max(n1, budget - n1);
  if (n1 + n2 > budget) {
    n1 = budget / 2;
    n2 = n1 + budget % 2;
  }
  if (swap) std::swap(n1, n2);
  keep(q, n1, side);
  keep(d, n2, side);
}

EncodedPair build_pair(const std::vector<int32_t>& q, const std::vector<int32_t>& d, Arch arch,
                       const SpecialTokens& sp) {
  EncodedPair e;
  e.ids.reserve(q.size() + d.size() + 4);
  e.ids.push_back(sp.cls);
  e.ids.insert(e.ids.end(), q.begin(), q.end());
  e.ids.push_back(sp.sep);
  if (arch == Arch::kXlmRoberta) e.ids.push_back(sp.sep);
  const size_t first = e.ids.size();
  e.ids.insert(e.ids.end(), d.begin(), d.end());
  e.ids.push_back(sp.sep);
  e.type_ids.assign(e.ids.size(), 0);
  if (arch == Arch::kBert)
    for (size_t i = first; i < e.type_ids.size(); ++i) e.type_ids[i] = 1;
  return e;
}

namespace {

// Validates options and texts shared by both encoders; returns (q, d) token ids.
std::pair<std::vector<int32_t>, std::vector<int32_t>> tokenize_pair(const Tokenizer& tok, const ModelConfig& config,
                                                                    std::string_view query, std::string_view document,
                                                                    int max_length) {
  const int specials = pair_special_tokens(config.arch);
  check(max_length >= specials + 2 && max_length <= config.max_length(),
        "max_length " + std::to_string(max_length) + " outside [" + std::to_string(specials + 2) + ", " +
            std::to_string(config.max_length()) + "] for this model");
  check(!query.empty(), "query is empty");
  check(!document.empty(), "document is empty");
  check_utf8(query, "query");
  check_utf8(document, "document");
  return {tok.encode(query), tok.encode(document)};
}

}  // namespace

std::vector<EncodedPair> encode_pair_chunks(const Tokenizer& tok, const ModelConfig& config, std::string_view query,
                                            std::string_view document, int max_length, int overlap, int max_chunks) {
  auto [q, d] = tokenize_pair(tok, config, query, document, max_length);
  check(max_chunks > 0, "max_chunks must be > 0");
  const size_t q_cap = static_cast<size_t>(max_length) * 3 / 4;
  if (q.size() > q_cap) q.resize(q_cap);
  const int window = max_length - pair_special_tokens(config.arch) - static_cast<int>(q.size());
  check(window >= 1, "max_length too small for chunking");
  check(overlap >= 0 && overlap < window, "chunk_overlap " + std::to_string(overlap) + " must be in [0, " +
                                              std::to_string(window) + ") for this query and max_length");
  std::vector<EncodedPair> out;
  const size_t stride = static_cast<size_t>(window - overlap);
  for (size_t start = 0;; start += stride) {
    const size_t end = std::min(d.size(), start + window);
    std::vector<int32_t> part(d.begin() + std::min(start, d.size()), d.begin() + end);
    out.push_back(build_pair(q, part, config.arch, tok.special()));
    if (end >= d.size() || static_cast<int>(out.size()) >= max_chunks) break;
  }
  return out;
}

EncodedPair encode_pair(const Tokenizer& tok, const ModelConfig& config, std::string_view query,
                        std::string_view document, const ScoreOptions& opts) {
  auto [q, d] = tokenize_pair(tok, config, query, document, opts.max_length);
  check(opts.max_doc_tokens >= 0, "max_doc_tokens must be >= 0");
  if (opts.max_doc_tokens > 0) keep(d, static_cast<size_t>(opts.max_doc_tokens), opts.truncation_side);
  const int specials = pair_special_tokens(config.arch);
  if (!opts.truncate) {
    const size_t n = q.size() + d.size() + static_cast<size_t>(specials);
    if (n > static_cast<size_t>(opts.max_length))
      throw Error(ErrorCode::kTooLong, "the pair has " + std::to_string(n) + " tokens, more than max_length " +
                                           std::to_string(opts.max_length) + ", and truncation is off");
  } else {
    truncate_pair(q, d, opts.max_length, opts.truncation, config.arch, opts.truncation_side);
  }
  return build_pair(q, d, config.arch, tok.special());
}

}  // namespace crossrank
