#pragma once
// SentencePiece `precompiled_charsmap` normalizer, as Hugging Face `tokenizers` applies it
// (normalizers::Precompiled + the `spm_precompiled` crate).
//
// Blob layout: u32 little-endian trie size in bytes, then that many bytes of Darts-clone
// double-array units (u32 each), then the replacement strings ('\0'-terminated, UTF-8).
// A trie key is the UTF-8 of a source sequence; its value is the byte offset of the
// replacement inside the string blob.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace crossrank {

class PrecompiledCharsmap {
 public:
  // Parses `blob`; throws Error("<what>: ...") when it is malformed (short header, trie size
  // not a multiple of 4 or past the end, empty trie, replacement strings not UTF-8).
  PrecompiledCharsmap(std::string_view blob, const std::string& what);

  // Replacement for the shortest trie key that is a prefix of `chunk` (stops at a NUL byte),
  // or false when no key matches. HF's `Precompiled::transform`.
  bool transform(std::string_view chunk, std::string_view& out) const;

  // Normalizes valid UTF-8 `in` and appends the result to `out`. Exactly HF's quirky loop:
  // per extended grapheme cluster, a cluster shorter than 6 bytes whose prefix matches is
  // replaced WHOLE by that match's replacement; otherwise each code point is transformed
  // on its own (or copied when it has no rule).
  void normalize(std::string_view in, std::string& out) const;

  // The raw blob (for tests / re-serialization).
  const std::string& blob() const { return blob_; }

 private:
  std::string_view strings() const { return std::string_view(blob_).substr(strings_begin_); }

  std::string blob_;
  std::vector<uint32_t> units_;
  size_t strings_begin_ = 0;  // byte offset of the replacement strings inside blob_
  // Replacement of each ASCII byte as (offset into strings_, length); offset -1: no rule.
  int32_t ascii_off_[128];
  uint8_t ascii_len_[128];
};

}  // namespace crossrank
