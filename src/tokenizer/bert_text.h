#pragma once
// BERT text processing as Hugging Face `tokenizers` 0.23 does it: the BertNormalizer
// (normalizers/bert.rs) and the BertPreTokenizer (pre_tokenizers/bert.rs).
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/unicode.h"

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

namespace bert_detail {

// Pre-tokenizer class of a code point: 0 word character, 1 whitespace, 2 punctuation.
enum : uint8_t { kWord = 0, kSpace = 1, kPunct = 2 };

// The class of every ASCII code point (a compile-time table).
constexpr std::array<uint8_t, 128> make_ascii_class() {
  std::array<uint8_t, 128> t{};
  for (unsigned c = 0; c < 128; ++c) {
    if (c == ' ' || (c >= 0x09 && c <= 0x0D)) t[c] = kSpace;
    else if ((c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
             (c >= 0x7B && c <= 0x7E))
      t[c] = kPunct;
    else t[c] = kWord;
  }
  return t;
}
constexpr std::array<uint8_t, 128> kAsciiClass = make_ascii_class();

}  // namespace bert_detail

// Calls f(piece) for every BertPreTokenizer piece of valid UTF-8 `s` (see bert_pre_tokenize).
template <class F>
void for_each_bert_piece(std::string_view s, F&& f) {
  using namespace bert_detail;
  std::size_t start = 0, i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    const std::size_t at = i;
    const auto b = static_cast<unsigned char>(s[i]);
    uint8_t cls;
    if (b < 0x80) {
      ++i;
      cls = kAsciiClass[b];
    } else {
      const char32_t c = unicode::next_code_point(s, i);
      if (c < 0x10000) {
        const uint8_t f = unicode::hf_flags(c);
        cls = (f & unicode::kHfWhiteSpace) ? kSpace : (f & unicode::kHfPunctuation) ? kPunct : kWord;
      } else {  // no supplementary code point is White_Space
        cls = unicode::hf_is_punctuation(c) ? kPunct : kWord;
      }
    }
    if (cls == kWord) continue;
    if (at > start) f(s.substr(start, at - start));
    if (cls == kPunct) f(s.substr(at, i - at));
    start = i;
  }
  if (start < n) f(s.substr(start));
}

}  // namespace crossrank
