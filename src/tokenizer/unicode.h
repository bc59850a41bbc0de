#pragma once
// Unicode helpers shared by the tokenizers, built on utf8proc (Unicode 15.0).
//
// Hugging Face `tokenizers` does not use one Unicode version throughout: the category
// predicates come from the `unicode_categories` crate (Unicode 8.0 tables), NFD from
// `unicode-normalization-alignments` (Unicode 9 tables), lowercase and White_Space from
// Rust's std (Unicode 16/17). The `hf_*` / `rust_*` functions below reproduce exactly
// what tokenizers 0.23.3 does, for every code point (verified exhaustively by
// tests/tokenizer/tokenizer_wordpiece_test.cc against hashes recorded from the Python package);
// the small exception tables that bridge utf8proc's Unicode 15 data live in unicode.cc.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace crossrank::unicode {

// Decodes the code point starting at s[i] and advances i past it.
// Precondition: s is valid UTF-8 (check_utf8) and i < s.size() is on a boundary.
inline char32_t next_code_point(std::string_view s, std::size_t& i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + i;
  const unsigned c = p[0];
  if (c < 0x80) { i += 1; return c; }
  if (c < 0xE0) { i += 2; return ((c & 0x1F) << 6) | (p[1] & 0x3F); }
  if (c < 0xF0) { i += 3; return ((c & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F); }
  i += 4;
  return ((c & 0x07) << 18) | ((p[1] & 0x3F) << 12) | ((p[2] & 0x3F) << 6) | (p[3] & 0x3F);
}

// Appends the UTF-8 encoding of `cp` (a Unicode scalar value) to `out`.
inline void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// True for a UTF-8 continuation byte (10xxxxxx).
inline bool is_continuation_byte(char b) { return (static_cast<unsigned char>(b) & 0xC0) == 0x80; }

// Number of code points in valid UTF-8 `s`.
std::size_t count_code_points(std::string_view s);

// Rust `char::is_whitespace`: the Unicode White_Space property (also Rust regex `\s`).
bool is_white_space(char32_t cp);

// Byte length of the leading run of White_Space code points of valid UTF-8 `s` (regex ^\s*).
std::size_t leading_white_space(std::string_view s);

// Byte offset where the trailing run of White_Space code points of valid UTF-8 `s` starts
// (regex \s*$); s.size() when there is none.
std::size_t trailing_white_space_start(std::string_view s);

// `unicode_categories` crate `is_other` as used by HF: general category Cc, Cf, Co or Cs
// in its Unicode 8 tables (unassigned Cn code points are NOT included).
bool hf_is_other(char32_t cp);

// `unicode_categories` crate `is_punctuation`: categories Pc Pd Ps Pe Pi Pf Po (Unicode 8).
bool hf_is_punctuation(char32_t cp);

// `unicode_categories` crate `is_mark_nonspacing`: category Mn (Unicode 8).
bool hf_is_mark_nonspacing(char32_t cp);

// Rust regex `\w` (Alphabetic | M | Nd | Pc | Join_Control), approximated from general
// categories plus the Other_Alphabetic symbols; used only for single_word added tokens.
bool is_word_char(char32_t cp);

// Rust `char::to_lowercase` (full, context-free mapping; 'İ' gives "i\u0307").
// Writes 1 or 2 code points to out[] and returns how many.
int rust_to_lowercase(char32_t cp, char32_t out[2]);

// Bit flags summarising the predicates above for one code point (see hf_flags).
enum HfFlag : uint8_t {
  kHfOther = 1,           // hf_is_other
  kHfWhiteSpace = 2,      // is_white_space
  kHfPunctuation = 4,     // hf_is_punctuation or ASCII punctuation (BERT's notion)
  kHfNonspacing = 8,      // hf_is_mark_nonspacing
  kHfDecomposes = 16,     // append_canonical_decomposition changes it
  kHfNonStarter = 32,     // combining_class != 0
  kHfLowerChanges = 64,   // rust_to_lowercase changes it
};

// All HfFlag bits of `cp`; a table lookup below U+10000 (built once, thread-safe).
uint8_t hf_flags(char32_t cp);

// Canonical combining class as HF's NFD tables have it (utf8proc's Unicode 15 value, but 0
// for the marks added after Unicode 9).
int combining_class(char32_t cp);

// Appends the full canonical decomposition of `cp` (as HF's NFD tables have it; no
// reordering) to `out`. Canonical ordering is the caller's job (see canonical_order).
void append_canonical_decomposition(char32_t cp, std::u32string& out);

// Canonical ordering: stably sorts each maximal run of non-starters (ccc != 0) in
// s[from, end) by combining class. O(n log n) worst case, O(n) on real text.
void canonical_order(std::u32string& s, std::size_t from = 0);

// Appends the NFC form of valid UTF-8 `in` to `out` exactly as HF's NFC normalizer computes
// it (unicode-normalization-alignments: the decompositions and combining classes above, and
// no composition into a character HF's tables do not decompose). Linear time; runs of
// characters that NFC leaves alone are copied as they are (unicode_nfc.cc).
void nfc_append(std::string_view in, std::string& out);

}  // namespace crossrank::unicode
