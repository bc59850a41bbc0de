#pragma once
// XLM-R style SentencePiece-Unigram tokenizer, id-for-id equal to Hugging Face `tokenizers`:
//   added-token split (raw text) -> normalizer (Precompiled charsmap, Replace, Strip, ...)
//   -> added-token split (normalized text) -> pre-tokenizer ([WhitespaceSplit] Metaspace)
//   -> Unigram Viterbi (best path by score, unknown chars at min_score - 10, fused unks).
// Built either from a tokenizer.json (unigram_loader.cc, through tokenizer_json.h) or from a
// sentencepiece `.model` the way transformers' XLMRobertaConverter converts it (fairseq id
// offset, <mask> appended).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/added_vocab.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/piece_trie.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace crossrank {

// The Unigram pre-tokenizer: optional WhitespaceSplit, then optional Metaspace.
struct UnigramPreTokenizer {
  bool whitespace_split = false;
  bool metaspace = false;
  MetaspaceOptions options;  // when metaspace
};

// Everything a UnigramTokenizer is built from.
struct UnigramConfig {
  std::vector<std::string> pieces;  // model vocab, id = index
  std::vector<double> scores;       // same length as pieces
  std::optional<int32_t> unk_id;
  bool byte_fallback = false;
  std::vector<NormalizerStep> normalizers;
  UnigramPreTokenizer pre_tokenizer;
  std::vector<AddedTokenSpec> added_tokens;  // ids follow HF add_tokens (added_vocab.h)
  std::string cls_token = "<s>", sep_token = "</s>";  // contents for special()
};

class UnigramTokenizer final : public Tokenizer {
 public:
  // Validates and indexes `config`; `what` names the source file in error messages.
  UnigramTokenizer(UnigramConfig config, const std::string& what);

  std::vector<int32_t> encode(std::string_view text) const override;
  const SpecialTokens& special() const override { return special_; }
  int32_t vocab_size() const override { return vocab_size_; }
  std::string id_to_token(int32_t id) const override;
  int32_t token_to_id(std::string_view token) const override;

  // Applies the normalizer to `in` (no added-token handling); for tests. Throws Error when
  // `in` is not valid UTF-8.
  std::string normalize(std::string_view in) const;

 private:
  struct Scratch;
  void pre_tokenize_and_encode(std::string_view normalized, bool at_text_start, Scratch& s,
                               std::vector<int32_t>& ids) const;
  void metaspace_and_encode(std::string_view piece, bool at_text_start, Scratch& s,
                            std::vector<int32_t>& ids) const;
  void encode_word(std::string_view word, Scratch& s, std::vector<int32_t>& ids) const;
  // Id(s) for a fused run of unknown pieces (vocab lookup, byte fallback, else unk).
  void emit_unknown(std::string_view text, std::vector<int32_t>& ids) const;

  UnigramConfig cfg_;
  Normalizer normalizer_;
  AddedVocabulary added_;
  PieceTrie trie_;
  double unk_score_ = 0.0;
  int32_t vocab_size_ = 0;
  SpecialTokens special_;
  std::vector<int32_t> byte_ids_;  // byte_fallback: id of "<0xXX>" per byte, or -1
};

}  // namespace crossrank
