#pragma once
// XLM-R style SentencePiece-Unigram tokenizer, id-for-id equal to Hugging Face `tokenizers`:
//   added-token split (raw text) -> normalizers (Precompiled charsmap, Replace, Strip)
//   -> added-token split (normalized text) -> pre-tokenizer ([WhitespaceSplit] Metaspace)
//   -> Unigram Viterbi (best path by score, unknown chars at min_score - 10, fused unks).
// Built either from a tokenizer.json or from a sentencepiece `.model` the way transformers'
// XLMRobertaConverter converts it (fairseq id offset, <mask> appended).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/charsmap.h"
#include "tokenizer/tokenizer.h"

namespace crossrank {

// Byte trie over the vocabulary pieces. Children of a node are contiguous, sorted by byte.
class PieceTrie {
 public:
  // Builds the trie; `pieces[i]` has id i. For duplicate strings the LAST id wins (as HF's
  // token->id map does). Empty pieces are never matched.
  void build(const std::vector<std::string>& pieces);

  // Calls fn(byte_length, id) for every piece that is a prefix of `s`, shortest first.
  template <class Fn>
  void for_each_prefix(std::string_view s, Fn&& fn) const {
    if (s.empty()) return;
    uint32_t node = root_[static_cast<unsigned char>(s[0])];
    size_t len = 1;
    while (node != 0) {
      if (piece_[node] >= 0) fn(len, piece_[node]);
      if (len == s.size()) return;
      node = child(node, static_cast<unsigned char>(s[len]));
      ++len;
    }
  }

  // Id of the piece equal to `s`, or -1.
  int32_t find(std::string_view s) const;

 private:
  uint32_t child(uint32_t node, unsigned char label) const;

  uint32_t root_[256] = {};            // child of the root per first byte; 0 = none
  std::vector<int32_t> piece_;         // piece id ending at a node, or -1 (node 0 = root)
  std::vector<uint32_t> first_child_;  // index of the node's first child
  std::vector<uint16_t> num_children_;
  std::vector<uint8_t> label_;         // byte on the edge into a node
};

// One `added_tokens` entry (HF AddedToken).
struct AddedTokenSpec {
  int32_t id = -1;
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
  bool special = true;
};

// One normalizer of the (flattened) normalizer sequence.
struct NormalizerStep {
  enum class Kind { kPrecompiled, kReplace, kStrip };
  Kind kind = Kind::kReplace;
  std::shared_ptr<const PrecompiledCharsmap> charsmap;  // kPrecompiled
  // kReplace: every leftmost non-overlapping match of `pattern` becomes `content`. With
  // min_repeat > 0 the pattern is the regex "<pattern>{min_repeat,}" (pattern = one char).
  std::string pattern;
  int min_repeat = 0;
  std::string content;
  bool strip_left = false;  // kStrip (Rust char::is_whitespace)
  bool strip_right = false;
};

// The pre-tokenizer: optional WhitespaceSplit, then optional Metaspace.
struct PreTokenizerSpec {
  enum class Prepend { kAlways, kFirst, kNever };
  bool whitespace_split = false;
  bool metaspace = false;
  std::string replacement = "\xE2\x96\x81";  // U+2581
  Prepend prepend = Prepend::kAlways;
  bool split = true;
};

// Everything a UnigramTokenizer is built from.
struct UnigramConfig {
  std::vector<std::string> pieces;  // model vocab, id = index
  std::vector<double> scores;       // same length as pieces
  std::optional<int32_t> unk_id;
  bool byte_fallback = false;
  std::vector<NormalizerStep> normalizers;
  PreTokenizerSpec pre_tokenizer;
  std::vector<AddedTokenSpec> added_tokens;
};

class UnigramTokenizer final : public Tokenizer {
 public:
  // Validates and indexes `config`; `what` names the source file in error messages.
  UnigramTokenizer(UnigramConfig config, const std::string& what);

  std::vector<int32_t> encode(std::string_view text) const override;
  const SpecialTokens& special() const override { return special_; }
  int32_t vocab_size() const override { return vocab_size_; }
  std::string id_to_token(int32_t id) const override;

  // Applies the normalizer sequence to `in` (no added-token handling); for tests.
  std::string normalize(std::string_view in) const;

 private:
  struct Scratch;
  // A piece of text: [begin, end) bytes, and the added token id it is (-1: plain text).
  struct Match {
    size_t begin, end;
    int32_t id;
  };
  // Leftmost-longest matcher over one set of added-token strings.
  struct AddedMatcher {
    std::vector<std::string> patterns;  // grouped by first byte, longest first
    std::vector<int32_t> token;         // index into cfg_.added_tokens per pattern
    std::vector<uint32_t> by_byte;      // 257 offsets into patterns per first byte
    bool empty() const { return patterns.empty(); }
  };

  AddedMatcher build_matcher(bool normalized_set) const;
  // HF AddedVocabulary::find_matches: splits `s` into plain text and added tokens.
  void split_added(const AddedMatcher& m, std::string_view s, std::vector<Match>& out) const;
  void normalize_into(std::string_view in, std::string& out, std::string& tmp) const;
  void pre_tokenize_and_encode(std::string_view normalized, bool at_text_start, Scratch& s,
                               std::vector<int32_t>& ids) const;
  void metaspace_and_encode(std::string_view piece, bool at_text_start, Scratch& s,
                            std::vector<int32_t>& ids) const;
  void encode_word(std::string_view word, Scratch& s, std::vector<int32_t>& ids) const;
  // Id(s) for a fused run of unknown pieces (vocab lookup, byte fallback, else unk).
  void emit_unknown(std::string_view text, std::vector<int32_t>& ids) const;
  int32_t find_token(std::string_view content) const;

  UnigramConfig cfg_;
  PieceTrie trie_;
  double unk_score_ = 0.0;
  int32_t vocab_size_ = 0;
  SpecialTokens special_;
  std::vector<int32_t> byte_ids_;  // byte_fallback: id of "<0xXX>" per byte, or -1
  AddedMatcher raw_matcher_;       // added tokens with normalized=false (match raw text)
  AddedMatcher norm_matcher_;      // normalized=true (match their normalized content)
};

}  // namespace crossrank
