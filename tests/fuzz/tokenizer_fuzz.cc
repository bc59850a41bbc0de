// libFuzzer target: a tokenizer on arbitrary bytes. The folder comes from
// $CROSSRANK_FUZZ_TOKENIZER_DIR (default: the XLM-R Unigram test tokenizer) and is opened
// with load_tokenizer(dir), so the same binary fuzzes XLM-R Unigram
// (tests/data/tokenizers/xlmr-unigram), BERT WordPiece (tests/data/models/tiny-bert) and
// any tokenizer a folder holds (the Qwen BPE once load_tokenizer knows it).
// Contract checked: encode() returns ids inside the vocabulary, or throws crossrank::Error
// (invalid UTF-8 only: valid UTF-8 must always encode).
#include <cstdlib>
#include <memory>
#include <string_view>

#include "fuzz_util.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

using namespace crossrank;

namespace {
const Tokenizer& tokenizer() {
  static const std::unique_ptr<Tokenizer> tok = [] {
    const char* env = std::getenv("CROSSRANK_FUZZ_TOKENIZER_DIR");
    return load_tokenizer(env && *env ? env : fuzz::source_dir() + "/tests/data/tokenizers/xlmr-unigram");
  }();
  return *tok;
}

bool valid_utf8(std::string_view s) {
  try {
    check_utf8(s, "input");
    return true;
  } catch (const Error&) {
    return false;
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Tokenizer& tok = tokenizer();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const bool valid = valid_utf8(text);
  try {
    const std::vector<int32_t> ids = tok.encode(text);
    if (!valid) __builtin_trap();  // invalid UTF-8 must be refused
    for (int32_t id : ids)
      if (id < 0 || id >= tok.vocab_size()) __builtin_trap();
  } catch (const Error&) {
    if (valid) __builtin_trap();  // valid UTF-8 must always encode
  }
  return 0;
}
