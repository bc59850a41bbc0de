#include "backend/cpu/sgemm.h"

#include <algorithm>
#include <cmath>

#include "backend/cpu/block_items.h"
#include "backend/cpu/isa.h"

namespace crossrank::cpu {

PackedF32::PackedF32(const float* w, int N, int K, const float* bias)
    : N_(N), K_(K), nr_(cpu_isa() >= Isa::kAvx512 ? 32 : 16),
      data_(aligned_zeros<float>(static_cast<std::size_t>(panels()) * K_ * nr_)) {
  if (bias) {
    bias_.assign(static_cast<std::size_t>(panels()) * nr_, 0.f);
    std::copy(bias, bias + N, bias_.begin());
  }
#pragma omp parallel for schedule(static)
  for (int pn = 0; pn < panels(); ++pn) {
    float* dst = data_.get() + static_cast<std::size_t>(pn) * K_ * nr_;
    for (int j = 0; j < nr_ && pn * nr_ + j < N; ++j) {
      const float* src = w + static_cast<std::size_t>(pn * nr_ + j) * K;
      for (int k = 0; k < K; ++k) dst[static_cast<std::size_t>(k) * nr_ + j] = src[k];
    }
  }
}

namespace {

// The portable kernel: the same chunk chains and additions per element, with std::fma.
void scalar_block(const float* a, std::size_t lda, int M, const float* w, int nr, int kc, float* C, std::size_t ldc,
                  int nvalid, bool cont, const float* bias) {
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < nvalid; ++n) {
      float run = cont ? C[m * ldc + n] : bias ? bias[n] : 0.f;
      for (int k0 = 0; k0 < kc; k0 += kSgemmChunk) {
        float s = 0.f;
        for (int k = k0; k < std::min(kc, k0 + kSgemmChunk); ++k)
          s = std::fma(a[m * lda + k], w[static_cast<std::size_t>(k) * nr + n], s);
        run += s;
      }
      C[m * ldc + n] = run;
    }
}

}  // namespace

void sgemm_det(const float* A, std::size_t lda, int M, const PackedF32& W, float* C, std::size_t ldc,
               bool accumulate) {
  if (M <= 0) return;
  // Blocking (AMD EPYC Zen 3, 2 cores): MC rows of A against each panel in K chunks of KC
  // (KC * nr * 4 bytes: 64 KB on AVX2, L2); threads take (row block, panel) items
  // (block_items.h). None of it changes a row's chain (sgemm.h).
  // Why MC = 192, KC = 1024 and dynamic items: 1.08-1.16x the static MC = 96, KC = 256
  // split at M = 1392-2052 on the v2-m3 and bge-reranker-base shapes (median of 8
  // interleaved runs, 2 threads; oneDNN gemm:jit 1.11-1.19x; AMD EPYC Zen 3, 2026-12-07).
  constexpr int MC = 192, KC = 8 * kSgemmChunk;  // KC a multiple of the chunk (sgemm.h)
  const Isa isa = cpu_isa();
  const int N = W.N(), K = W.K(), nr = W.nr(), P = W.panels();
  const bool v512 = isa >= Isa::kAvx512 && nr == 32, v256 = isa >= Isa::kAvx2 && nr == 16;
  for_each_block_panel(M, MC, P, 2, [&](int m0, int mc, int p) {
    const int nvalid = std::min(nr, N - nr * p);
    for (int k0 = 0; k0 < K; k0 += KC) {
      const int kc = std::min(KC, K - k0);
      const float* a = A + static_cast<std::size_t>(m0) * lda + k0;
      const float* w = W.panel(p) + static_cast<std::size_t>(k0) * nr;
      float* c = C + static_cast<std::size_t>(m0) * ldc + static_cast<std::size_t>(nr) * p;
      const bool cont = k0 > 0 || accumulate;
      const float* b = W.bias(p);
      if (v512) avx512::sgemm_block(a, lda, mc, w, kc, c, ldc, nvalid, cont, b);
      else if (v256) avx2::sgemm_block(a, lda, mc, w, kc, c, ldc, nvalid, cont, b);
      else scalar_block(a, lda, mc, w, nr, kc, c, ldc, nvalid, cont, b);
    }
  });
}

}  // namespace crossrank::cpu
