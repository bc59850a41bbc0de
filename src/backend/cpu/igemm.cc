#include "backend/cpu/igemm.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "backend/cpu/block_items.h"
#include "backend/cpu/isa.h"

namespace crossrank::cpu {

PackedS8::PackedS8(const int8_t* w, int N, int K)
    : N_(N), K_(K), data_(aligned_zeros<int16_t>(static_cast<std::size_t>(panels()) * k2() * 32)) {
  pack(w);
}
PackedS8::PackedS8(const int16_t* w, int N, int K)
    : N_(N), K_(K), data_(aligned_zeros<int16_t>(static_cast<std::size_t>(panels()) * k2() * 32)) {
  pack(w);
}

template <class T>
void PackedS8::pack(const T* w) {
  const int K2 = k2(), N = N_, K = K_;
#pragma omp parallel for schedule(static)
  for (int pn = 0; pn < panels(); ++pn) {
    int16_t* dst = data_.get() + static_cast<std::size_t>(pn) * K2 * 32;
    for (int j = 0; j < 16; ++j) {
      const int r = pn * 16 + j;
      if (r >= N) break;
      const T* src = w + static_cast<std::size_t>(r) * K;
      for (int k = 0; k < K; ++k) dst[static_cast<std::size_t>(k / 2) * 32 + 2 * j + (k & 1)] = src[k];
    }
  }
}

namespace {

// The epilogue that stores the sums into C (row stride ldc).
IgemmEpilogue store_to(int32_t* C, std::size_t ldc) {
  return [C, ldc](int m0, int rows, int n0, int nvalid, const int32_t* sums) {
    for (int r = 0; r < rows; ++r)
      std::copy(sums + 16 * r, sums + 16 * r + nvalid, C + static_cast<std::size_t>(m0 + r) * ldc + n0);
  };
}

// Reference semantics: each output's sum over k in order, handed on per (row, panel).
template <class T>
void igemm_scalar(const T* A, std::size_t lda, int M, const PackedS8& W, const IgemmEpilogue& f) {
  const int N = W.N(), K = W.K();
#pragma omp parallel for schedule(static)
  for (int m = 0; m < M; ++m) {
    const T* a = A + static_cast<std::size_t>(m) * lda;
    for (int p = 0; p < W.panels(); ++p) {
      int32_t sums[16] = {};
      const int nvalid = std::min(16, N - 16 * p);
      for (int j = 0; j < nvalid; ++j) {
        const int16_t* w = W.panel(p) + 2 * j;
        int32_t s = 0;
        for (int k = 0; k < K; ++k) s += static_cast<int32_t>(a[k]) * w[static_cast<std::size_t>(k / 2) * 32 + (k & 1)];
        sums[j] = s;
      }
      f(m, 1, 16 * p, nvalid, sums);
    }
  }
}

// Rows [0, M) of A as the kernel's 16-bit pairs ((K + 1) / 2 per row, the odd K padded with
// 0) and their stride in pairs: s16 rows of even length and stride are used in place, other
// rows are copied into buf.
template <class T>
std::pair<const uint32_t*, std::size_t> as_pairs(const T* A, std::size_t lda, int M, int K,
                                                 std::vector<uint32_t>& buf) {
  if (std::is_same_v<T, int16_t> && K % 2 == 0 && lda % 2 == 0 &&
      reinterpret_cast<std::uintptr_t>(A) % alignof(uint32_t) == 0)
    return {reinterpret_cast<const uint32_t*>(A), lda / 2};
  const int K2 = (K + 1) / 2;
  buf.assign(static_cast<std::size_t>(M) * K2, 0);
#pragma omp parallel for schedule(static)
  for (int r = 0; r < M; ++r) {
    const T* a = A + static_cast<std::size_t>(r) * lda;
    int16_t* d = reinterpret_cast<int16_t*>(buf.data() + static_cast<std::size_t>(r) * K2);
    for (int k = 0; k < K; ++k) d[k] = static_cast<int16_t>(a[k]);
  }
  return {buf.data(), static_cast<std::size_t>(K2)};
}

// Blocking (AMD EPYC Zen 3, 2 cores): kMC rows of A, as 16-bit pairs (kMC * K * 2 bytes, L2),
// are multiplied with each 16-column panel in K chunks of 2 * kKC (block_items.h); every
// row's sum runs over K in the same order whatever M is. Why kKC = 768 pairs (the chunk of
// the panel, 48 KB, lives in L2, not L1): 155-178 GOP/s against 130-160 with KC = 192 at
// M = 2048, N = 768, K = 3072 (2 threads, 6 x 16 tiles, 2026-12-07); KC = 256 and 384 with
// the partial sums in an L1 buffer were no better either (M = 3264, v2-m3 shapes, 5
// interleaved runs, 2026-12). With an epilogue, earlier chunks' sums wait in that L1 buffer
// and each tile goes to the epilogue as soon as its last chunk is done. Why per tile, not
// per block: handing a finished 96 x 16 block over at once bunched its 96 row stores (cache
// misses) at the block's end, and the GEMM ran 8-10 % slower (medians of 6 interleaved runs,
// M = 800 and 3264, v2-m3 shapes, 2026-12).
constexpr int kMC = 96, kKC = 768;

template <class T>
void igemm_blocked(const T* A, std::size_t lda, int M, const PackedS8& W, int32_t* C, std::size_t ldc,
                   const IgemmEpilogue* f, const IgemmExtra* extra) {
  if (extra && (M <= 0 || cpu_isa() < Isa::kAvx2)) {  // nothing to ride along with
    igemm_blocked(extra->A, extra->lda, extra->M, W, extra->C, extra->ldc, nullptr, nullptr);
    extra = nullptr;
  }
  if (M <= 0) return;
  if (cpu_isa() < Isa::kAvx2) return igemm_scalar(A, lda, M, W, f ? *f : store_to(C, ldc));
  const int K = W.K(), K2 = W.k2(), N = W.N(), P = W.panels();
  std::vector<uint32_t> a16, x16;
  const auto [a32, lda2] = as_pairs(A, lda, M, K, a16);
  const uint32_t* x32 = nullptr;
  std::size_t ldx2 = 0;
  if (extra && extra->M > 0) std::tie(x32, ldx2) = as_pairs(extra->A, extra->lda, extra->M, K, x16);
  for_each_block_panel(M, kMC, P, 4, [&](int m0, int mc, int p) {
    const int nvalid = std::min(16, N - 16 * p);
    alignas(64) int32_t sums[kMC * 16];
    const avx2::IgemmSink sink{f, m0, 16 * p};
    for (int k0 = 0; k0 < K2; k0 += kKC) {
      const uint32_t* a = a32 + static_cast<std::size_t>(m0) * lda2 + k0;
      const int16_t* w = W.panel(p) + static_cast<std::size_t>(k0) * 32;
      const int kc = std::min(kKC, K2 - k0);
      if (f) avx2::igemm_block(a, lda2, mc, w, kc, sums, 16, nvalid, k0 > 0, k0 + kc >= K2 ? &sink : nullptr);
      else avx2::igemm_block(a, lda2, mc, w, kc, C + static_cast<std::size_t>(m0) * ldc + 16 * p, ldc, nvalid, k0 > 0);
      if (x32 && m0 + mc == M)  // the extra rows, while this panel chunk is hot
        avx2::igemm_block(x32 + k0, ldx2, extra->M, w, kc, extra->C + 16 * p, extra->ldc, nvalid, k0 > 0);
    }
  });
}

}  // namespace

void igemm_s16s8_scalar(const int16_t* A, std::size_t lda, int M, const PackedS8& W, int32_t* C, std::size_t ldc) {
  igemm_scalar(A, lda, M, W, store_to(C, ldc));
}
void igemm_s16s8(const int16_t* A, std::size_t lda, int M, const PackedS8& W, int32_t* C, std::size_t ldc) {
  igemm_blocked(A, lda, M, W, C, ldc, nullptr, nullptr);
}
void igemm_s16s8(const int16_t* A, std::size_t lda, int M, const PackedS8& W, const IgemmEpilogue& f,
                 const IgemmExtra* extra) {
  igemm_blocked(A, lda, M, W, static_cast<int32_t*>(nullptr), 0, &f, extra);
}

IgemmRange igemm_range(int K) {
  const double k = std::max(K, 1);
  const double lim = 2147483647.0;
  int v = static_cast<int>(std::floor(std::sqrt(lim / k)));
  v = std::min({v, 16383, static_cast<int>(lim / (255.0 * k))});
  v = std::max(v, 1);
  while (static_cast<double>(v) * v * k >= lim && v > 1) --v;
  return {v, v};
}

}  // namespace crossrank::cpu
