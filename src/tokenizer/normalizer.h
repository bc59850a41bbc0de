#pragma once
// The normalizers crossrank supports, shared by every tokenizer model: a flattened HF
// normalizer Sequence of Precompiled (SentencePiece charsmap), Replace, Strip,
// BertNormalizer and NFC steps, each exactly as Hugging Face `tokenizers` 0.23 applies it.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/bert_text.h"
#include "tokenizer/charsmap.h"

namespace crossrank {

// One step of the (flattened) normalizer sequence.
struct NormalizerStep {
  enum class Kind { kPrecompiled, kReplace, kStrip, kBert, kNfc };
  Kind kind = Kind::kReplace;
  std::shared_ptr<const PrecompiledCharsmap> charsmap;  // kPrecompiled
  // kReplace: every leftmost non-overlapping match of `pattern` becomes `content`. With
  // min_repeat > 0 the pattern is the regex "<pattern>{min_repeat,}" (pattern = one char).
  std::string pattern;
  int min_repeat = 0;
  std::string content;
  bool strip_left = false;  // kStrip (Rust char::is_whitespace)
  bool strip_right = false;
  BertNormalizerOptions bert;  // kBert
};

class Normalizer {
 public:
  Normalizer() = default;
  // Precondition: every kPrecompiled step has a charsmap.
  explicit Normalizer(std::vector<NormalizerStep> steps) : steps_(std::move(steps)) {}

  // True when there is no step (normalization is the identity).
  bool empty() const { return steps_.empty(); }
  const std::vector<NormalizerStep>& steps() const { return steps_; }

  // Replaces `out` with the normalization of valid UTF-8 `in` (which must not alias `out`
  // or `tmp`); `tmp` is scratch. Linear time.
  void normalize(std::string_view in, std::string& out, std::string& tmp) const;

  // Convenience form of normalize() for one-off strings.
  std::string normalize(std::string_view in) const;

 private:
  std::vector<NormalizerStep> steps_;
};

}  // namespace crossrank
