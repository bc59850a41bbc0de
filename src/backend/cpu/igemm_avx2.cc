// The AVX2 block kernel of igemm_s16s8 (compiled with -march=x86-64-v3; see igemm.h).
#include <immintrin.h>

#include "backend/cpu/igemm.h"

namespace crossrank::cpu::avx2 {
namespace {

inline void store_tile_row(int32_t* ci, __m256i v0, __m256i v1, int nvalid, bool accumulate) {
  if (nvalid == 16) {
    __m256i* c0 = reinterpret_cast<__m256i*>(ci);
    __m256i* c1 = reinterpret_cast<__m256i*>(ci + 8);
    if (accumulate) {
      v0 = _mm256_add_epi32(v0, _mm256_loadu_si256(c0));
      v1 = _mm256_add_epi32(v1, _mm256_loadu_si256(c1));
    }
    _mm256_storeu_si256(c0, v0);
    _mm256_storeu_si256(c1, v1);
    return;
  }
  alignas(32) int32_t t[16];
  _mm256_store_si256(reinterpret_cast<__m256i*>(t), v0);
  _mm256_store_si256(reinterpret_cast<__m256i*>(t + 8), v1);
  for (int n = 0; n < nvalid; ++n) ci[n] = accumulate ? ci[n] + t[n] : t[n];
}

#define CR_MADD(acc, b, w) acc = _mm256_add_epi32(acc, _mm256_madd_epi16(b, w))

// MR <= 4 rows x 16 columns: 8 accumulators, 2 panel vectors, 1 broadcast. Per K pair: 2
// loads, MR broadcasts, 2 MR vpmaddwd (s16 pair sums into s32, exact) and 2 MR additions.
// Why 4 rows: a 6 x 16 tile (12 accumulators) spilled and ran at 76 GOP/s against 122 for
// 4 x 16 (one thread, M = 1600, K = N = 1024; AMD EPYC Zen 3, 2026-12).
template <int MR>
inline void tile(const uint32_t* a, std::size_t lda2, const int16_t* w, int kc, int32_t* c, std::size_t ldc,
                 int nvalid, bool accumulate) {
  static_assert(MR >= 1 && MR <= 4);
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00,
          c31 = c00;
  const int32_t* a0 = reinterpret_cast<const int32_t*>(a);
  const int32_t* a1 = a0 + lda2;
  const int32_t* a2 = a1 + lda2;
  const int32_t* a3 = a2 + lda2;
#pragma GCC unroll 2
  for (int k = 0; k < kc; ++k) {
    const __m256i w0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + 32 * k));
    const __m256i w1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + 32 * k + 16));
    __m256i b = _mm256_set1_epi32(a0[k]);
    CR_MADD(c00, b, w0);
    CR_MADD(c01, b, w1);
    if constexpr (MR > 1) {
      b = _mm256_set1_epi32(a1[k]);
      CR_MADD(c10, b, w0);
      CR_MADD(c11, b, w1);
    }
    if constexpr (MR > 2) {
      b = _mm256_set1_epi32(a2[k]);
      CR_MADD(c20, b, w0);
      CR_MADD(c21, b, w1);
    }
    if constexpr (MR > 3) {
      b = _mm256_set1_epi32(a3[k]);
      CR_MADD(c30, b, w0);
      CR_MADD(c31, b, w1);
    }
  }
  store_tile_row(c, c00, c01, nvalid, accumulate);
  if constexpr (MR > 1) store_tile_row(c + ldc, c10, c11, nvalid, accumulate);
  if constexpr (MR > 2) store_tile_row(c + 2 * ldc, c20, c21, nvalid, accumulate);
  if constexpr (MR > 3) store_tile_row(c + 3 * ldc, c30, c31, nvalid, accumulate);
}
#undef CR_MADD

}  // namespace

void igemm_block(const uint32_t* a16, std::size_t lda2, int M, const int16_t* w, int kc, int32_t* C,
                 std::size_t ldc, int nvalid, bool accumulate) {
  int m = 0;
  for (; m + 4 <= M; m += 4) tile<4>(a16 + m * lda2, lda2, w, kc, C + m * ldc, ldc, nvalid, accumulate);
  const uint32_t* a = a16 + m * lda2;
  int32_t* c = C + m * ldc;
  switch (M - m) {
    case 3: tile<3>(a, lda2, w, kc, c, ldc, nvalid, accumulate); break;
    case 2: tile<2>(a, lda2, w, kc, c, ldc, nvalid, accumulate); break;
    case 1: tile<1>(a, lda2, w, kc, c, ldc, nvalid, accumulate); break;
    default: break;
  }
}

}  // namespace crossrank::cpu::avx2
