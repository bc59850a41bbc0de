#include "backend/cpu/attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include <oneapi/dnnl/dnnl.h>

#include "backend/cpu/kernels.h"

// This translation unit is compiled for AVX2 + FMA (x86-64-v3; CMakeLists.txt) and only
// called when cpu_isa() >= kAvx2 (cpu_rows.cc): the blocked kernels below are AVX2 code.
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define CR_AVX2 1
#else
#define CR_AVX2 0
#endif

namespace crossrank::cpu {

namespace {

constexpr int kTile = 16;  // keys per packed K^T tile (two ymm vectors)

inline int round_up(int x, int m) { return (x + m - 1) / m * m; }

#if CR_AVX2
// S[R, 16*ntiles] = scale * Q[R, D] . K^T, with K^T packed as tiles [tile][D][16].
// Register block: R (<= 6) rows x 16 keys = 2R ymm accumulators; per d: 2 loads,
// R broadcasts, 2R FMAs.
template <int R>
void qk_tile_kernel(const float* Q, int ldq, const float* KT, int ntiles, int D, float scale, float* S, int lds) {
  const __m256 vs = _mm256_set1_ps(scale);
  for (int t = 0; t < ntiles; ++t) {
    const float* kt = KT + static_cast<long>(t) * D * kTile;
    __m256 acc[R][2];
    #pragma GCC unroll 6
    for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int d = 0; d < D; ++d) {
      const __m256 b0 = _mm256_loadu_ps(kt + d * kTile), b1 = _mm256_loadu_ps(kt + d * kTile + 8);
      #pragma GCC unroll 6
      for (int r = 0; r < R; ++r) {
        const __m256 a = _mm256_broadcast_ss(Q + static_cast<long>(r) * ldq + d);
        acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
        acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
      }
    }
    #pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      _mm256_storeu_ps(S + static_cast<long>(r) * lds + t * kTile, _mm256_mul_ps(acc[r][0], vs));
      _mm256_storeu_ps(S + static_cast<long>(r) * lds + t * kTile + 8, _mm256_mul_ps(acc[r][1], vs));
    }
  }
}

// O[R, c0 : c0 + 8*NV] (+)= P[R, nk] . V[nk, c0 : c0 + 8*NV], V rows read in place
// (row stride ldv). Register block R x 8*NV (12 accumulators for 6 x 16).
template <int R, int NV>
void pv_kernel(const float* P, int ldp, const float* V, int ldv, int nk, float* O, int ldo, bool accumulate) {
  __m256 acc[R][NV];
  #pragma GCC unroll 6
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 2
    for (int v = 0; v < NV; ++v)
      acc[r][v] = accumulate ? _mm256_loadu_ps(O + static_cast<long>(r) * ldo + 8 * v) : _mm256_setzero_ps();
  for (int j = 0; j < nk; ++j) {
    __m256 b[NV];
    #pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) b[v] = _mm256_loadu_ps(V + static_cast<long>(j) * ldv + 8 * v);
    #pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m256 a = _mm256_broadcast_ss(P + static_cast<long>(r) * ldp + j);
      #pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_fmadd_ps(a, b[v], acc[r][v]);
    }
  }
  #pragma GCC unroll 6
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) _mm256_storeu_ps(O + static_cast<long>(r) * ldo + 8 * v, acc[r][v]);
}

// Tiles outer, 6-row groups inner: one 16-key K^T tile (D x 16 floats, 4 KB for D = 64)
// and the query block (<= 64 x D) stay in L1 while every row group uses the tile.
inline void copy_row(float* dst, const float* src, int n) {  // n % 8 == 0
  for (int i = 0; i < n; i += 8) _mm256_storeu_ps(dst + i, _mm256_loadu_ps(src + i));
}

// Rows of Q, K and V are 3H floats apart (over a 4 KB page for every model), so the
// hardware prefetchers do not follow them and each row's head slice was an L3 / DRAM
// miss when pack() and the query copies touched it.
constexpr int kAhead = 16;  // key rows prefetched ahead of the packing
inline void prefetch_row(const float* p, int n) {
  for (int i = 0; i < n; i += 16) _mm_prefetch(reinterpret_cast<const char*>(p + i), _MM_HINT_T0);
}

inline void transpose8x8(__m256 (&r)[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

void qk_rows(int rows, const float* Q, int ldq, const float* KT, int ntiles, int D, float scale, float* S, int lds) {
  for (int t = 0; t < ntiles; ++t) {
    const float* kt = KT + static_cast<long>(t) * D * kTile;
    float* st = S + t * kTile;
    int i = 0;
    for (; i + 6 <= rows; i += 6)
      qk_tile_kernel<6>(Q + static_cast<long>(i) * ldq, ldq, kt, 1, D, scale, st + static_cast<long>(i) * lds, lds);
    const float* q = Q + static_cast<long>(i) * ldq;
    float* s = st + static_cast<long>(i) * lds;
    switch (rows - i) {
      case 5: qk_tile_kernel<5>(q, ldq, kt, 1, D, scale, s, lds); break;
      case 4: qk_tile_kernel<4>(q, ldq, kt, 1, D, scale, s, lds); break;
      case 3: qk_tile_kernel<3>(q, ldq, kt, 1, D, scale, s, lds); break;
      case 2: qk_tile_kernel<2>(q, ldq, kt, 1, D, scale, s, lds); break;
      case 1: qk_tile_kernel<1>(q, ldq, kt, 1, D, scale, s, lds); break;
      default: break;
    }
  }
}

template <int NV>
void pv_rows_nv(int rows, const float* P, int ldp, const float* V, int ldv, int nk, float* O, int ldo, bool acc) {
  int i = 0;
  for (; i + 6 <= rows; i += 6)
    pv_kernel<6, NV>(P + static_cast<long>(i) * ldp, ldp, V, ldv, nk, O + static_cast<long>(i) * ldo, ldo, acc);
  const float* p = P + static_cast<long>(i) * ldp;
  float* o = O + static_cast<long>(i) * ldo;
  switch (rows - i) {
    case 5: pv_kernel<5, NV>(p, ldp, V, ldv, nk, o, ldo, acc); break;
    case 4: pv_kernel<4, NV>(p, ldp, V, ldv, nk, o, ldo, acc); break;
    case 3: pv_kernel<3, NV>(p, ldp, V, ldv, nk, o, ldo, acc); break;
    case 2: pv_kernel<2, NV>(p, ldp, V, ldv, nk, o, ldo, acc); break;
    case 1: pv_kernel<1, NV>(p, ldp, V, ldv, nk, o, ldo, acc); break;
    default: break;
  }
}

// Keys in chunks of 64 outer: the packed V chunk (64 x D floats, 16 KB for D = 64) stays in
// L1 while all row groups and column blocks use it; O is re-loaded per chunk (~3% extra).
void pv_rows(int rows, const float* P, int ldp, const float* V, int ldv, int nk, int D, float* O, int ldo, bool acc) {
  constexpr int kChunk = 64;
  for (int j0 = 0; j0 < nk; j0 += kChunk) {
    const int n = std::min(kChunk, nk - j0);
    const bool a = acc || j0 > 0;
    int c = 0;
    for (; c + 16 <= D; c += 16) pv_rows_nv<2>(rows, P + j0, ldp, V + static_cast<long>(j0) * ldv + c, ldv, n, O + c, ldo, a);
    if (c < D) pv_rows_nv<1>(rows, P + j0, ldp, V + static_cast<long>(j0) * ldv + c, ldv, n, O + c, ldo, a);  // D % 16 == 8
  }
}
#endif

// Per-thread scratch layout (floats), shared by attention_scratch_floats and attention.
struct ScratchLayout {
  std::size_t s, kt, v, qc, oacc, m, l, total;
  ScratchLayout(int bq, int bk, int D, int Lmax) {
    const std::size_t bkp = round_up(bk, kTile), lq = std::max(Lmax, 1);
    std::size_t off = 0;
    auto take = [&](std::size_t n) {
      const std::size_t o = off;
      off += (n + 15) / 16 * 16;  // 64-byte aligned pieces
      return o;
    };
    s = take(static_cast<std::size_t>(bq) * bkp);  // scores / probabilities of one block
    kt = take(bkp * D);                             // packed K^T of one key block
    v = take(bkp * D);                              // packed V of one key block
    qc = take(static_cast<std::size_t>(bq) * D);    // contiguous query block
    oacc = take(lq * D);                            // output accumulators, all query rows
    m = take(lq);                                   // running max per query row
    l = take(lq);                                   // running sum per query row
    total = off + 16;
  }
};

}  // namespace

std::size_t attention_scratch_floats(int q_block, int k_block, int head_dim, int max_seqlen) {
  return ScratchLayout(q_block, std::min(k_block, std::max(max_seqlen, 1)), head_dim, max_seqlen).total;
}

void attention(const AttnArgs& a, float* scratch, bool use_sgemm) {
  const RowKernels& k2 = row_kernels(CR_AVX2 ? Isa::kAvx2 : Isa::kScalar);
  const int NH = a.heads, D = a.head_dim, bq = a.q_block, W = a.window;
  const float scale = a.scale > 0.f ? a.scale : 1.0f / std::sqrt(static_cast<float>(D));
#if CR_AVX2
  const bool own = D % 8 == 0 && !use_sgemm;
#else
  const bool own = false;
#endif
  int Lmax = 1;
  for (int s = 0; s < a.S; ++s) Lmax = std::max(Lmax, a.cu[s + 1] - a.cu[s]);
  const int kblock = round_up(std::min(a.k_block, Lmax), kTile);
  const ScratchLayout lay(bq, kblock, D, Lmax);

  // Tasks = (sequence, head), longest sequences first for the dynamic schedule.
  // (No std containers or algorithms in an ISA-specific translation unit: their template
  // instances are shared by the linker with baseline code, which could then run AVX2.)
  int* order = new int[static_cast<std::size_t>(a.S)];
  for (int s = 0; s < a.S; ++s) {  // stable insertion sort by length, descending
    int j = s;
    const int len = a.cu[s + 1] - a.cu[s];
    while (j > 0 && a.cu[order[j - 1] + 1] - a.cu[order[j - 1]] < len) {
      order[j] = order[j - 1];
      --j;
    }
    order[j] = s;
  }
  const long ntasks = static_cast<long>(a.S) * NH;

#pragma omp parallel
  {
    float* base = scratch + lay.total * omp_get_thread_num();
    float* S = base + lay.s;
    float* KT = base + lay.kt;
    float* VP = base + lay.v;
    float* Qc = base + lay.qc;
    float* Oacc = base + lay.oacc;
    float* m = base + lay.m;
    float* l = base + lay.l;
#pragma omp for schedule(dynamic, 1)
    for (long t = 0; t < ntasks; ++t) {
      const int s = order[t / NH], h = static_cast<int>(t % NH);
      const int k0 = a.cu[s], L = a.cu[s + 1] - k0;
      const int nq = a.first_token_only ? 1 : L;
      const long qrow0 = a.first_token_only ? s : k0;
      for (int i = 0; i < nq; ++i) m[i] = -INFINITY, l[i] = 0.f;
      // Packs key block [j0, j0 + nk) once for all query blocks that use it: K^T as tiles
      // [tile][D][16] (8 x 8 in-register transposes, zero padded) and V as rows [nk][D].
      auto pack = [&](int j0, int nk) {
#if CR_AVX2
        if (!own) return;
        const float* Kg = a.k + static_cast<long>(k0 + j0) * a.ldk + h * D;
        const float* Vg = a.v + static_cast<long>(k0 + j0) * a.ldv + h * D;
        const int ntiles = (nk + kTile - 1) / kTile;
        for (int j = 0; j < std::min(kAhead, nk); ++j) {
          prefetch_row(Kg + static_cast<long>(j) * a.ldk, D);
          prefetch_row(Vg + static_cast<long>(j) * a.ldv, D);
        }
        for (int t16 = 0; t16 < ntiles; ++t16) {
          float* out = KT + static_cast<long>(t16) * D * kTile;
          for (int j8 = 0; j8 < kTile; j8 += 8) {
            const float* rows8[8];
            for (int r = 0; r < 8; ++r) {
              const int j = t16 * kTile + j8 + r;
              if (j + kAhead < nk) {
                prefetch_row(Kg + static_cast<long>(j + kAhead) * a.ldk, D);
                prefetch_row(Vg + static_cast<long>(j + kAhead) * a.ldv, D);
              }
              if (!a.first_token_only && j0 + j < nq) prefetch_row(a.q + (qrow0 + j0 + j) * a.ldq + h * D, D);
              rows8[r] = j < nk ? Kg + static_cast<long>(j) * a.ldk : nullptr;
              if (j < nk) copy_row(VP + static_cast<long>(j) * D, Vg + static_cast<long>(j) * a.ldv, D);
            }
            for (int d0 = 0; d0 < D; d0 += 8) {
              __m256 v[8];
              for (int r = 0; r < 8; ++r) v[r] = rows8[r] ? _mm256_loadu_ps(rows8[r] + d0) : _mm256_setzero_ps();
              transpose8x8(v);
              for (int r = 0; r < 8; ++r) _mm256_storeu_ps(out + (d0 + r) * kTile + j8, v[r]);
            }
          }
        }
#else
        (void)j0, (void)nk;
#endif
      };
      // Query rows [i0, i0 + rows) against key block [j0, j0 + nk) (packed by pack()): scores,
      // online softmax over each row's visible keys (all, or its window), P V. `first`: the
      // row block's first key block (its output accumulators are written, not added to).
      auto block = [&](int i0, int rows, int j0, int nk, bool first) {
        const int ntiles = (nk + kTile - 1) / kTile;
        const float* Kg = a.k + static_cast<long>(k0 + j0) * a.ldk + h * D;
        const float* Vg = a.v + static_cast<long>(k0 + j0) * a.ldv + h * D;
        const float* Qg = a.q + (qrow0 + i0) * a.ldq + h * D;
        float* O = Oacc + static_cast<long>(i0) * D;
        int lds = nk;
        // S[rows, nk] = scale * Q[rows, D] . K[j0 : j0 + nk, D]^T
#if CR_AVX2
        if (own) {
          // Rows of Q / ctx are H or 3H floats apart (a multiple of 4 KB for v2-m3): a
          // strided block maps onto a few L1 sets and thrashes, so copy it (rows x D).
          for (int i = 0; i < rows; ++i) copy_row(Qc + static_cast<long>(i) * D, Qg + static_cast<long>(i) * a.ldq, D);
          lds = ntiles * kTile;
          qk_rows(rows, Qc, D, KT, ntiles, D, scale, S, lds);
        } else
#endif
          dnnl_sgemm('N', 'T', rows, nk, D, scale, Qg, a.ldq, Kg, a.ldk, 0.f, S, lds);
        for (int i = 0; i < rows; ++i) {
          float* Si = S + static_cast<long>(i) * lds;
          // Visible keys [lo, hi) of this block for query position i0 + i.
          int lo = 0, hi = nk;
          if (W > 0) {
            lo = std::min(nk, std::max(0, i0 + i - W - j0));
            hi = std::max(lo, std::min(nk, i0 + i + W + 1 - j0));
          }
          if (a.softcap > 0.f) k2.softcap(Si + lo, hi - lo, a.softcap);
          const float mold = m[i0 + i];
          const float mx = hi > lo ? std::max(mold, k2.max(Si + lo, hi - lo)) : mold;
          const float sum = hi > lo ? k2.exp_sub_sum(Si + lo, hi - lo, mx) : 0.f;
          for (int j = 0; j < lo; ++j) Si[j] = 0.f;
          for (int j = hi; j < nk; ++j) Si[j] = 0.f;
          if (!first && hi > lo) {  // rescale what earlier key blocks accumulated
            const float alpha = std::exp(mold - mx);
            l[i0 + i] *= alpha;
            k2.scale(O + static_cast<long>(i) * D, D, alpha);
          }
          l[i0 + i] += sum;
          m[i0 + i] = mx;
        }
        // O[rows, D] (+)= P[rows, nk] . V[j0 : j0 + nk, D]
#if CR_AVX2
        if (own)
          pv_rows(rows, S, lds, VP, D, nk, D, O, D, !first);
        else
#endif
          dnnl_sgemm('N', 'N', rows, D, nk, 1.0f, S, lds, Vg, a.ldv, first ? 0.f : 1.0f, O, D);
      };
      if (W <= 0) {
        // Balanced key blocks: ceil(L / kblock) blocks of equal size (multiple of the tile),
        // each packed once for all query blocks.
        const int nkb = (L + kblock - 1) / kblock;
        const int bk = round_up((L + nkb - 1) / nkb, kTile);
        for (int j0 = 0; j0 < L; j0 += bk) {
          const int nk = std::min(bk, L - j0);
          pack(j0, nk);
          for (int i0 = 0; i0 < nq; i0 += bq) block(i0, std::min(bq, nq - i0), j0, nk, j0 == 0);
        }
      } else {
        // Sliding window: per query block, only the keys its rows' windows reach (balanced
        // blocks of <= kblock over that range; every query sees itself, so no row is empty).
        for (int i0 = 0; i0 < nq; i0 += bq) {
          const int rows = std::min(bq, nq - i0);
          const int klo = std::max(0, i0 - W), khi = std::min(L, i0 + rows - 1 + W + 1);
          const int nkb = (khi - klo + kblock - 1) / kblock;
          const int bk = round_up((khi - klo + nkb - 1) / nkb, kTile);
          for (int j0 = klo; j0 < khi; j0 += bk) {
            const int nk = std::min(bk, khi - j0);
            pack(j0, nk);
            block(i0, rows, j0, nk, j0 == klo);
          }
        }
      }
      for (int i = 0; i < nq; ++i)
        k2.scale_to(a.o + (qrow0 + i) * a.ldo + h * D, Oacc + static_cast<long>(i) * D, D, 1.0f / l[i]);
    }
  }
  delete[] order;
}

}  // namespace crossrank::cpu
