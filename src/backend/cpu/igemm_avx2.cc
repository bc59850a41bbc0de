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
// The rows left over after the 6 x 16 tiles (tile6, below) run here.
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

// 6 rows x 16 columns in hand-allocated registers: 12 accumulators (ymm4-15), the panel's
// two vectors (ymm0-1), one broadcast row (ymm2) and one product (ymm3). Per K pair: 2 loads,
// 6 broadcasts, 12 vpmaddwd, 12 vpaddd. Writes the 6 x 16 sums to out (row-major).
// Why assembly: GCC 12 at -O3 rotates the 4 x 16 tile's accumulators through register
// copies and a stack spill, and cannot fit a 6 x 16 tile into 16 ymm registers at all. With
// KC = 768 pairs this kernel ran the int8 GEMMs at M = 2048 (N x K = 2304x768, 768x3072,
// 4096x1024, 1024x4096) at 150-192 GOP/s against 133-150 for the 4 x 16 intrinsics with
// KC = 128 (2 threads, 3 runs each, interleaved; AMD EPYC Zen 3, AVX2, 2026-12-07).
#define CR_ROW(addr, acc0, acc1)                                                           \
  "vpbroadcastd " addr ", %%ymm2\n\t"                                                      \
  "vpmaddwd %%ymm0, %%ymm2, %%ymm3\n\t"                                                    \
  "vpaddd %%ymm3, " acc0 ", " acc0 "\n\t"                                                 \
  "vpmaddwd %%ymm1, %%ymm2, %%ymm2\n\t"                                                    \
  "vpaddd %%ymm2, " acc1 ", " acc1 "\n\t"
void tile6(const uint32_t* a, std::size_t lda2, const int16_t* w, int kc, int32_t* out) {
  const uint32_t* a3 = a + 3 * lda2;
  const long ldb = static_cast<long>(lda2 * sizeof(uint32_t));
  long n = kc;
  __asm__ volatile(
      "vpxor %%ymm4, %%ymm4, %%ymm4\n\t"
      "vpxor %%ymm5, %%ymm5, %%ymm5\n\t"
      "vpxor %%ymm6, %%ymm6, %%ymm6\n\t"
      "vpxor %%ymm7, %%ymm7, %%ymm7\n\t"
      "vpxor %%ymm8, %%ymm8, %%ymm8\n\t"
      "vpxor %%ymm9, %%ymm9, %%ymm9\n\t"
      "vpxor %%ymm10, %%ymm10, %%ymm10\n\t"
      "vpxor %%ymm11, %%ymm11, %%ymm11\n\t"
      "vpxor %%ymm12, %%ymm12, %%ymm12\n\t"
      "vpxor %%ymm13, %%ymm13, %%ymm13\n\t"
      "vpxor %%ymm14, %%ymm14, %%ymm14\n\t"
      "vpxor %%ymm15, %%ymm15, %%ymm15\n\t"
      "test %[n], %[n]\n\t"
      "jle 2f\n\t"
      ".p2align 5\n"
      "1:\n\t"
      "vmovdqa (%[w]), %%ymm0\n\t"
      "vmovdqa 32(%[w]), %%ymm1\n\t"
      CR_ROW("(%[a])", "%%ymm4", "%%ymm5")
      CR_ROW("(%[a],%[ldb],1)", "%%ymm6", "%%ymm7")
      CR_ROW("(%[a],%[ldb],2)", "%%ymm8", "%%ymm9")
      CR_ROW("(%[a3])", "%%ymm10", "%%ymm11")
      CR_ROW("(%[a3],%[ldb],1)", "%%ymm12", "%%ymm13")
      CR_ROW("(%[a3],%[ldb],2)", "%%ymm14", "%%ymm15")
      "add $64, %[w]\n\t"
      "add $4, %[a]\n\t"
      "add $4, %[a3]\n\t"
      "dec %[n]\n\t"
      "jnz 1b\n"
      "2:\n\t"
      "vmovdqu %%ymm4, (%[o])\n\t"
      "vmovdqu %%ymm5, 32(%[o])\n\t"
      "vmovdqu %%ymm6, 64(%[o])\n\t"
      "vmovdqu %%ymm7, 96(%[o])\n\t"
      "vmovdqu %%ymm8, 128(%[o])\n\t"
      "vmovdqu %%ymm9, 160(%[o])\n\t"
      "vmovdqu %%ymm10, 192(%[o])\n\t"
      "vmovdqu %%ymm11, 224(%[o])\n\t"
      "vmovdqu %%ymm12, 256(%[o])\n\t"
      "vmovdqu %%ymm13, 288(%[o])\n\t"
      "vmovdqu %%ymm14, 320(%[o])\n\t"
      "vmovdqu %%ymm15, 352(%[o])\n\t"
      : [a] "+r"(a), [a3] "+r"(a3), [w] "+r"(w), [n] "+r"(n)
      : [ldb] "r"(ldb), [o] "r"(out)
      : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}
#undef CR_ROW

}  // namespace

void igemm_block(const uint32_t* a16, std::size_t lda2, int M, const int16_t* w, int kc, int32_t* C,
                 std::size_t ldc, int nvalid, bool accumulate, const IgemmSink* sink) {
  int m = 0;
  alignas(32) int32_t t[6 * 16];
  for (; m + 6 <= M; m += 6) {
    tile6(a16 + m * lda2, lda2, w, kc, t);
    if (sink) {  // C holds the earlier chunks' sums (ldc 16); t becomes the tile's result
      if (accumulate)
        for (int r = 0; r < 6; ++r) store_tile_row(t + 16 * r, _mm256_load_si256(reinterpret_cast<const __m256i*>(C + (m + r) * ldc)),
                                                   _mm256_load_si256(reinterpret_cast<const __m256i*>(C + (m + r) * ldc + 8)), 16, true);
      (*sink->f)(sink->m0 + m, 6, sink->n0, nvalid, t);
      continue;
    }
    for (int r = 0; r < 6; ++r) {
      const __m256i* tr = reinterpret_cast<const __m256i*>(t + 16 * r);
      store_tile_row(C + (m + r) * ldc, _mm256_load_si256(tr), _mm256_load_si256(tr + 1), nvalid, accumulate);
    }
  }
  const int m6 = m;
  for (; m + 4 <= M; m += 4) tile<4>(a16 + m * lda2, lda2, w, kc, C + m * ldc, ldc, nvalid, accumulate);
  const uint32_t* a = a16 + m * lda2;
  int32_t* c = C + m * ldc;
  switch (M - m) {
    case 3: tile<3>(a, lda2, w, kc, c, ldc, nvalid, accumulate); break;
    case 2: tile<2>(a, lda2, w, kc, c, ldc, nvalid, accumulate); break;
    case 1: tile<1>(a, lda2, w, kc, c, ldc, nvalid, accumulate); break;
    default: break;
  }
  if (sink && m6 < M) (*sink->f)(sink->m0 + m6, M - m6, sink->n0, nvalid, C + m6 * ldc);  // the short tiles, in C
}

}  // namespace crossrank::cpu::avx2
