#pragma once
// BERT WordPiece tokenizer, id-for-id equal to Hugging Face `tokenizers` 0.23
// (BertNormalizer + BertPreTokenizer + WordPiece model + added-token splitting).
// The loaders load_wordpiece_tokenizer_json / load_wordpiece_vocab_txt are declared in
// tokenizer/tokenizer.h; this header exposes the building blocks for tests and reuse.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/added_vocab.h"
#include "tokenizer/bert_text.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/tokenizer.h"

namespace crossrank {

// Everything a WordPiece tokenizer is built from (what tokenizer.json describes).
struct WordPieceConfig {
  std::vector<std::pair<std::string, int32_t>> vocab;  // token -> id; a later duplicate wins
  std::string unk_token = "[UNK]";
  std::string continuing_subword_prefix = "##";
  int max_input_chars_per_word = 100;
  std::vector<NormalizerStep> normalizer;    // empty: no normalizer
  bool bert_pre_tokenizer = true;            // false: no pre-tokenizer
  std::vector<AddedTokenSpec> added_tokens;  // in file order
  std::string cls_token = "[CLS]", sep_token = "[SEP]";  // contents for special()
};

// Builds a tokenizer from `config`. Ids of added tokens follow HF add_tokens: the model
// vocab id if the content is in the vocab, else consecutive ids from vocab.size().
// Throws Error (prefixed with `what`) if the vocab is empty or lacks unk_token.
std::unique_ptr<Tokenizer> make_wordpiece_tokenizer(WordPieceConfig config, const std::string& what);

}  // namespace crossrank
