// libFuzzer target: pairs.jsonl as `crossrank score --input` reads it (read_pairs in
// src/app/score_cmd.cc, included here because it is file-local there; the engine is not
// linked, so Engine::open is a stub that run_score never reaches in this target).
#include <sstream>

#include "app/score_cmd.cc"

std::unique_ptr<crossrank::Engine> crossrank::Engine::open(const std::string&, const EngineOptions&) {
  throw Error("not linked in the fuzz target");
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  try {
    for (const auto& p : crossrank::read_pairs(in, "pairs.jsonl"))
      if (p.query.size() > size || p.document.size() > size) __builtin_trap();
  } catch (const crossrank::Error&) {
  }
  return 0;
}
