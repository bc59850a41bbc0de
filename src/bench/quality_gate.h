#pragma once
// Which engine configurations passed the real-weight quality gates, so that `crossrank
// bench` recommends only those. The gates run in CI (tests/real_weights_test.cc) on a
// cross-encoder built from real trained weights (all-MiniLM-L6-v2 + a fitted head, see
// tests/data/models/real-minilm): each dtype ranks WikiQA (100 lists) and TREC-DL (43
// lists) candidates against fp32. int8: NDCG@10 agreement >= 0.995, same top-1 >= 97 %,
// real NDCG@10 drop <= 0.005; bf16: agreement >= 0.999; fp32: HF parity.
#include <string>

#include "crossrank/crossrank.h"

namespace crossrank::bench {

struct GateVerdict {
  bool passed = false;
  std::string why;  // one line: the evidence, or what the configuration lacks
};

// Verdict for an engine's dtype, backend, Engine::describe() line and model family
// (ModelInfo::family). The gates ran on an encoder cross-encoder; a decoder family's int8
// has no real-weight gate (no real decoder weights here), so it is not gated.
GateVerdict quality_gate(DType dtype, BackendKind backend, const std::string& describe,
                         const std::string& family = "bert");

}  // namespace crossrank::bench
