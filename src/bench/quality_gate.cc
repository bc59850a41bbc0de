#include "bench/quality_gate.h"

#include <vector>

namespace crossrank::bench {

GateVerdict quality_gate(DType dtype, BackendKind backend, const Int8Facts& int8, const std::string& family_gap) {
  switch (dtype) {
    case DType::kFp32:
      return {true, "fp32: HF parity (real MiniLM, 263 pairs, max |dlogit| 3e-6)"};
    case DType::kBf16:
    case DType::kFp16:
      if (backend == BackendKind::kCuda)
        return {true, std::string(to_string(dtype)) +
                          " on CUDA: goldens within tolerance in scripts/gpu_check.sh (no real-weight run on a GPU)"};
      return {true, "bf16: real-weight agreement 0.99998 (WikiQA) / 0.99998 (TREC-DL), gate 0.999"};
    case DType::kInt8: {
      // The configurations the gates passed with (cpu_ops.cc): 8-bit weights (VNNI), or
      // without VNNI igemm_s16s8's wider weights and s16 activations; SmoothQuant
      // calibrated at load, 16-bit pooled rows, fp32 attention.
      std::vector<std::string> missing;
      if (!family_gap.empty()) missing.push_back(family_gap);
      if (int8.weight_bits < 8)
        missing.push_back("7-bit weights without VNNI (real-weight gate fails: WikiQA top-1 96 %, TREC-DL 95.3 %)");
      if (!int8.smoothquant) missing.push_back("no SmoothQuant calibration");
      if (!int8.pooled16) missing.push_back("8-bit pooled rows");
      if (!int8.attention_fp32) missing.push_back("bf16 attention");
      if (missing.empty())
        return {true, int8.s16_activations
                          ? "int8 (s16 activations, no VNNI): real-weight gates passed (WikiQA agreement 1.00000, "
                            "top-1 100 %; TREC-DL 1.00000, 100 %)"
                          : "int8: real-weight gates passed (WikiQA agreement 0.99985, top-1 98 %; TREC-DL 0.99965, "
                            "100 %)"};
      std::string why = "int8 not gated here: ";
      for (std::size_t i = 0; i < missing.size(); ++i) why += (i ? "; " : "") + missing[i];
      return {false, why};
    }
  }
  return {false, "unknown dtype"};
}

}  // namespace crossrank::bench
