// BertNormalizer and BertPreTokenizer, matching Hugging Face tokenizers 0.23 for every code
// point (tests/tokenizer/tokenizer_wordpiece_test.cc checks all of them against recorded hashes).
#include "tokenizer/bert_text.h"

namespace crossrank {
namespace {

using unicode::append_utf8;
using unicode::next_code_point;

// HF normalizers/bert.rs is_chinese_char: the CJK ideograph blocks BERT spaces out.
bool is_chinese_char(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// bert.rs is_whitespace / is_control (\t \n \r count as whitespace, not control).
bool bert_is_whitespace(char32_t c) { return unicode::is_white_space(c); }
bool bert_is_control(char32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  return unicode::hf_is_other(c);
}

}  // namespace

void bert_normalize(std::string_view text, const BertNormalizerOptions& o, std::string& out) {
  const bool strip = o.strip_accents.value_or(o.lowercase);
  out.reserve(out.size() + text.size() + text.size() / 8);
  std::u32string marks;   // pending non-starters awaiting canonical ordering (strip only)
  std::u32string decomp;  // scratch for one decomposition

  // Last stages: drop nonspacing marks (strip), lowercase, encode.
  auto emit_final = [&](char32_t c) {
    if (strip && unicode::hf_is_mark_nonspacing(c)) return;
    if (o.lowercase) {
      char32_t low[2];
      const int k = unicode::rust_to_lowercase(c, low);
      for (int m = 0; m < k; ++m) append_utf8(out, low[m]);
    } else {
      append_utf8(out, c);
    }
  };
  auto flush_marks = [&] {
    if (marks.empty()) return;
    if (marks.size() > 1) unicode::canonical_order(marks);
    for (char32_t m : marks) emit_final(m);
    marks.clear();
  };
  // NFD stage (strip only): decompose, hold non-starters until the next starter.
  auto emit_nfd = [&](char32_t c) {
    if (!strip) {
      emit_final(c);
      return;
    }
    decomp.clear();
    unicode::append_canonical_decomposition(c, decomp);
    for (char32_t d : decomp) {
      if (unicode::combining_class(d) == 0) {
        flush_marks();
        emit_final(d);
      } else {
        marks.push_back(d);
      }
    }
  };

  // Code points with none of these flags pass every stage unchanged.
  const uint8_t interesting = (o.clean_text ? unicode::kHfOther | unicode::kHfWhiteSpace : 0) |
                              (strip ? unicode::kHfNonspacing | unicode::kHfDecomposes |
                                           unicode::kHfNonStarter
                                     : 0) |
                              (o.lowercase ? unicode::kHfLowerChanges : 0);
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      // A run of ASCII: starters without decomposition or nonspacing marks.
      flush_marks();
      std::size_t j = i;
      while (j < n && static_cast<unsigned char>(text[j]) < 0x80) ++j;
      const std::size_t base = out.size();
      out.resize(base + (j - i));
      char* dst = out.data() + base;
      for (; i < j; ++i) {
        char c = text[i];
        const auto b = static_cast<unsigned char>(c);
        if (o.clean_text && b < 0x20) {
          if (b == '\t' || b == '\n' || b == '\r') c = ' ';
          else continue;  // NUL and other Cc
        } else if (o.clean_text && b == 0x7F) {
          continue;
        }
        if (o.lowercase && c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
        *dst++ = c;
      }
      out.resize(static_cast<std::size_t>(dst - out.data()));
      continue;
    }
    const std::size_t at = i;
    char32_t c = next_code_point(text, i);
    if (o.handle_chinese_chars && is_chinese_char(c)) {
      // CJK ideographs: Lo starters, never removed or lowercased; only the compatibility
      // ideographs (U+F900.., U+2F800..) decompose.
      flush_marks();
      out.push_back(' ');
      if (strip && ((c >= 0xF900 && c <= 0xFAFF) || c >= 0x2F800)) emit_nfd(c);
      else out.append(text.substr(at, i - at));
      out.push_back(' ');
      continue;
    }
    if ((unicode::hf_flags(c) & interesting) == 0 && !(o.clean_text && c == 0xFFFD)) {
      flush_marks();
      out.append(text.substr(at, i - at));
      continue;
    }
    if (o.clean_text) {
      if (c == 0xFFFD || bert_is_control(c)) continue;
      if (bert_is_whitespace(c)) c = ' ';
    }
    emit_nfd(c);  // (CJK ideographs were handled above; ' ' is not one)
  }
  flush_marks();
}

void bert_pre_tokenize(std::string_view text, std::vector<std::string_view>& out) {
  for_each_bert_piece(text, [&](std::string_view piece) { out.push_back(piece); });
}

}  // namespace crossrank
