#pragma once
// Two-text templates of cross-encoders and the truncation rules the Python libraries
// apply to them, as pure functions over token ids (the families in src/model/ choose the
// template; nothing here knows a model family):
//   XLM-R: <s> q </s></s> d </s>, all token types 0.
//   BERT:  [CLS] q [SEP] d [SEP], token type 0 up to the first [SEP], 1 after.
#include <cstdint>
#include <vector>

#include "crossrank/crossrank.h"

namespace crossrank {

// cls q sep [sep] d sep: the ids, whether the separator is doubled between the texts,
// and whether the second text (and its closing sep) gets token type 1.
struct PairTemplate {
  int32_t cls = -1, sep = -1;
  bool double_sep = false;
  bool second_type_one = false;
  // Tokens the template adds around the two texts (3 or 4).
  int specials() const { return double_sep ? 4 : 3; }
};

// Keeps n tokens of v, dropping from the end (kRight) or the start (kLeft).
void keep_tokens(std::vector<int32_t>& v, std::size_t n, TruncationSide side);

// Truncates q/d token ids (no specials) so the pair fits max_length with `specials`
// template tokens:
//  kLongestFirst: HF tokenizers' LongestFirst over the pair (budget max_length - specials).
//  kFlagEmbedding: q cut to max_length*3/4, d cut to max_length, then only d is cut to fit
//                  (transformers prepare_for_model 'only_second'; if d is too short to
//                  absorb the excess, nothing is cut, as transformers does).
//  side kLeft removes tokens from the start of a text instead of its end (TEI
//  truncation_direction "left").
void truncate_pair(std::vector<int32_t>& q, std::vector<int32_t>& d, int max_length, Truncation mode, int specials,
                   TruncationSide side = TruncationSide::kRight);

// Builds ids/type_ids of the template from truncated q/d.
EncodedPair build_pair(const std::vector<int32_t>& q, const std::vector<int32_t>& d, const PairTemplate& t);

// Applies o's truncation rules (max_doc_tokens, truncate, truncation, side) to q/d for a
// template of `specials` tokens. Throws Error(kTooLong) when o.truncate is false and the
// pair does not fit.
void truncate_for(std::vector<int32_t>& q, std::vector<int32_t>& d, const ScoreOptions& o, int specials);

// Long-document windows of d: the query cut to max_length*3/4, the passage split into
// windows of (max_length - specials - |q|) tokens overlapping by o.chunk_overlap (at most
// o.max_chunks); calls emit(q, window) for each. A passage that fits gives one window.
template <class Emit>
void chunk_windows(std::vector<int32_t> q, const std::vector<int32_t>& d, const ScoreOptions& o, int specials,
                   Emit&& emit);

}  // namespace crossrank

#include "batch/encode_inl.h"
