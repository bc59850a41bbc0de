#pragma once
// Byte-level BPE tokenizer (GPT-2 / Qwen2 / Qwen3 family), id-for-id equal to Hugging Face
// `tokenizers` 0.23 (and its SentencePiece-style variant without ByteLevel, BpeConfig::byte_level):
//   added-token split (raw text) -> normalizer (NFC for Qwen) -> added-token split
//   (normalized text) -> Split(regex, Isolated) -> ByteLevel (bytes -> printable chars) ->
//   BPE model (ignore_merges whole-word lookup, then merges by rank).
// The loaders (tokenizer.json, tiktoken ranks + skeleton, vocab.json + merges.txt) are
// declared in tokenizer.h and live in bpe_loader.cc.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/added_vocab.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace crossrank {

// One merge rule: tokens `left` and `right` (adjacent) become `result`.
struct BpeMerge {
  int32_t left, right, result;
};

// Everything a BPE tokenizer is built from.
struct BpeConfig {
  // The model vocabulary in its own spelling (byte-level: "Ġhello"); a later duplicate wins.
  std::vector<std::pair<std::string, int32_t>> vocab;
  std::vector<BpeMerge> merges;  // by rank (index 0 merges first); ids from `vocab`
  std::string unk_token;         // "" for none
  bool fuse_unk = false;
  bool byte_fallback = false;
  bool ignore_merges = false;  // a whole pre-tokenized word in the vocabulary is one token
  std::vector<NormalizerStep> normalizer;
  std::optional<SplitPattern> split;  // a Split pre-tokenizer before ByteLevel
  // false: SentencePiece-style BPE (Gemma, Llama): tokens are spelled in UTF-8 (' ' as
  // "▁" by the normalizer), a word starts as its characters, a character outside the
  // vocabulary becomes its <0xXX> byte tokens (byte_fallback) or <unk>; no pre-tokenizer.
  bool byte_level = true;
  bool add_prefix_space = false;      // ByteLevel: prepend ' ' to a piece not starting with one
  bool byte_level_regex = false;      // ByteLevel use_regex: the GPT-2 split inside each piece
  std::vector<AddedTokenSpec> added_tokens;           // ids follow HF add_tokens
  std::string cls_token, sep_token, pad_token;        // contents for special() ("" for none)
};

// Builds the tokenizer. Throws Error (prefixed with `what`) when the vocabulary is empty, an
// id is negative, or a merge names an id outside the vocabulary.
std::unique_ptr<Tokenizer> make_bpe_tokenizer(BpeConfig config, const std::string& what);

}  // namespace crossrank
