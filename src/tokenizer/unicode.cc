// Unicode helpers on top of utf8proc, with the exception tables that make them match
// Hugging Face tokenizers 0.23.3 exactly (see unicode.h for the version story).
//
// The tables were derived by comparing utf8proc 2.8 (Unicode 15.0) with the behaviour of
// the Python `tokenizers` package for all 1,112,064 scalar values
// (scripts/make_wordpiece_parity.py --derive-tables prints them again).
#include "tokenizer/unicode.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <iterator>

namespace crossrank::unicode {
namespace {

struct Range {
  char32_t lo, hi;
};

template <std::size_t N>
bool in_ranges(const Range (&table)[N], char32_t cp) {
  // Tables are sorted and disjoint: binary search for the last range with lo <= cp.
  const Range* it = std::upper_bound(std::begin(table), std::end(table), cp,
                                     [](char32_t c, const Range& r) { return c < r.lo; });
  return it != std::begin(table) && cp <= (it - 1)->hi;
}

utf8proc_category_t category(char32_t cp) {
  return static_cast<utf8proc_category_t>(utf8proc_category(static_cast<utf8proc_int32_t>(cp)));
}

// Format characters (Cf) in Unicode 15 that were unassigned in Unicode 8, so HF keeps them.
constexpr Range kNewFormat[] = {
    {0x890, 0x891}, {0x8E2, 0x8E2}, {0x110CD, 0x110CD}, {0x13430, 0x1343F}};

// Punctuation (P*) in Unicode 15 that HF does not see as punctuation (new since Unicode 8).
constexpr Range kNewPunctuation[] = {
    {0x61D, 0x61D},     {0x9FD, 0x9FD},     {0xA76, 0xA76},     {0xC77, 0xC77},
    {0xC84, 0xC84},     {0x1B7D, 0x1B7E},   {0x2E43, 0x2E4F},   {0x2E52, 0x2E5D},
    {0x10EAD, 0x10EAD}, {0x10F55, 0x10F59}, {0x10F86, 0x10F89}, {0x1144B, 0x1144F},
    {0x1145A, 0x1145B}, {0x1145D, 0x1145D}, {0x11660, 0x1166C}, {0x116B9, 0x116B9},
    {0x1183B, 0x1183B}, {0x11944, 0x11946}, {0x119E2, 0x119E2}, {0x11A3F, 0x11A46},
    {0x11A9A, 0x11A9C}, {0x11A9E, 0x11AA2}, {0x11B00, 0x11B09}, {0x11C41, 0x11C45},
    {0x11C70, 0x11C71}, {0x11EF7, 0x11EF8}, {0x11F43, 0x11F4F}, {0x11FFF, 0x11FFF},
    {0x12FF1, 0x12FF2}, {0x16E97, 0x16E9A}, {0x16FE2, 0x16FE2}, {0x1E95E, 0x1E95F}};

// Characters whose category changed after Unicode 8: U+166D CANADIAN SYLLABICS CHI SIGN
// (Po -> So) and U+111C9 SHARADA SANDHI MARK (Po -> Mn) are still punctuation for HF.
constexpr Range kOldPunctuation[] = {{0x166D, 0x166D}, {0x111C9, 0x111C9}};

// Nonspacing marks (Mn) in Unicode 15 that HF keeps (new since Unicode 8, or U+111C9
// which was Po).
constexpr Range kNewNonspacing[] = {
    {0x7FD, 0x7FD},     {0x898, 0x89F},     {0x8CA, 0x8E1},     {0x9FE, 0x9FE},
    {0xAFA, 0xAFF},     {0xB55, 0xB55},     {0xC04, 0xC04},     {0xC3C, 0xC3C},
    {0xD00, 0xD00},     {0xD3B, 0xD3C},     {0xD81, 0xD81},     {0xEBA, 0xEBA},
    {0xECE, 0xECE},     {0x180F, 0x180F},   {0x1885, 0x1886},   {0x1ABF, 0x1ACE},
    {0x1DF6, 0x1DFB},   {0xA82C, 0xA82C},   {0xA8C5, 0xA8C5},   {0xA8FF, 0xA8FF},
    {0xA9BD, 0xA9BD},   {0x10D24, 0x10D27}, {0x10EAB, 0x10EAC}, {0x10EFD, 0x10EFF},
    {0x10F46, 0x10F50}, {0x10F82, 0x10F85}, {0x11070, 0x11070}, {0x11073, 0x11074},
    {0x110C2, 0x110C2}, {0x111C9, 0x111C9}, {0x111CF, 0x111CF}, {0x1123E, 0x1123E},
    {0x11241, 0x11241}, {0x1133B, 0x1133B}, {0x11438, 0x1143F}, {0x11442, 0x11444},
    {0x11446, 0x11446}, {0x1145E, 0x1145E}, {0x1182F, 0x11837}, {0x11839, 0x1183A},
    {0x1193B, 0x1193C}, {0x1193E, 0x1193E}, {0x11943, 0x11943}, {0x119D4, 0x119D7},
    {0x119DA, 0x119DB}, {0x119E0, 0x119E0}, {0x11A01, 0x11A0A}, {0x11A33, 0x11A38},
    {0x11A3B, 0x11A3E}, {0x11A47, 0x11A47}, {0x11A51, 0x11A56}, {0x11A59, 0x11A5B},
    {0x11A8A, 0x11A96}, {0x11A98, 0x11A99}, {0x11C30, 0x11C36}, {0x11C38, 0x11C3D},
    {0x11C3F, 0x11C3F}, {0x11C92, 0x11CA7}, {0x11CAA, 0x11CB0}, {0x11CB2, 0x11CB3},
    {0x11CB5, 0x11CB6}, {0x11D31, 0x11D36}, {0x11D3A, 0x11D3A}, {0x11D3C, 0x11D3D},
    {0x11D3F, 0x11D45}, {0x11D47, 0x11D47}, {0x11D90, 0x11D91}, {0x11D95, 0x11D95},
    {0x11D97, 0x11D97}, {0x11EF3, 0x11EF4}, {0x11F00, 0x11F01}, {0x11F36, 0x11F3A},
    {0x11F40, 0x11F40}, {0x11F42, 0x11F42}, {0x13440, 0x13440}, {0x13447, 0x13455},
    {0x16F4F, 0x16F4F}, {0x16FE4, 0x16FE4}, {0x1CF00, 0x1CF2D}, {0x1CF30, 0x1CF46},
    {0x1E000, 0x1E006}, {0x1E008, 0x1E018}, {0x1E01B, 0x1E021}, {0x1E023, 0x1E024},
    {0x1E026, 0x1E02A}, {0x1E08F, 0x1E08F}, {0x1E130, 0x1E136}, {0x1E2AE, 0x1E2AE},
    {0x1E2EC, 0x1E2EF}, {0x1E4EC, 0x1E4EF}, {0x1E944, 0x1E94A}};

// Code points with a nonzero canonical combining class in Unicode 15 that HF's
// normalization tables (Unicode 9) do not know, so HF treats them as starters (ccc 0) and
// never reorders across them.
constexpr Range kNewCombining[] = {
    {0x7FD, 0x7FD},     {0x898, 0x89F},     {0x8CA, 0x8D3},     {0x9FE, 0x9FE},
    {0xC3C, 0xC3C},     {0xD3B, 0xD3C},     {0xEBA, 0xEBA},     {0x1715, 0x1715},
    {0x1ABF, 0x1ACE},   {0x1DF6, 0x1DFA},   {0xA82C, 0xA82C},   {0x10D24, 0x10D27},
    {0x10EAB, 0x10EAC}, {0x10EFD, 0x10EFF}, {0x10F46, 0x10F50}, {0x10F82, 0x10F85},
    {0x11070, 0x11070}, {0x1133B, 0x1133B}, {0x1145E, 0x1145E}, {0x11839, 0x1183A},
    {0x1193D, 0x1193E}, {0x11943, 0x11943}, {0x119E0, 0x119E0}, {0x11A34, 0x11A34},
    {0x11A47, 0x11A47}, {0x11A99, 0x11A99}, {0x11D42, 0x11D42}, {0x11D44, 0x11D45},
    {0x11D97, 0x11D97}, {0x11F41, 0x11F42}, {0x16FF0, 0x16FF1}, {0x1E08F, 0x1E08F},
    {0x1E130, 0x1E136}, {0x1E2AE, 0x1E2AE}, {0x1E2EC, 0x1E2EF}, {0x1E4EC, 0x1E4EF}};

// Lowercase mappings Rust's std has (Unicode 16/17) that utf8proc's Unicode 15 lacks.
struct LowerMap {
  char32_t lo, hi;
  int32_t delta;  // lowercase(cp) = cp + delta for cp in [lo, hi]
};
constexpr LowerMap kNewLowercase[] = {
    {0x1C89, 0x1C89, 1},           {0xA7CB, 0xA7CB, 0x264 - 0xA7CB}, {0xA7CC, 0xA7CC, 1},
    {0xA7CE, 0xA7CE, 1},           {0xA7D2, 0xA7D2, 1},              {0xA7D4, 0xA7D4, 1},
    {0xA7DA, 0xA7DA, 1},           {0xA7DC, 0xA7DC, 0x19B - 0xA7DC}, {0x10D50, 0x10D65, 0x20},
    {0x16EA0, 0x16EB8, 0x1B}};

// Other_Alphabetic symbols (So): circled / squared / negative-circled Latin letters.
constexpr Range kAlphabeticSymbols[] = {
    {0x24B6, 0x24E9}, {0x1F130, 0x1F149}, {0x1F150, 0x1F169}, {0x1F170, 0x1F189}};

}  // namespace

std::size_t count_code_points(std::string_view s) {
  std::size_t n = 0;
  for (char b : s) n += !is_continuation_byte(b);
  return n;
}

bool is_white_space(char32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
  switch (cp) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F:
    case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

std::size_t leading_white_space(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t k = i;
    if (!is_white_space(next_code_point(s, k))) break;
    i = k;
  }
  return i;
}

std::size_t trailing_white_space_start(std::string_view s) {
  std::size_t end = s.size();
  while (end > 0) {
    std::size_t b = end - 1;
    while (b > 0 && is_continuation_byte(s[b])) --b;
    std::size_t k = b;
    if (!is_white_space(next_code_point(s, k))) break;
    end = b;
  }
  return end;
}

bool hf_is_other(char32_t cp) {
  switch (category(cp)) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CO: case UTF8PROC_CATEGORY_CS:
      return true;
    case UTF8PROC_CATEGORY_CF:
      return !in_ranges(kNewFormat, cp);
    default:
      return false;
  }
}

bool hf_is_punctuation(char32_t cp) {
  switch (category(cp)) {
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      return !in_ranges(kNewPunctuation, cp);
    default:
      return in_ranges(kOldPunctuation, cp);
  }
}

bool hf_is_mark_nonspacing(char32_t cp) {
  if (cp == 0x1734) return true;  // HANUNOO SIGN PAMUDPOD: Mn in Unicode 8, Mc since 14
  return category(cp) == UTF8PROC_CATEGORY_MN && !in_ranges(kNewNonspacing, cp);
}

bool is_word_char(char32_t cp) {
  if (cp < 0x80) {
    return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
           cp == '_';
  }
  if (cp == 0x200C || cp == 0x200D) return true;  // Join_Control
  switch (category(cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return in_ranges(kAlphabeticSymbols, cp);
  }
}

int rust_to_lowercase(char32_t cp, char32_t out[2]) {
  if (cp < 0x80) {
    out[0] = (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    return 1;
  }
  if (cp == 0x130) {  // the only unconditional multi-char lowercase mapping
    out[0] = 'i';
    out[1] = 0x307;
    return 2;
  }
  for (const LowerMap& m : kNewLowercase) {
    if (cp >= m.lo && cp <= m.hi) {
      out[0] = static_cast<char32_t>(static_cast<int32_t>(cp) + m.delta);
      return 1;
    }
  }
  out[0] = static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
  return 1;
}

int combining_class(char32_t cp) {
  if (cp < 0x300) return 0;
  const int ccc = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp))->combining_class;
  return (ccc != 0 && in_ranges(kNewCombining, cp)) ? 0 : ccc;
}

namespace {

// Canonical decomposition of cp into buf (room for 8); returns the length (1 when none).
int canonical_decomposition(char32_t cp, utf8proc_int32_t buf[8]) {
  // U+11938 DIVES AKURU VOWEL SIGN O decomposes since Unicode 13; HF's tables are older.
  if (cp < 0xC0 || cp == 0x11938) {
    buf[0] = static_cast<utf8proc_int32_t>(cp);
    return 1;
  }
  int boundclass = UTF8PROC_BOUNDCLASS_START;
  const utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), buf, 8,
                                                     UTF8PROC_DECOMPOSE, &boundclass);
  if (n <= 0 || n > 8) {  // cannot happen for canonical decompositions (max 4)
    buf[0] = static_cast<utf8proc_int32_t>(cp);
    return 1;
  }
  return static_cast<int>(n);
}

}  // namespace

void append_canonical_decomposition(char32_t cp, std::u32string& out) {
  utf8proc_int32_t buf[8];
  const int n = canonical_decomposition(cp, buf);
  for (int k = 0; k < n; ++k) out.push_back(static_cast<char32_t>(buf[k]));
}

void canonical_order(std::u32string& s, std::size_t from) {
  std::size_t i = from;
  const std::size_t n = s.size();
  while (i < n) {
    if (combining_class(s[i]) == 0) {
      ++i;
      continue;
    }
    std::size_t j = i + 1;
    while (j < n && combining_class(s[j]) != 0) ++j;
    if (j - i > 1) {
      std::stable_sort(s.begin() + static_cast<std::ptrdiff_t>(i),
                       s.begin() + static_cast<std::ptrdiff_t>(j),
                       [](char32_t a, char32_t b) { return combining_class(a) < combining_class(b); });
    }
    i = j;
  }
}

namespace {

uint8_t compute_flags(char32_t cp) {
  uint8_t f = 0;
  if (hf_is_other(cp)) f |= kHfOther;
  if (is_white_space(cp)) f |= kHfWhiteSpace;
  const bool ascii_punct = (cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x40) ||
                           (cp >= 0x5B && cp <= 0x60) || (cp >= 0x7B && cp <= 0x7E);
  if (ascii_punct || hf_is_punctuation(cp)) f |= kHfPunctuation;
  if (hf_is_mark_nonspacing(cp)) f |= kHfNonspacing;
  utf8proc_int32_t d[8];
  if (canonical_decomposition(cp, d) != 1 || static_cast<char32_t>(d[0]) != cp) f |= kHfDecomposes;
  if (combining_class(cp) != 0) f |= kHfNonStarter;
  char32_t low[2];
  if (rust_to_lowercase(cp, low) != 1 || low[0] != cp) f |= kHfLowerChanges;
  return f;
}

}  // namespace

uint8_t hf_flags(char32_t cp) {
  static const std::array<uint8_t, 0x10000> table = [] {
    std::array<uint8_t, 0x10000> t{};
    for (char32_t c = 0; c < 0x10000; ++c) t[c] = (c >= 0xD800 && c <= 0xDFFF) ? 0 : compute_flags(c);
    return t;
  }();
  return cp < 0x10000 ? table[cp] : compute_flags(cp);
}

}  // namespace crossrank::unicode
