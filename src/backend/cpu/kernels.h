#pragma once
// Row kernels of the CPU backend: LayerNorm / RMSNorm (+ residual), activations (GELU erf /
// tanh, SiLU, tanh) and gated units (GeGLU, SwiGLU), exp, soft-capping, per-token u8
// quantisation, int8 dequantisation, bf16 rounding/conversion.
//
// Every kernel works on ONE row (a token's feature vector, n = H, 3H or I floats); the
// caller parallelises over rows with OpenMP and composes several kernels inside the same
// loop so a row is touched while it is still in L1/L2 (e.g. int8: dequant + bias +
// residual + LayerNorm + quantise of the next GEMM's input, all in one pass).
//
// Dispatch: the kernels are written once (kernels_impl.h) and compiled per ISA level with
// that level's flags (kernels_scalar.cc, kernels_avx2.cc, kernels_avx512.cc); rk() is the
// table for this CPU (cpu_isa(), isa.h). A call through the table costs one indirect call
// per row (rows are >= 384 floats). The scalar table is the reference semantics.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "backend/cpu/isa.h"

namespace crossrank::cpu {

// Scalar helpers (also the reference semantics of the vector code).
inline uint16_t f32_to_bf16_rne(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
inline float bf16_to_f32(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline float gelu_erf_scalar(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f)); }

// Activations of act / glu: the same values, in the same order, as crossrank::Activation
// (backend/ops.h; static_assert'ed where both are visible). Why a copy: the ISA translation
// units include only this header, and ops.h would bring std containers into them, whose
// template instances the linker may share with baseline code.
// A quantised row's scale and zero point (x ~= scale (q - zp)).
struct RowScale {
  float scale;
  int32_t zp;
};

enum class RowAct : std::uint8_t { kIdentity, kGeluErf, kGeluTanh, kSilu, kTanh };

struct RowKernels {
  Isa isa;
  // x[0..n) += r[0..n)
  void (*add)(float* x, const float* r, int n);
  // x = LayerNorm(x + r) * g + b   (r, b may be null). Two-pass mean / variance.
  void (*add_layer_norm)(float* x, const float* r, int n, const float* g, const float* b, float eps);
  // x = RMSNorm(x + r) * g: x / sqrt(mean(x^2) + eps) * g (r may be null).
  void (*add_rms_norm)(float* x, const float* r, int n, const float* g, float eps);
  // x = GELU_erf(x) in place.
  void (*gelu)(float* x, int n);
  // y[0..n) = silu(z[0..n)) * z[n..2n)  (SwiGLU over a [gate | up] row).
  void (*swiglu)(const float* z, int n, float* y);
  // y[0..n) = act(x[0..n)); y may be x. GELU-tanh as x sigmoid(2u) (equal to
  // 0.5 x (1 + tanh u)); tanh with a polynomial below |x| 0.625 (relative error ~1e-7).
  void (*act)(RowAct a, const float* x, int n, float* y);
  // y[0..n) = act(z[0..n)) * z[n..2n)  (GeGLU / SwiGLU over a [gate | up] row); y may be z.
  void (*glu)(RowAct a, const float* z, int n, float* y);
  // s = cap * tanh(s / cap) in place (attention logit soft-capping, cap > 0).
  void (*softcap)(float* s, int n, float cap);
  // p[j] = exp(s[j] - mx) in place; returns sum_j p[j].
  float (*exp_sub_sum)(float* s, int n, float mx);
  float (*max)(const float* s, int n);
  void (*scale)(float* x, int n, float a);                     // x *= a
  void (*scale_to)(float* dst, const float* src, int n, float a);  // dst = a * src
  // Per-token asymmetric u8 quantisation: scale = (max(x,0) - min(x,0)) / 255,
  // zp = round(-min/scale), q = clamp(rne(x/scale) + zp), so x ~= scale (q - zp) and 0 is
  // exact. An all-zero row gets scale 1, zp 0.
  void (*quantize_u8)(const float* x, int n, uint8_t* q, float* scale, int32_t* zp);
  // Per-row symmetric s16 quantisation to [-qmax, qmax]: scale = max|x| / qmax, q =
  // clamp(rne(x / scale)); an all-zero row gets scale 1 (int8 on igemm_s16s8).
  void (*quantize_s16)(const float* x, int n, int qmax, int16_t* q, float* scale);
  // int8 GEMM epilogue for `rows` rows of n columns: y[r] = (acc[r] - q[r].zp * wsum) *
  // (q[r].scale * sw) + bias (row strides lda, ldy). acc is the s32 dot product; the
  // zero-point correction is an exact int32 subtraction. y may alias acc (in-place s32 ->
  // f32, lda == ldy). A block of rows per call: the igemm epilogue calls it per tile (up to 6
  // rows x 16 columns), where a call per 16-column row cost more than the pass it replaced.
  void (*dequant)(const int32_t* acc, std::size_t lda, int rows, int n, const RowScale* q, const int32_t* wsum,
                  const float* sw, const float* bias, float* y, std::size_t ldy);
  // dst = bf16(src) (round to nearest even), and bf16 rounding kept in fp32 storage.
  void (*to_bf16)(const float* src, int n, uint16_t* dst);
  void (*round_bf16)(const float* src, int n, float* dst);
};

// The table of level `isa` (the scalar one for levels this build has no kernels for).
// Precondition: isa <= detected_isa().
const RowKernels& row_kernels(Isa isa);
// The table for this CPU (cpu_isa()).
inline const RowKernels& rk() {
  static const RowKernels& k = row_kernels(cpu_isa());
  return k;
}

}  // namespace crossrank::cpu
