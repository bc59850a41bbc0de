#pragma once
// Internal knobs and introspection of the optimised CPU ops, for tests and benchmarks.
// Production code uses make_cpu_ops() from backend/backend.h (default options).
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "backend/ops.h"

namespace crossrank::cpu {

struct CpuOpsOptions {
  int attn_q_block = 64;    // query rows per attention task
  int attn_k_block = 1024;  // keys per online-softmax block (scratch = q_block x k_block)
  bool attn_sgemm = false;  // oneDNN sgemm per attention block instead of the AVX2 kernels
  // Attention products in bf16 (VDPBF16PS, fp32 softmax) for the bf16 dtype (attn_bf16)
  // and the int8 dtype (attn_bf16_int8) where the CPU has AVX512_BF16; false keeps them
  // fp32. Why not for int8 by default: on real weights (all-MiniLM-L6-v2 + fitted head,
  // SmoothQuant 0.5) fp32 attention keeps WikiQA top-1 at 98 % where bf16 gives 96 %
  // (below the 97 % gate); see the precise-rows note in cpu_ops_impl.h.
  bool attn_bf16 = true;
  bool attn_bf16_int8 = false;
  // Rows per FFN block (OpsCaps::ffn_block_rows); 0: the whole pass at once. Why 0: on a
  // 2-core Zen 4 (v2-m3, 8 x 184 tokens, int8) blocks of 64-512 rows cost more in GEMM
  // efficiency than they saved in row-pass traffic (5.38 pairs/s whole, 4.3-5.5 blocked).
  int ffn_block_rows = 0;
  // int8: the pooled rows (Ops::pooled_rows) with 16-bit activations (cpu_ops_impl.h).
  bool precise_pooled = true;
  // int8: SmoothQuant scale migration with this alpha when input statistics are given
  // (Ops::set_input_stats; the runner calibrates on built-in pairs); 0: off (cpu_ops_impl.h).
  float smooth_alpha = 0.5f;
  // Calibration statistics include the pooled rows (their outliers set some factors).
  // Why true: WikiQA int8 top-1 98 % with, 96 % without (alpha 0.5, fp32 attention).
  bool smooth_stats_pooled = true;
  // Batch-invariant GEMMs (sgemm_det for fp32 and bf16, which is then emulated; int8 is
  // exact anyway) and no oneDNN sgemm in attention (EngineOptions::deterministic).
  bool deterministic = false;
  bool force_fixed_m = false;         // test hook: per-M GEMM primitives instead of runtime M
  bool force_bf16_emulation = false;  // test hook: emulated bf16 even if native exists
  bool compose_epilogues = false;     // test hook: fuses() only kNone / kResidual, so the base
                                      // class composes the others from primitives
  bool profile = false;     // accumulate wall time per op (adds no synchronisation: every op
                            // already ends with an OpenMP barrier)
};

// Implemented by the ops make_cpu_ops_ex returns (dynamic_cast to reach it).
class CpuOpsInfo {
 public:
  virtual ~CpuOpsInfo() = default;
  // Seconds per op accumulated since the last reset (profile only).
  virtual std::vector<std::pair<std::string, double>> op_seconds() const = 0;
  virtual void reset_profile() = 0;
};

std::unique_ptr<Ops> make_cpu_ops_ex(DType dtype, const CpuOpsOptions& opts);

}  // namespace crossrank::cpu
