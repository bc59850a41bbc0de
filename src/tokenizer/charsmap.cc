// Precompiled charsmap normalizer (see charsmap.h).
#include "tokenizer/charsmap.h"

#include <utf8proc.h>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"
#include "util/error.h"

namespace crossrank {
namespace {

// Darts-clone double-array unit accessors (as sentencepiece / spm_precompiled read them).
inline bool unit_has_leaf(uint32_t u) { return (u >> 8) & 1; }
inline uint32_t unit_value(uint32_t u) { return u & ((1u << 31) - 1); }
inline uint32_t unit_label(uint32_t u) { return u & ((1u << 31) | 0xFFu); }
inline size_t unit_offset(uint32_t u) { return static_cast<size_t>(u >> 10) << ((u & (1u << 9)) >> 6); }

// Code points that extend a grapheme cluster (Grapheme_Cluster_Break Extend/SpacingMark) in
// the Unicode 17 data of HF tokenizers' `unicode-segmentation` but are unassigned in
// utf8proc 2.8 (Unicode 15.0). Found exhaustively by comparing, for every code point X,
// HF's Precompiled("A" + X) under a case-folding charsmap with utf8proc's break('A', X)
// (no differences in the other direction); see scripts/make_unigram_parity.py "cluster".
// They are given to utf8proc as U+0300 (an Extend character), which yields the same
// boundaries wherever the difference can change the normalizer's output.
constexpr char32_t kNewExtend[][2] = {
    {0x0897, 0x0897},   {0x1ACF, 0x1ADD},   {0x1AE0, 0x1AEB},   {0x10D69, 0x10D6D}, {0x10EFA, 0x10EFC},
    {0x113B8, 0x113C0}, {0x113C2, 0x113C2}, {0x113C5, 0x113C5}, {0x113C7, 0x113CA}, {0x113CC, 0x113D0},
    {0x113D2, 0x113D2}, {0x113E1, 0x113E2}, {0x11B60, 0x11B67}, {0x11F5A, 0x11F5A}, {0x1611E, 0x1612F},
    {0x1E5EE, 0x1E5EF}, {0x1E6E3, 0x1E6E3}, {0x1E6E6, 0x1E6E6}, {0x1E6EE, 0x1E6EF}, {0x1E6F5, 0x1E6F5},
};

inline utf8proc_int32_t grapheme_class_proxy(char32_t c) {
  if ((c >= 0x0897 && c <= 0x1AEB) || (c >= 0x10D69 && c <= 0x1E6F5)) {
    for (const auto& r : kNewExtend)
      if (c >= r[0] && c <= r[1]) return 0x0300;
  }
  return static_cast<utf8proc_int32_t>(c);
}

}  // namespace

PrecompiledCharsmap::PrecompiledCharsmap(std::string_view blob, const std::string& what) : blob_(blob) {
  auto fail = [&](const std::string& msg) { throw Error(what + ": invalid precompiled_charsmap (" + msg + ")"); };
  if (blob_.size() < 4) fail("shorter than its 4-byte header");
  const auto* p = reinterpret_cast<const unsigned char*>(blob_.data());
  const uint32_t trie_bytes = p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24);
  const size_t n_units = trie_bytes / 4;
  if (n_units == 0) fail("empty trie");
  if (n_units > (blob_.size() - 4) / 4) fail("trie size " + std::to_string(trie_bytes) + " runs past the end");
  units_.resize(n_units);
  for (size_t i = 0; i < n_units; ++i) {
    const unsigned char* q = p + 4 + 4 * i;
    units_[i] = q[0] | (q[1] << 8) | (q[2] << 16) | (static_cast<uint32_t>(q[3]) << 24);
  }
  strings_begin_ = 4 + 4 * n_units;
  try {
    check_utf8(strings(), "precompiled_charsmap replacement strings");
  } catch (const Error& e) {
    fail(e.what());
  }
  for (int b = 0; b < 128; ++b) {
    const char c = static_cast<char>(b);
    std::string_view rep;
    if (transform(std::string_view(&c, 1), rep)) {
      ascii_off_[b] = static_cast<int32_t>(rep.data() - strings().data());
      ascii_len_[b] = static_cast<uint8_t>(rep.size() < 255 ? rep.size() : 255);
      if (rep.size() >= 255) ascii_off_[b] = -2;  // too long for the table: look it up each time
    } else {
      ascii_off_[b] = -1;
      ascii_len_[b] = 0;
    }
  }
}

bool PrecompiledCharsmap::transform(std::string_view chunk, std::string_view& out) const {
  const size_t n_units = units_.size();
  size_t pos = unit_offset(units_[0]);
  for (const char ch : chunk) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == 0) return false;
    pos ^= c;
    if (pos >= n_units) return false;
    const uint32_t unit = units_[pos];
    if (unit_label(unit) != c) return false;
    pos ^= unit_offset(unit);
    if (unit_has_leaf(unit)) {
      if (pos >= n_units) throw Error("precompiled_charsmap: corrupt trie (leaf out of range)");
      const size_t start = unit_value(units_[pos]);
      const std::string_view s = strings();
      if (start > s.size()) throw Error("precompiled_charsmap: corrupt trie (replacement offset out of range)");
      size_t end = s.find('\0', start);
      if (end == std::string_view::npos) end = s.size();
      out = s.substr(start, end - start);
      return true;
    }
  }
  return false;
}

void PrecompiledCharsmap::normalize(std::string_view in, std::string& out) const {
  const size_t n = in.size();
  size_t i = 0;
  utf8proc_int32_t state = 0;
  std::string_view rep;
  while (i < n) {
    // Find the extended grapheme cluster [g_begin, i).
    const size_t g_begin = i;
    char32_t cp = unicode::next_code_point(in, i);
    int n_cps = 1;
    while (i < n) {
      size_t j = i;
      const char32_t next = unicode::next_code_point(in, j);
      bool brk;
      if (cp < 0x80 && next < 0x80) {
        brk = !(cp == '\r' && next == '\n');
        state = 0;  // neither code point can carry GB11/GB12 state
      } else {
        brk = utf8proc_grapheme_break_stateful(grapheme_class_proxy(cp), grapheme_class_proxy(next), &state);
      }
      if (brk) break;
      cp = next;
      i = j;
      ++n_cps;
    }
    const std::string_view g = in.substr(g_begin, i - g_begin);
    if (n_cps == 1 && g.size() == 1) {  // a lone ASCII code point: table lookup
      const auto b = static_cast<unsigned char>(g[0]);
      if (ascii_off_[b] == -1) {
        out.push_back(g[0]);
      } else if (ascii_off_[b] >= 0) {
        out.append(strings().substr(static_cast<size_t>(ascii_off_[b]), ascii_len_[b]));
      } else if (transform(g, rep)) {
        out.append(rep);
      }
      continue;
    }
    if (g.size() < 6 && transform(g, rep)) {
      out.append(rep);
      continue;
    }
    if (n_cps == 1) {  // (<= 4 bytes) the cluster lookup above was the per-character one
      out.append(g);
      continue;
    }
    size_t k = 0;
    while (k < g.size()) {
      const size_t c_begin = k;
      unicode::next_code_point(g, k);
      const std::string_view c = g.substr(c_begin, k - c_begin);
      if (transform(c, rep)) out.append(rep);
      else out.append(c);
    }
  }
}

}  // namespace crossrank
