#pragma once
// Math shared by the host, the device and the host emulator of the kernels
// (tests/cuda_emu/): element conversions (round to nearest even), the activations (erf /
// tanh GELU, SiLU, tanh), the attention key ranges and soft-cap, the online-softmax step, element access with a run-time element type, and warp /
// block reductions (device and emulator only). The host-callable functions are tested on
// the CPU against the reference op's formulas (tests/backend/cuda/cuda_host_test.cc).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "backend/cuda/kernels.h"

#define CR_HD __host__ __device__ __forceinline__

#if defined(__CUDACC__) || defined(CROSSRANK_CUDA_EMU)
#define CROSSRANK_CUDA_KERNELS 1
#endif

#if defined(__CUDACC__)
// Dynamic shared memory of a kernel (the emulator defines its own).
#define CR_DYN_SMEM(name) extern __shared__ __align__(128) unsigned char name[]
#define CR_UNROLL _Pragma("unroll")
#else
#define CR_UNROLL
#endif

// Kernel code is compiled twice: by nvcc for the GPU and by the host compiler for the
// emulator (tests/cuda_emu). An inline namespace keeps the two sets of symbols apart, so a
// binary may hold both without one definition silently replacing the other.
#if defined(CROSSRANK_CUDA_EMU)
#define CR_KERNEL_NS host_emulated
#else
#define CR_KERNEL_NS native
#endif

namespace crossrank::cuda {
inline namespace CR_KERNEL_NS {

// ---- element conversions ------------------------------------------------------------
CR_HD float to_f32(float x) { return x; }
CR_HD float to_f32(__half x) { return __half2float(x); }
CR_HD float to_f32(__nv_bfloat16 x) { return __bfloat162float(x); }

template <class T>
CR_HD T from_f32(float x);
template <>
CR_HD float from_f32<float>(float x) {
  return x;
}
template <>
CR_HD __half from_f32<__half>(float x) {
  return __float2half_rn(x);
}
template <>
CR_HD __nv_bfloat16 from_f32<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}

// Element i of p, whose type is e (run-time element type).
CR_HD float load_any(const void* p, std::size_t i, Elem e) {
  switch (e) {
    case Elem::kF16: return __half2float(static_cast<const __half*>(p)[i]);
    case Elem::kBF16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}
CR_HD void store_any(void* p, std::size_t i, Elem e, float v) {
  switch (e) {
    case Elem::kF16: static_cast<__half*>(p)[i] = __float2half_rn(v); break;
    case Elem::kBF16: static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(v); break;
    default: static_cast<float*>(p)[i] = v;
  }
}

// Element access of a kernel instance: T = float / __half / __nv_bfloat16 when every
// operand has that type (the hot path), AnyElem when they differ (per-sequence fp32 rows
// next to dtype rows), which reads the run-time type.
struct AnyElem {};
template <class T>
struct Io {
  CR_HD static float ld(const void* p, std::size_t i, Elem) { return to_f32(static_cast<const T*>(p)[i]); }
  CR_HD static void st(void* p, std::size_t i, Elem, float v) { static_cast<T*>(p)[i] = from_f32<T>(v); }
};
template <>
struct Io<AnyElem> {
  CR_HD static float ld(const void* p, std::size_t i, Elem e) { return load_any(p, i, e); }
  CR_HD static void st(void* p, std::size_t i, Elem e, float v) { store_any(p, i, e, v); }
};

// Calls f(T{}) with the C++ type of e (float, __half, __nv_bfloat16).
template <class F>
void with_elem(Elem e, F&& f) {
  switch (e) {
    case Elem::kF16: f(__half{}); break;
    case Elem::kBF16: f(__nv_bfloat16{}); break;
    default: f(float{});
  }
}

// ---- activations ----------------------------------------------------------------------
// GELU with the exact erf (BERT / XLM-R), as the reference op.
CR_HD float gelu_erf(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752440f)); }
CR_HD float silu(float x) { return x / (1.0f + expf(-x)); }
CR_HD float gelu_tanh(float x) {
  return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
}
// act(x) for an elementwise activation (ops.h activate_ref's formulas).
CR_HD float act_fn(ActFn f, float x) {
  switch (f) {
    case ActFn::kGeluErf: return gelu_erf(x);
    case ActFn::kGeluTanh: return gelu_tanh(x);
    case ActFn::kSilu: return silu(x);
    case ActFn::kTanh: return tanhf(x);
    default: return x;
  }
}

// ---- online softmax (FlashAttention) ---------------------------------------------------
// Running state of one query row: max m of the scores seen, sum l of exp(score - m).
struct SoftmaxState {
  float m = -INFINITY;
  float l = 0.f;
};
// Folds in a block of scores whose max is `block_max`: returns the factor that rescales
// l and the output accumulator (0 before the first finite score) and moves m to the new
// max. The caller then adds exp(score - s.m) of the block to l and to the accumulator.
CR_HD float softmax_advance(SoftmaxState& s, float block_max) {
  const float m_new = fmaxf(s.m, block_max);
  const float alpha = s.m == -INFINITY ? 0.f : expf(s.m - m_new);
  s.m = m_new;
  s.l *= alpha;
  return alpha;
}
// exp(score - m) of one score, 0 for a masked score (-inf) or before any finite score.
CR_HD float softmax_weight(const SoftmaxState& s, float score) {
  return score == -INFINITY || s.m == -INFINITY ? 0.f : expf(score - s.m);
}

// ---- key addressing of varlen attention ---------------------------------------------------
// Token row of logical key j of a sequence whose keys are its parent's `np` tokens (from
// row p0), then its own (from row s0).
CR_HD int key_row(int j, int np, int p0, int s0) { return j < np ? p0 + j : s0 + (j - np); }
// Logical keys [lo, hi) that the query at own position i sees (np parent keys, n own):
// causal and / or sliding window (ops.h AttnDesc).
CR_HD void attn_row_keys(const AttnArgs& a, int np, int n, int i, int& lo, int& hi) {
  const int q = np + i;
  lo = a.window > 0 ? (q - a.window > 0 ? q - a.window : 0) : 0;
  hi = a.causal ? q + 1 : a.window > 0 ? (q + a.window + 1 < np + n ? q + a.window + 1 : np + n) : np + n;
}
// A score from scale * q.k, soft-capped when asked.
CR_HD float attn_score(const AttnArgs& a, float scaled) {
  return a.softcap > 0.f ? a.softcap * tanhf(scaled / a.softcap) : scaled;
}

#if defined(CROSSRANK_CUDA_KERNELS)
// ---- reductions (device / emulator) ---------------------------------------------------
__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
// Sum over the block (blockDim.x a multiple of 32, <= 1024); every thread gets it. `red`
// is a 32-float shared buffer; safe to call repeatedly with the same buffer.
__device__ __forceinline__ float block_sum(float v, float* red) {
  v = warp_sum(v);
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
  __syncthreads();  // the previous call's readers are done with red
  if (lane == 0) red[w] = v;
  __syncthreads();
  return warp_sum(lane < nw ? red[lane] : 0.f);
}

// Copies 16 bytes (both pointers 16-byte aligned).
__device__ __forceinline__ void copy16(void* dst, const void* src) {
#if defined(__CUDACC__)
  *static_cast<uint4*>(dst) = *static_cast<const uint4*>(src);
#else
  std::memcpy(dst, src, 16);
#endif
}
__device__ __forceinline__ void zero16(void* dst) {
#if defined(__CUDACC__)
  *static_cast<uint4*>(dst) = uint4{0u, 0u, 0u, 0u};
#else
  std::memset(dst, 0, 16);
#endif
}

// LayerNorm / RMSNorm of x[0..n) in shared memory, in place, fp32 two-pass statistics as
// the reference op (mean, then the mean squared deviation). Thread t owns columns
// t, t + blockDim.x, ...: it only reads and writes those, so no barrier is needed around
// the call; `red` is a 32-float shared buffer.
__device__ __forceinline__ void normalize_row(float* x, int n, bool rms, const float* gamma, const float* beta,
                                              float eps, float* red) {
  if (!rms) {
    float s = 0.f;
    for (int c = threadIdx.x; c < n; c += blockDim.x) s += x[c];
    const float mean = block_sum(s, red) / static_cast<float>(n);
    float q = 0.f;
    for (int c = threadIdx.x; c < n; c += blockDim.x) {
      const float d = x[c] - mean;
      q += d * d;
    }
    const float inv = rsqrtf(block_sum(q, red) / static_cast<float>(n) + eps);
    for (int c = threadIdx.x; c < n; c += blockDim.x) x[c] = (x[c] - mean) * inv * gamma[c] + (beta ? beta[c] : 0.f);
  } else {
    float q = 0.f;
    for (int c = threadIdx.x; c < n; c += blockDim.x) q += x[c] * x[c];
    const float inv = rsqrtf(block_sum(q, red) / static_cast<float>(n) + eps);
    for (int c = threadIdx.x; c < n; c += blockDim.x) x[c] = gamma[c] * (x[c] * inv);
  }
}
#endif

}  // namespace CR_KERNEL_NS
}  // namespace crossrank::cuda
