#pragma once
// Pair encoding with the model's template and the two truncation modes, exactly as the
// Python libraries do it:
//   XLM-R: <s> q </s></s> d </s>, all token types 0.
//   BERT:  [CLS] q [SEP] d [SEP], token type 0 up to the first [SEP], 1 after.
#include <cstdint>
#include <vector>

#include "crossrank/crossrank.h"
#include "model/config.h"
#include "tokenizer/tokenizer.h"

namespace crossrank {

// Number of special tokens the pair template adds (4 for XLM-R, 3 for BERT).
int pair_special_tokens(Arch arch);

// Truncates q/d token ids (no specials) so the pair fits max_length:
//  kLongestFirst: HF tokenizers' LongestFirst over the pair (budget max_length - specials).
//  kFlagEmbedding: q cut to max_length*3/4, d cut to max_length, then only d is cut to fit
//                  (transformers prepare_for_model 'only_second'; if d is too short to
//                  absorb the excess, nothing is cut, as transformers does).
//  side kLeft removes tokens from the start of a text instead of its end (TEI
//  truncation_direction "left").
void truncate_pair(std::vector<int32_t>& q, std::vector<int32_t>& d, int max_length, Truncation mode, Arch arch,
                   TruncationSide side = TruncationSide::kRight);

// Builds ids/type_ids of the pair template from truncated q/d.
EncodedPair build_pair(const std::vector<int32_t>& q, const std::vector<int32_t>& d, Arch arch,
                       const SpecialTokens& sp);

// Tokenize + truncate + template, per opts (max_length, truncation, truncation_side,
// max_doc_tokens, truncate). Throws Error for empty or invalid-UTF-8 texts, for a
// max_length outside [specials + 2, config.max_length()], and Error(kTooLong) when
// opts.truncate is false and the pair exceeds max_length.
EncodedPair encode_pair(const Tokenizer& tok, const ModelConfig& config, std::string_view query,
                        std::string_view document, const ScoreOptions& opts);

// Long-document chunking: the query is cut to max_length*3/4 tokens, the passage split into
// windows of (max_length - specials - |q|) tokens overlapping by `overlap` tokens (at most
// max_chunks windows); one EncodedPair per window. A passage that fits gives one window,
// identical to encode_pair with kFlagEmbedding truncation.
std::vector<EncodedPair> encode_pair_chunks(const Tokenizer& tok, const ModelConfig& config, std::string_view query,
                                            std::string_view document, int max_length, int overlap, int max_chunks);

}  // namespace crossrank
