#pragma once
// Internal knobs and introspection of the optimised CPU backend, for tests and benchmarks.
// Production code uses make_cpu_backend() from backend/backend.h (default options).
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "backend/backend.h"

namespace crossrank::cpu {

struct CpuBackendOptions {
  // Last layer computes attention output / FFN / LayerNorms for the first token of each
  // sequence only (K and V still for all tokens). Exact: only row 0 feeds the head.
  bool last_layer_shortcut = true;
  int attn_q_block = 64;    // query rows per attention task
  int attn_k_block = 1024;  // keys per online-softmax block (scratch = q_block x k_block)
  bool attn_sgemm = false;  // oneDNN sgemm per attention block instead of the AVX2 kernels
  bool force_fixed_m = false;     // test hook: per-M GEMM primitives instead of runtime M
  bool force_bf16_emulation = false;  // test hook: emulated bf16 even if native exists
  bool profile = false;     // accumulate wall time per op (adds no synchronisation: every op
                            // already ends with an OpenMP barrier)
};

// Implemented by the backend returned from make_cpu_backend_ex (dynamic_cast to reach it).
class CpuBackendInfo {
 public:
  virtual ~CpuBackendInfo() = default;
  // Bytes of the activation arena the last forward() allocated.
  virtual std::size_t last_arena_bytes() const = 0;
  // Seconds per op accumulated over forward() calls since the last reset (profile only).
  virtual std::vector<std::pair<std::string, double>> op_seconds() const = 0;
  virtual void reset_profile() = 0;
  // One line: GEMM implementations, bf16 native/emulated, int8 weight bits, ISA.
  virtual std::string describe() const = 0;
};

std::unique_ptr<Backend> make_cpu_backend_ex(std::shared_ptr<const ModelWeights> weights, DType dtype,
                                             const CpuBackendOptions& opts);

}  // namespace crossrank::cpu
