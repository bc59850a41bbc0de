// libFuzzer target: pairs.jsonl as `crossrank score --input` reads it
// (read_pairs_jsonl, src/util/pairs_jsonl.cc).
#include <sstream>

#include "util/error.h"
#include "util/pairs_jsonl.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  try {
    for (const auto& p : crossrank::read_pairs_jsonl(in, "pairs.jsonl"))
      if (p.query.size() > size || p.document.size() > size) __builtin_trap();
  } catch (const crossrank::Error&) {
  }
  return 0;
}
