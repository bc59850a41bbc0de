#pragma once
// Which engine configurations passed the real-weight quality gates, so that `crossrank
// bench` recommends only those. The gates run in CI (tests/engine/real_weights_test.cc) on a
// cross-encoder built from real trained weights (all-MiniLM-L6-v2 + a fitted head, see
// tests/data/models/real-minilm): each dtype ranks WikiQA (100 lists) and TREC-DL (43
// lists) candidates against fp32. int8: NDCG@10 agreement >= 0.995, same top-1 >= 97 %,
// real NDCG@10 drop <= 0.005; bf16: agreement >= 0.999; fp32: HF parity.
#include <string>

#include "backend/ops.h"
#include "crossrank/crossrank.h"

namespace crossrank::bench {

struct GateVerdict {
  bool passed = false;
  std::string why;  // one line: the evidence, or what the configuration lacks
};

// Verdict for an engine's dtype, backend and int8 precision choices (engine_int8_facts:
// data, not its describe() text), and its family's int8 gate status
// (Architecture::int8_gate_gap(): "" when the family passed the gates, else why not; e.g.
// decoders: no real decoder weights here).
GateVerdict quality_gate(DType dtype, BackendKind backend, const Int8Facts& int8,
                         const std::string& family_gap = "");

}  // namespace crossrank::bench
