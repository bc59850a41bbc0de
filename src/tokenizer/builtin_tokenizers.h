#pragma once
// The tokenizers of the synthetic:* models, compiled into the binary (the test tokenizer
// files of tests/data, embedded at build time with the assembler's .incbin), so that a
// synthetic model runs from an installed binary with no source tree.
#include <string_view>

namespace crossrank {

// The tokenizer.json text of a built-in tokenizer: "xlmr-unigram" (an 8k XLM-R-style
// unigram, tests/data/tokenizers/xlmr-unigram) or "bert-wordpiece" (the ms-marco MiniLM
// WordPiece, tests/data/models/tiny-bert) or "qwen3-skeleton" (Qwen3's tokenizer.json
// without its vocabulary, tests/data/tokenizers/qwen-bpe; the ranks, qwen.tiktoken, are
// data) or "modernbert-bpe" (a 2k byte-level BPE in ModernBERT's tokenizer.json layout,
// tests/data/models/tiny-modernbert-bpe). Empty for any other name.
std::string_view builtin_tokenizer_json(std::string_view name);

}  // namespace crossrank
