// libFuzzer target: tokenizer.json parsing. The input is written as tokenizer.json in a
// scratch folder and opened with load_tokenizer(dir) (which picks the model type from the
// file: Unigram, WordPiece, and BPE once supported); a tokenizer that loads must then
// encode a few fixed texts. Anything but crossrank::Error escaping is a bug.
#include <string>

#include "fuzz_util.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

using namespace crossrank;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::write_scratch("tokenizer.json", data, size);
  try {
    const auto tok = load_tokenizer(fuzz::scratch_dir().string());
    for (const char* text : {"hello world", "Ünïcödé 中文 😀", "a", "  spaces\tand\nnewlines  "}) {
      for (int32_t id : tok->encode(text))
        if (id < 0 || id >= tok->vocab_size()) __builtin_trap();
    }
  } catch (const Error&) {
  }
  return 0;
}
