#pragma once
// BERT WordPiece tokenizer, id-for-id equal to Hugging Face `tokenizers` 0.23
// (BertNormalizer + BertPreTokenizer + WordPiece model + added-token splitting).
// The loaders load_wordpiece_tokenizer_json / load_wordpiece_vocab_txt are declared in
// tokenizer/tokenizer.h; this header exposes the building blocks for tests and reuse.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace crossrank {

// HF normalizers/bert.rs options. strip_accents unset means "same as lowercase".
struct BertNormalizerOptions {
  bool clean_text = true;            // drop NUL, U+FFFD and Cc/Cf/Co; whitespace -> ' '
  bool handle_chinese_chars = true;  // surround CJK ideographs with spaces
  std::optional<bool> strip_accents;  // NFD, then drop nonspacing marks (Mn)
  bool lowercase = true;             // Rust char::to_lowercase per code point
};

// Appends BertNormalizer(opts) applied to `text` (valid UTF-8) to `out`. Linear time.
void bert_normalize(std::string_view text, const BertNormalizerOptions& opts, std::string& out);

// HF BertPreTokenizer: splits `text` (valid UTF-8) on White_Space (removed) and isolates
// each punctuation code point (ASCII punctuation or Unicode P*). Appends the non-empty
// pieces, as views into `text`, to `out`.
void bert_pre_tokenize(std::string_view text, std::vector<std::string_view>& out);

// HF AddedToken (tokenizer.json "added_tokens" entry).
struct AddedTokenSpec {
  std::string content;
  bool single_word = false;  // match only when not adjacent to word characters (\w)
  bool lstrip = false;       // swallow whitespace on the left of a match
  bool rstrip = false;       // swallow whitespace on the right of a match
  bool normalized = false;   // match against the normalized text (else the raw input)
  bool special = true;
};

// Everything a WordPiece tokenizer is built from (what tokenizer.json describes).
struct WordPieceConfig {
  std::vector<std::pair<std::string, int32_t>> vocab;  // token -> id; a later duplicate wins
  std::string unk_token = "[UNK]";
  std::string continuing_subword_prefix = "##";
  int max_input_chars_per_word = 100;
  std::optional<BertNormalizerOptions> normalizer;  // unset: no normalizer
  bool bert_pre_tokenizer = true;                   // false: no pre-tokenizer
  std::vector<AddedTokenSpec> added_tokens;         // in file order
};

// Builds a tokenizer from `config`. Ids of added tokens follow HF add_tokens: the model
// vocab id if the content is in the vocab, else consecutive ids from vocab.size().
// Throws Error (prefixed with `what`) if the vocab is empty or lacks unk_token.
std::unique_ptr<Tokenizer> make_wordpiece_tokenizer(WordPieceConfig config, const std::string& what);

}  // namespace crossrank
