// The block kernel of sgemm_det (sgemm.h), written once and compiled per ISA
// (sgemm_avx2.cc: 8 floats a vector, sgemm_avx512.cc: 16). The including file defines
// CR_S_WIDTH and CR_S_NS first. A tile is MR rows x 2 vectors; each accumulator lane is
// one output's fma chain over one K chunk in order. No include guard: included once per ISA.
#include <immintrin.h>

#include <algorithm>
#include <cstddef>

#include "backend/cpu/sgemm.h"

namespace crossrank::cpu::CR_S_NS {
namespace {

#if CR_S_WIDTH == 16
using V = __m512;
constexpr int W = 16, MR = 8;
inline V vload(const float* p) { return _mm512_load_ps(p); }
inline V vloadu(const float* p) { return _mm512_loadu_ps(p); }
inline void vstoreu(float* p, V v) { _mm512_storeu_ps(p, v); }
inline V vset(float a) { return _mm512_set1_ps(a); }
inline V vzero() { return _mm512_setzero_ps(); }
inline V vfma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
inline V vadd(V a, V b) { return _mm512_add_ps(a, b); }
#else
using V = __m256;
constexpr int W = 8, MR = 6;
inline V vload(const float* p) { return _mm256_load_ps(p); }
inline V vloadu(const float* p) { return _mm256_loadu_ps(p); }
inline void vstoreu(float* p, V v) { _mm256_storeu_ps(p, v); }
inline V vset(float a) { return _mm256_set1_ps(a); }
inline V vzero() { return _mm256_setzero_ps(); }
inline V vfma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
inline V vadd(V a, V b) { return _mm256_add_ps(a, b); }
#endif
constexpr int NR = 2 * W;

// An R-row tile over k in [0, kc): per chunk of kSgemmChunk, fresh chains in registers,
// then added to the tile's running sums (`run`, an L1 buffer that starts from C, the bias
// or 0). kc is a multiple of the chunk except at the end of K, so chunks sit at fixed k.
template <int R>
inline void tile(const float* a, std::size_t lda, const float* w, int kc, float* c, std::size_t ldc, int nvalid,
                 bool cont, const float* bias) {
  alignas(64) float run[R * NR];
  for (int i = 0; i < R; ++i) {
    float* r = run + i * NR;
    if (!cont) {
      vstoreu(r, bias ? vloadu(bias) : vzero());
      vstoreu(r + W, bias ? vloadu(bias + W) : vzero());
    } else if (nvalid == NR) {
      vstoreu(r, vloadu(c + i * ldc));
      vstoreu(r + W, vloadu(c + i * ldc + W));
    } else {
      std::fill(r + nvalid, r + NR, 0.f);
      std::copy(c + i * ldc, c + i * ldc + nvalid, r);
    }
  }
  for (int k0 = 0; k0 < kc; k0 += kSgemmChunk) {
    const int k1 = std::min(kc, k0 + kSgemmChunk);
    V acc0[R], acc1[R];
    for (int i = 0; i < R; ++i) acc0[i] = acc1[i] = vzero();
#pragma GCC unroll 4
    for (int k = k0; k < k1; ++k) {
      const V w0 = vload(w + NR * k), w1 = vload(w + NR * k + W);
#pragma GCC unroll 8
      for (int i = 0; i < R; ++i) {
        const V b = vset(a[i * lda + k]);
        acc0[i] = vfma(b, w0, acc0[i]);
        acc1[i] = vfma(b, w1, acc1[i]);
      }
    }
    for (int i = 0; i < R; ++i) {
      vstoreu(run + i * NR, vadd(vloadu(run + i * NR), acc0[i]));
      vstoreu(run + i * NR + W, vadd(vloadu(run + i * NR + W), acc1[i]));
    }
  }
  // Full tiles store with two vector moves: std::copy of a run-time length became a
  // memmove call per row, 4.5 % of a MiniLM fp32 forward (Zen 3 AVX2, perf, 2026-12).
  if (nvalid == NR) {
    for (int i = 0; i < R; ++i) {
      vstoreu(c + i * ldc, vload(run + i * NR));
      vstoreu(c + i * ldc + W, vload(run + i * NR + W));
    }
    return;
  }
  for (int i = 0; i < R; ++i) std::copy(run + i * NR, run + i * NR + nvalid, c + i * ldc);
}

template <int R>
inline void tail(const float* a, std::size_t lda, int M, const float* w, int kc, float* c, std::size_t ldc,
                 int nvalid, bool cont, const float* bias) {
  if constexpr (R > 0) {
    if (M == R) return tile<R>(a, lda, w, kc, c, ldc, nvalid, cont, bias);
    tail<R - 1>(a, lda, M, w, kc, c, ldc, nvalid, cont, bias);
  }
}

}  // namespace

void sgemm_block(const float* a, std::size_t lda, int M, const float* w, int kc, float* C, std::size_t ldc,
                 int nvalid, bool cont, const float* bias) {
  int m = 0;
  for (; m + MR <= M; m += MR) tile<MR>(a + m * lda, lda, w, kc, C + m * ldc, ldc, nvalid, cont, bias);
  if (m < M) tail<MR - 1>(a + m * lda, lda, M - m, w, kc, C + m * ldc, ldc, nvalid, cont, bias);
}

}  // namespace crossrank::cpu::CR_S_NS
