// NFC as Hugging Face tokenizers computes it (normalizers::NFC -> unicode-normalization-
// alignments, whose tables are older than utf8proc's: see unicode.h).
//
// 1. Fast path: a code point that is a starter (ccc 0), never the second half of a canonical
//    composition, and its own NFC ("stable") cuts the text: NFC(a X b) = NFC(a) NFC(X b).
//    Most text is made of stable code points only and is copied unchanged.
// 2. Slow path, for a segment from the stable starter before an unstable code point up to the
//    next stable one: full canonical decomposition with HF's tables, canonical ordering, then
//    the canonical composition algorithm of UAX #15 (unicode-normalization's Recompositions).
//    Pairs are composed with utf8proc (Hangul algorithmically), but only into characters that
//    HF's tables decompose, so compositions added after HF's Unicode version never happen.
#include <utf8proc.h>

#include <string>
#include <vector>

#include "tokenizer/unicode.h"

namespace crossrank::unicode {
namespace {

constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28, kSCount = 11172;
constexpr char32_t kTableSize = 0x30000;  // no canonical decomposition beyond plane 2

bool hf_decomposes(char32_t cp) {
  if (cp < 0x10000) return (hf_flags(cp) & kHfDecomposes) != 0;
  std::u32string d;
  append_canonical_decomposition(cp, d);
  return d.size() != 1 || d[0] != cp;
}

// The primary composite of starter `a` and `b`, or 0.
char32_t compose_pair(char32_t a, char32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase && b < kTBase + kTCount)
    return a + (b - kTBase);
  utf8proc_int32_t buf[2] = {static_cast<utf8proc_int32_t>(a), static_cast<utf8proc_int32_t>(b)};
  if (utf8proc_normalize_utf32(buf, 2, static_cast<utf8proc_option_t>(UTF8PROC_COMPOSE | UTF8PROC_STABLE)) != 1)
    return 0;
  const auto c = static_cast<char32_t>(buf[0]);
  return hf_decomposes(c) ? c : 0;
}

// NFC of the code points `in` (any sequence), appended to `out` as UTF-8.
void nfc_slow(const std::u32string& in, std::string& out) {
  std::u32string d;
  d.reserve(in.size() + 4);
  for (const char32_t c : in) append_canonical_decomposition(c, d);
  canonical_order(d);
  std::u32string r;
  r.reserve(d.size());
  std::size_t starter = std::u32string::npos;  // index in r of the last starter
  int last_ccc = 0;                            // ccc of r.back()
  for (const char32_t c : d) {
    const int ccc = combining_class(c);
    if (starter != std::u32string::npos) {
      const bool adjacent = starter + 1 == r.size();
      if (adjacent || (last_ccc != 0 && last_ccc < ccc)) {  // not blocked
        if (const char32_t k = compose_pair(r[starter], c)) {
          r[starter] = k;
          continue;
        }
      }
    }
    if (ccc == 0) starter = r.size();
    last_ccc = ccc;
    r.push_back(c);
  }
  for (const char32_t c : r) append_utf8(out, c);
}

// stable[cp] for cp < kTableSize (see step 1 above).
const std::vector<bool>& stable_table() {
  static const std::vector<bool> table = [] {
    std::vector<bool> second(kTableSize, false);
    std::u32string d;
    for (char32_t cp = 0xC0; cp < kTableSize; ++cp) {
      if (cp >= 0xD800 && cp <= 0xDFFF) continue;
      d.clear();
      append_canonical_decomposition(cp, d);
      for (std::size_t k = 1; k < d.size(); ++k)
        if (d[k] < kTableSize) second[d[k]] = true;
    }
    std::vector<bool> t(kTableSize, true);
    std::string one;
    for (char32_t cp = 0x80; cp < kTableSize; ++cp) {
      if (cp >= 0xD800 && cp <= 0xDFFF) continue;
      if (second[cp] || combining_class(cp) != 0) {
        t[cp] = false;
      } else if (hf_decomposes(cp)) {
        one.clear();
        nfc_slow(std::u32string(1, cp), one);
        std::string self;
        append_utf8(self, cp);
        t[cp] = one == self;
      }
    }
    return t;
  }();
  return table;
}

inline bool is_stable(char32_t cp, const std::vector<bool>& table) {
  if (cp < kTableSize) return table[cp];
  return combining_class(cp) == 0 && !hf_decomposes(cp);
}

}  // namespace

void nfc_append(std::string_view in, std::string& out) {
  const std::vector<bool>& table = stable_table();
  const std::size_t n = in.size();
  std::size_t pending = 0;                          // start of the bytes not yet written
  std::size_t prev_start = std::string_view::npos;  // start of the previous (stable) code point
  std::size_t i = 0;
  std::u32string seg;
  while (i < n) {
    if (static_cast<unsigned char>(in[i]) < 0x80) {
      prev_start = i++;
      continue;
    }
    const std::size_t at = i;
    if (is_stable(next_code_point(in, i), table)) {
      prev_start = at;
      continue;
    }
    // An unstable code point: the segment starts at the stable starter before it (which may
    // compose with what follows) and runs to the next stable code point.
    const std::size_t seg_begin = prev_start != std::string_view::npos ? prev_start : at;
    std::size_t j = i;
    while (j < n && static_cast<unsigned char>(in[j]) >= 0x80) {
      std::size_t k = j;
      if (is_stable(next_code_point(in, k), table)) break;
      j = k;
    }
    out.append(in.data() + pending, seg_begin - pending);
    seg.clear();
    for (std::size_t k = seg_begin; k < j;) seg.push_back(next_code_point(in, k));
    nfc_slow(seg, out);
    pending = i = j;
    prev_start = std::string_view::npos;
  }
  out.append(in.data() + pending, n - pending);
}

}  // namespace crossrank::unicode
