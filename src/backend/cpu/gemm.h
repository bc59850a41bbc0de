#pragma once
// Linear layers of the CPU backend on oneDNN matmul:  y[M,N] = x[M,K] W[N,K]^T (+ epilogue).
//
// * Weights are converted / quantised once at construction and reordered into the layout
//   the matmul implementation asks for (format_tag::any).
// * M (tokens in the batch) changes every call, so the primitive is created once with
//   M = DNNL_RUNTIME_DIM_VAL. If an implementation cannot do runtime M (or only a "ref"
//   one can), primitives are created per exact M against the fixed packed weight layout
//   and cached (guarded by a mutex; oneDNN's own primitive cache sits below that).
// * Parallelism: oneDNN runs each GEMM on the whole OpenMP pool (both cores here).
//
// Precisions:
//  kF32         src f32, weights f32, dst f32; bias (+GELU erf / tanh | +residual via sum)
//               as post-ops.
//  kBf16        src bf16 (converted by the caller, see needs_bf16_src), weights bf16,
//               dst f32, same post-ops. Used where oneDNN has a native bf16 matmul
//               (AVX512_BF16 / AMX).
//  kBf16Emu     the same numerics on CPUs without bf16 matmul (oneDNN 2.6 on AVX2 cannot
//               create a bf16 matmul at all): weights rounded to bf16 and stored as
//               f32, the caller rounds activations to bf16; the GEMM itself runs in f32.
//  kInt8        src u8 (per-token scale + zero point, quantised by the caller), weights s8
//               symmetric per output channel (8 bits), dst s32; the caller applies
//               RowKernels::dequant. Where oneDNN's u8*s8 saturates (no VNNI) the GEMM is
//               crossrank's own exact kernel (igemm.h) instead: s16 activations and
//               weights over igemm_range(K), dequantised in its epilogue (run() with an
//               IgemmEpilogue).
//
// Why oneDNN, u8 sources and runtime-M primitives (AMD EPYC Zen 3, AVX2, 2026-10): fp32
// 143-161 GFLOP/s vs OpenBLAS 97-141 on v2-m3's shapes; u8*s8 beats s8*s8; runtime M costs
// nothing measurable. Tables: docs/performance.md "GEMM library".
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "backend/cpu/igemm.h"
#include "backend/cpu/sgemm.h"

namespace crossrank::cpu {

enum class GemmPrec { kF32, kBf16, kBf16Emu, kInt8 };
// accumulate: y += xW^T + b; GELU erf / tanh (oneDNN eltwise post-ops, or the row kernels
// after sgemm_det).
enum class GemmPost { kBias, kBiasGelu, kBiasAccumulate, kBiasGeluTanh };

// Process-wide facts about what this CPU's oneDNN can do (probed once, thread-safe).
struct GemmCaps {
  bool bf16_native = false;      // a non-reference bf16 matmul exists
  bool int8_saturates = false;   // oneDNN's u8*s8 pairs saturate at s16 (no VNNI): int8
                                 // GEMMs run on igemm_s16s8 (exact, 8-bit weights) instead
  std::string isa;               // oneDNN's effective ISA, for logs
};
const GemmCaps& gemm_caps();
// True when int8 GEMMs run on igemm_s16s8: oneDNN's would saturate, or the kernels are
// capped at AVX2 or below (CROSSRANK_CPU_ISA, so that CI on a VNNI CPU runs this path too).
bool use_igemm();
// True when fp32 and emulated-bf16 GEMMs run on sgemm_det (sgemm.h) in the default mode too,
// not only under --deterministic: where the dispatch is exactly AVX2. Why: there oneDNN's
// gemm:jit ran a v2-m3 pair's M = 163 rows at half sgemm_det's speed (dnn/det 0.48-0.50 over
// the six v2-m3 and base GEMM shapes) and equals it at M = 1600 (0.97-1.01; AMD EPYC Zen 3,
// 2 threads, 2026-12-07). CROSSRANK_FP32_GEMM=onednn or =sgemm overrides the
// choice; another non-empty value throws Error (when the CPU backend is created, i.e. at
// engine open).
bool use_sgemm_fp32();

class Linear {
 public:
  // W = rows of the blocks stacked: block b is [rows[b], K] row-major (HF layout);
  // bias likewise (f32, used by the f32/bf16 post-ops and by the int8 epilogue).
  // sgemm_det (kF32 / kBf16Emu): the GEMM is sgemm_det (batch-invariant, sgemm.h) instead of
  // oneDNN; the caller decides (CpuOps: --deterministic or use_sgemm_fp32()). int8 GEMMs are
  // exact integer sums either way; native bf16 has no batch-invariant kernel (Error).
  Linear(const dnnl::engine& eng, GemmPrec prec, GemmPost post, const std::vector<const float*>& w_blocks,
         const std::vector<const float*>& b_blocks, const std::vector<int>& rows, int K, bool force_fixed_m = false,
         bool sgemm_det = false);

  int N() const { return N_; }
  int K() const { return K_; }
  GemmPrec prec() const { return prec_; }
  // True when this int8 GEMM is crossrank's igemm (use_igemm()): it reads s16 activations.
  bool s16_activations() const { return own_ != nullptr; }

  // f32 / bf16 / bf16-emu: y[M,N] (ldy = N) = post(src[M,K] W^T + b). src is float* for
  // kF32/kBf16Emu and uint16_t* (bf16) for kBf16. For kBiasAccumulate y is read first.
  // kInt8: src is uint8_t* (oneDNN, u8 activations) or int16_t* (s16_activations(): s16
  // activations within igemm_range(K).a), y is int32_t* (raw s32 accumulators, no bias).
  void run(dnnl::stream& s, const void* src, int M, void* y) const;
  // kInt8 with s16_activations() only: the s32 sums go to f tile by tile instead of to
  // memory, and the extra rows' sums, if any, to extra->C (igemm.h).
  void run(const int16_t* src, int M, const IgemmEpilogue& f, const IgemmExtra* extra = nullptr) const;

  // int8 epilogue parameters (see RowKernels::dequant in kernels.h).
  const float* w_scale() const { return w_scale_.data(); }
  const int32_t* w_sum() const { return w_sum_.data(); }
  const float* bias() const { return bias_.data(); }

  std::string impl_info() const { return impl_; }
  std::size_t weight_bytes() const {
    return own_ ? own_->bytes() : det_ ? det_->bytes() : wmem_.get_desc().get_size();
  }

 private:
  dnnl::matmul::primitive_desc make_pd(dnnl::memory::dim M, const dnnl::memory::desc& wdesc) const;
  dnnl::matmul prim_for(int M) const;

  dnnl::engine eng_;
  GemmPrec prec_;
  GemmPost post_;
  int N_, K_;
  std::vector<float> bias_, w_scale_;
  std::vector<int32_t> w_sum_;
  dnnl::memory wmem_, bias_mem_;
  std::unique_ptr<PackedS8> own_;   // int8 on igemm_s16s8 (no oneDNN primitive then)
  std::unique_ptr<PackedF32> det_;  // fp32 / bf16-emu on sgemm_det
  dnnl::primitive_attr attr_;
  bool runtime_m_ = true;
  dnnl::matmul prim_;  // runtime-M primitive
  std::string impl_;
  mutable std::mutex mu_;
  mutable std::unordered_map<int, dnnl::matmul> by_m_;
};

}  // namespace crossrank::cpu
