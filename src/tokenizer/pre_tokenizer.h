#pragma once
// Pre-tokenizer specifications shared by the tokenizer.json reader and the models, and the
// byte-level BPE pre-tokenization pieces:
//   - split_words: the GPT-2 / Qwen2 split regexes of HF tokenizers (Oniguruma semantics),
//     implemented as a hand-written scanner (no regex library);
//   - the ByteLevel byte <-> printable-character table (GPT-2's bytes_to_unicode).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace crossrank {

// The split regexes crossrank implements (a Split pre-tokenizer with another regex is
// refused when the tokenizer is loaded).
enum class SplitPattern {
  // Qwen2/Qwen3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|
  //              ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  kQwen2,
  // The same with \p{N}{1,3} (transformers' TikTokenConverter default, Llama 3).
  kQwen2Digits3,
  // GPT-2 (ByteLevel use_regex=true): 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+|
  //                                   ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  kGpt2,
};

// The SplitPattern whose HF regex string is `regex` exactly; false when it is none of them.
bool split_pattern_from_regex(std::string_view regex, SplitPattern& out);

// A [begin, end) byte range of a split.
struct WordSpan {
  uint32_t begin, end;
};

// HF Split(pattern, behavior=Isolated) on valid UTF-8 `text` (< 4 GiB): appends the matches,
// which cover the whole text, to `out`. Linear time.
void split_words(std::string_view text, SplitPattern pattern, std::vector<WordSpan>& out);

// The regex character class of a code point as HF's Oniguruma sees it (Unicode 16 general
// categories: utf8proc's tables plus the letters/digits added since).
enum class RegexClass : uint8_t { kLetter, kNumber, kSpace, kOther };
RegexClass regex_class(char32_t cp);

// ByteLevel: the printable code point standing for byte b (GPT-2 bytes_to_unicode).
char32_t byte_to_char(uint8_t b);
// ByteLevel inverse: the byte a code point stands for, or -1 when it is not in the alphabet.
int char_to_byte(char32_t cp);
// Decodes a byte-level spelling ("Ġhello") to raw bytes (" hello"); false when a character is
// not in the byte-level alphabet. Precondition: `spelling` is valid UTF-8.
bool byte_level_decode(std::string_view spelling, std::string& bytes);
// Encodes raw bytes to their byte-level spelling.
std::string byte_level_encode(std::string_view bytes);

// Metaspace pre-tokenizer options (HF pre_tokenizers/metaspace.rs).
struct MetaspaceOptions {
  enum class Prepend { kAlways, kFirst, kNever };
  std::string replacement = "\xE2\x96\x81";  // U+2581
  Prepend prepend = Prepend::kAlways;
  bool split = true;
};

// One pre-tokenizer of a (flattened) HF pre_tokenizer Sequence, as tokenizer.json states it.
// Which combinations a model accepts is the model's business.
struct PreTokenizerStep {
  enum class Kind { kWhitespaceSplit, kMetaspace, kBert, kSplit, kByteLevel };
  Kind kind = Kind::kWhitespaceSplit;
  MetaspaceOptions metaspace;                  // kMetaspace
  SplitPattern pattern = SplitPattern::kQwen2;  // kSplit (behavior Isolated, invert false)
  bool add_prefix_space = true;                // kByteLevel
  bool use_regex = true;                       // kByteLevel (the kGpt2 split)
};

}  // namespace crossrank
