// Byte-level BPE pre-tokenization: the GPT-2 / Qwen2 split regexes as a hand-written scanner,
// and the ByteLevel byte <-> character table.
//
// Why a scanner: the regexes are fixed alternations of character-class runs, so the
// leftmost-first match Oniguruma finds at each position can be decided with one or two code
// points of lookahead (see match_qwen2 / match_gpt2). The classes follow Oniguruma in HF
// tokenizers 0.23 (Unicode 16.0): \p{L} = L*, \p{N} = N*, \s = White_Space; utf8proc 2.8
// has Unicode 15.0, so the letters and digits added since are listed below (derived by
// scripts/make_bpe_parity.py --derive-tables; every code point is checked by
// tests/tokenizer/tokenizer_bpe_test.cc against HF).
#include "tokenizer/pre_tokenizer.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <iterator>

#include "tokenizer/unicode.h"

namespace crossrank {
namespace {

struct Range {
  char32_t lo, hi;
};

// Letters (L*) and numbers (N*) of Unicode 15.1/16.0 that utf8proc 2.8 leaves unassigned.
constexpr Range kNewLetters[] = {
    {0x1C89, 0x1C8A},   {0xA7CB, 0xA7CD},   {0xA7DA, 0xA7DC},   {0x105C0, 0x105F3}, {0x10D4A, 0x10D65},
    {0x10D6F, 0x10D85}, {0x10EC2, 0x10EC4}, {0x11380, 0x11389}, {0x1138B, 0x1138B}, {0x1138E, 0x1138E},
    {0x11390, 0x113B5}, {0x113B7, 0x113B7}, {0x113D1, 0x113D1}, {0x113D3, 0x113D3}, {0x11BC0, 0x11BE0},
    {0x13460, 0x143FA}, {0x16100, 0x1611D}, {0x16D40, 0x16D6C}, {0x18CFF, 0x18CFF}, {0x1E5D0, 0x1E5ED},
    {0x1E5F0, 0x1E5F0}, {0x2EBF0, 0x2EE5D}};
constexpr Range kNewNumbers[] = {{0x10D40, 0x10D49}, {0x116D0, 0x116E3}, {0x11BF0, 0x11BF9}, {0x16130, 0x16139},
                                 {0x16D70, 0x16D79}, {0x1CCF0, 0x1CCF9}, {0x1E5F1, 0x1E5FA}};

template <std::size_t N>
bool in_ranges(const Range (&table)[N], char32_t cp) {
  const Range* it = std::upper_bound(std::begin(table), std::end(table), cp,
                                     [](char32_t c, const Range& r) { return c < r.lo; });
  return it != std::begin(table) && cp <= (it - 1)->hi;
}

RegexClass compute_class(char32_t cp) {
  if (unicode::is_white_space(cp)) return RegexClass::kSpace;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
      return RegexClass::kLetter;
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
      return RegexClass::kNumber;
    case UTF8PROC_CATEGORY_CN:
      if (in_ranges(kNewLetters, cp)) return RegexClass::kLetter;
      if (in_ranges(kNewNumbers, cp)) return RegexClass::kNumber;
      return RegexClass::kOther;
    default:
      return RegexClass::kOther;
  }
}

const std::array<RegexClass, 0x10000>& bmp_classes() {
  static const std::array<RegexClass, 0x10000> table = [] {
    std::array<RegexClass, 0x10000> t{};
    for (char32_t c = 0; c < 0x10000; ++c)
      t[c] = (c >= 0xD800 && c <= 0xDFFF) ? RegexClass::kOther : compute_class(c);
    return t;
  }();
  return table;
}

// One decoded code point.
struct Ch {
  char32_t cp;
  uint32_t len;
  RegexClass cls;
};

inline Ch char_at(std::string_view s, std::size_t i, const std::array<RegexClass, 0x10000>& bmp) {
  std::size_t k = i;
  const char32_t cp = unicode::next_code_point(s, k);
  return {cp, static_cast<uint32_t>(k - i), cp < 0x10000 ? bmp[cp] : compute_class(cp)};
}

// End of the run of code points of class `cls` starting at i (i itself included).
inline std::size_t run_end(std::string_view s, std::size_t i, RegexClass cls,
                           const std::array<RegexClass, 0x10000>& bmp) {
  const std::size_t n = s.size();
  while (i < n) {
    const Ch c = char_at(s, i, bmp);
    if (c.cls != cls) break;
    i += c.len;
  }
  return i;
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d) (or case-sensitive) at s[i] == '\''; returns the match end
// or 0. Case-insensitive matching is Unicode simple case folding: only U+017F LONG S folds
// onto one of these letters besides the ASCII capitals.
std::size_t contraction_end(std::string_view s, std::size_t i, bool icase) {
  const std::size_t n = s.size();
  auto lower = [&](std::size_t k) -> int {  // ASCII letter at k folded, or 0
    if (k >= n) return 0;
    const char c = s[k];
    if (c >= 'a' && c <= 'z') return c;
    if (icase && c >= 'A' && c <= 'Z') return c + 32;
    return 0;
  };
  const std::size_t j = i + 1;
  if (icase && j + 1 < n && static_cast<unsigned char>(s[j]) == 0xC5 && static_cast<unsigned char>(s[j + 1]) == 0xBF)
    return j + 2;  // 'ſ
  switch (lower(j)) {
    case 's': case 't': case 'm': case 'd':
      return j + 1;
    case 'r': case 'v':
      return lower(j + 1) == 'e' ? j + 2 : 0;
    case 'l':
      return lower(j + 1) == 'l' ? j + 2 : 0;
    default:
      return 0;
  }
}

// The whitespace alternatives shared by both patterns, at a White_Space code point s[i]:
// [\s*[\r\n]+ when `newline_rule`] | \s+(?!\S) | \s+.
std::size_t match_spaces(std::string_view s, std::size_t i, bool newline_rule,
                         const std::array<RegexClass, 0x10000>& bmp) {
  const std::size_t n = s.size();
  std::size_t last_nl = std::string_view::npos, last_start = i, j = i, count = 0;
  while (j < n) {
    const Ch c = char_at(s, j, bmp);
    if (c.cls != RegexClass::kSpace) break;
    if (c.cp == '\r' || c.cp == '\n') last_nl = j;
    last_start = j;
    j += c.len;
    ++count;
  }
  // \s* backtracks to the last \r or \n of the run; [\r\n]+ then takes just that one.
  if (newline_rule && last_nl != std::string_view::npos) return last_nl + 1;
  if (j == n || count < 2) return j;  // \s+(?!\S) at the end of the text, else \s+
  return last_start;                  // \s+(?!\S) leaves the last space for the next word
}

std::size_t match_qwen2(std::string_view s, std::size_t i, bool digits3, const std::array<RegexClass, 0x10000>& bmp) {
  const std::size_t n = s.size();
  const Ch c0 = char_at(s, i, bmp);
  if (c0.cp == '\'') {
    if (const std::size_t e = contraction_end(s, i, true)) return e;
  }
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (c0.cls == RegexClass::kLetter) return run_end(s, i, RegexClass::kLetter, bmp);
  const std::size_t j = i + c0.len;
  if (c0.cls != RegexClass::kNumber && c0.cp != '\r' && c0.cp != '\n' && j < n &&
      char_at(s, j, bmp).cls == RegexClass::kLetter)
    return run_end(s, j, RegexClass::kLetter, bmp);
  // \p{N} (or \p{N}{1,3})
  if (c0.cls == RegexClass::kNumber) {
    std::size_t e = j;
    for (int k = 1; digits3 && k < 3 && e < n; ++k) {
      const Ch c = char_at(s, e, bmp);
      if (c.cls != RegexClass::kNumber) break;
      e += c.len;
    }
    return e;
  }
  // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
  const std::size_t o = c0.cp == ' ' ? j : i;
  if (o < n && char_at(s, o, bmp).cls == RegexClass::kOther) {
    std::size_t e = run_end(s, o, RegexClass::kOther, bmp);
    while (e < n && (s[e] == '\r' || s[e] == '\n')) ++e;
    return e;
  }
  return match_spaces(s, i, true, bmp);  // c0 is White_Space here
}

std::size_t match_gpt2(std::string_view s, std::size_t i, const std::array<RegexClass, 0x10000>& bmp) {
  const std::size_t n = s.size();
  const Ch c0 = char_at(s, i, bmp);
  if (c0.cp == '\'') {
    if (const std::size_t e = contraction_end(s, i, false)) return e;
  }
  // ' ?\p{L}+' | ' ?\p{N}+' | ' ?[^\s\p{L}\p{N}]+'
  if (c0.cls != RegexClass::kSpace) return run_end(s, i, c0.cls, bmp);
  if (c0.cp == ' ' && i + 1 < n) {
    const Ch c1 = char_at(s, i + 1, bmp);
    if (c1.cls != RegexClass::kSpace) return run_end(s, i + 1, c1.cls, bmp);
  }
  return match_spaces(s, i, false, bmp);
}

constexpr std::array<char32_t, 256> make_byte_to_char() {
  std::array<char32_t, 256> t{};
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    t[b] = printable ? static_cast<char32_t>(b) : next++;
  }
  return t;
}
constexpr std::array<char32_t, 256> kByteToChar = make_byte_to_char();

constexpr std::array<int16_t, 0x144> make_char_to_byte() {
  std::array<int16_t, 0x144> t{};
  for (auto& v : t) v = -1;
  for (int b = 0; b < 256; ++b) t[kByteToChar[b]] = static_cast<int16_t>(b);
  return t;
}
constexpr std::array<int16_t, 0x144> kCharToByte = make_char_to_byte();

}  // namespace

bool split_pattern_from_regex(std::string_view regex, SplitPattern& out) {
  static constexpr std::string_view kQwen =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  static constexpr std::string_view kQwen3Digits =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  static constexpr std::string_view kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
  if (regex == kQwen) out = SplitPattern::kQwen2;
  else if (regex == kQwen3Digits) out = SplitPattern::kQwen2Digits3;
  else if (regex == kGpt2) out = SplitPattern::kGpt2;
  else return false;
  return true;
}

RegexClass regex_class(char32_t cp) { return cp < 0x10000 ? bmp_classes()[cp] : compute_class(cp); }

void split_words(std::string_view text, SplitPattern pattern, std::vector<WordSpan>& out) {
  const auto& bmp = bmp_classes();
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    std::size_t e;
    switch (pattern) {
      case SplitPattern::kQwen2: e = match_qwen2(text, i, false, bmp); break;
      case SplitPattern::kQwen2Digits3: e = match_qwen2(text, i, true, bmp); break;
      default: e = match_gpt2(text, i, bmp); break;
    }
    out.push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(e)});
    i = e;
  }
}

char32_t byte_to_char(uint8_t b) { return kByteToChar[b]; }

int char_to_byte(char32_t cp) { return cp < kCharToByte.size() ? kCharToByte[cp] : -1; }

bool byte_level_decode(std::string_view spelling, std::string& bytes) {
  bytes.clear();
  std::size_t i = 0;
  while (i < spelling.size()) {
    const int b = char_to_byte(unicode::next_code_point(spelling, i));
    if (b < 0) return false;
    bytes.push_back(static_cast<char>(b));
  }
  return true;
}

std::string byte_level_encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) unicode::append_utf8(out, kByteToChar[static_cast<unsigned char>(c)]);
  return out;
}

}  // namespace crossrank
