// bf16 attention for CPUs with AVX512_BF16 (Zen 4/5, Cooper Lake, Sapphire Rapids): the
// blocked online-softmax structure of attention.cc with both products on VDPBF16PS
// (2 bf16 products accumulated into each fp32 lane per instruction: twice the fp32 FMA
// rate) and fp32 softmax statistics. Used by the bf16 and int8 dtypes (attention.h).
//
// Shapes: as AttnArgs (fp32 activations, any row strides; head_dim % 16 == 0). Work split:
// tasks = (sequence, head), longest first, dynamic over the OpenMP pool. Per key block
// (<= k_block keys) of a task:
//   K^T packed as bf16 pairs, tiles [16 keys][D/2 pairs] -> [D/2][16] u32 words,
//   V packed as key pairs [nk/2][D] u32 words (lo = key 2t, hi = key 2t+1);
// per query block (<= q_block rows): Q rows to bf16 pairs, then
//   S[rows, nk] = scale * Q K^T     6 rows x 32 keys register blocks (12 zmm accumulators)
//   P = exp(S - m), l += sum P      fp32 (row kernels), P rounded to bf16 pairs
//   O[rows, D] (+)= P V             6 rows x 64 features (24 zmm accumulators)
// with the running max / sum rescaling of the output between key blocks.
//
// Compiled with -march=x86-64-v4 -mavx512bf16 (CMakeLists.txt) and called only when
// cpu_isa() >= kAvx512Bf16. No std containers or algorithms here: template instances
// would be shared by the linker with baseline code (which must not run AVX-512).
#include <immintrin.h>
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "backend/cpu/attention.h"
#include "backend/cpu/kernels.h"

namespace crossrank::cpu {
namespace {

constexpr int kTile = 16;  // keys per packed K^T tile

inline int round_up(int x, int m) { return (x + m - 1) / m * m; }

inline __m512bh as_bh(__m512i v) { return reinterpret_cast<__m512bh&>(v); }

// Per-thread scratch layout (bytes, 64-byte aligned pieces).
struct Layout {
  std::size_t s, p16, kt, v, q16, oacc, m, l, total;
  Layout(int bq, int bk, int D, int Lmax) {
    const std::size_t bkp = static_cast<std::size_t>(round_up(bk, kTile)), lq = static_cast<std::size_t>(Lmax < 1 ? 1 : Lmax);
    std::size_t off = 0;
    auto take = [&](std::size_t bytes) {
      const std::size_t o = off;
      off += (bytes + 63) / 64 * 64;
      return o;
    };
    s = take(static_cast<std::size_t>(bq) * bkp * 4);    // fp32 scores of one block
    p16 = take(static_cast<std::size_t>(bq) * bkp * 2);  // bf16 probabilities
    kt = take(bkp * D * 2);                              // packed K^T (bf16 pairs)
    v = take((bkp + 2) * D * 2);                         // packed V (key pairs)
    q16 = take(static_cast<std::size_t>(bq) * D * 2);    // bf16 query block
    oacc = take(lq * D * 4);                             // fp32 output accumulators
    m = take(lq * 4);
    l = take(lq * 4);
    total = off + 64;
  }
};

// fp32 row -> bf16 pairs (u32 words), RNE.
inline void row_to_bf16(const float* src, int n, uint16_t* dst, const RowKernels& k) { k.to_bf16(src, n, dst); }

// S[R, 16*nt] = scale * Q16[R, D] . KT^T for nt (1 or 2) tiles at KT32 (tile stride D/2 * 16).
template <int R, int NT>
inline void qk_block(const uint32_t* Q32, int ldq32, const uint32_t* KT32, int D2, float scale, float* S, int lds) {
  __m512 acc[R][NT];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_setzero_ps();
  for (int p = 0; p < D2; ++p) {
    __m512i b[NT];
#pragma GCC unroll 2
    for (int t = 0; t < NT; ++t) b[t] = _mm512_loadu_si512(KT32 + (static_cast<long>(t) * D2 + p) * kTile);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m512i a = _mm512_set1_epi32(static_cast<int>(Q32[static_cast<long>(r) * ldq32 + p]));
#pragma GCC unroll 2
      for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_dpbf16_ps(acc[r][t], as_bh(a), as_bh(b[t]));
    }
  }
  const __m512 vs = _mm512_set1_ps(scale);
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int t = 0; t < NT; ++t) _mm512_storeu_ps(S + static_cast<long>(r) * lds + t * kTile, _mm512_mul_ps(acc[r][t], vs));
}

template <int R>
void qk_rows_r(const uint32_t* Q32, int ldq32, const uint32_t* KT32, int ntiles, int D2, float scale, float* S, int lds) {
  int t = 0;
  for (; t + 2 <= ntiles; t += 2)
    qk_block<R, 2>(Q32, ldq32, KT32 + static_cast<long>(t) * D2 * kTile, D2, scale, S + t * kTile, lds);
  if (t < ntiles) qk_block<R, 1>(Q32, ldq32, KT32 + static_cast<long>(t) * D2 * kTile, D2, scale, S + t * kTile, lds);
}

void qk_rows(int rows, const uint32_t* Q32, int ldq32, const uint32_t* KT32, int ntiles, int D2, float scale, float* S,
             int lds) {
  int i = 0;
  for (; i + 6 <= rows; i += 6)
    qk_rows_r<6>(Q32 + static_cast<long>(i) * ldq32, ldq32, KT32, ntiles, D2, scale, S + static_cast<long>(i) * lds, lds);
  const uint32_t* q = Q32 + static_cast<long>(i) * ldq32;
  float* s = S + static_cast<long>(i) * lds;
  switch (rows - i) {
    case 5: qk_rows_r<5>(q, ldq32, KT32, ntiles, D2, scale, s, lds); break;
    case 4: qk_rows_r<4>(q, ldq32, KT32, ntiles, D2, scale, s, lds); break;
    case 3: qk_rows_r<3>(q, ldq32, KT32, ntiles, D2, scale, s, lds); break;
    case 2: qk_rows_r<2>(q, ldq32, KT32, ntiles, D2, scale, s, lds); break;
    case 1: qk_rows_r<1>(q, ldq32, KT32, ntiles, D2, scale, s, lds); break;
    default: break;
  }
}

// O[R, 16*NV] (+)= P16[R, 2*np] . V32[np][D] (columns c0 .. c0 + 16 NV of the packed V).
template <int R, int NV>
inline void pv_block(const uint32_t* P32, int ldp32, const uint32_t* V32, int D, int np, float* O, int ldo,
                     bool accumulate) {
  __m512 acc[R][NV];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      acc[r][v] = accumulate ? _mm512_loadu_ps(O + static_cast<long>(r) * ldo + 16 * v) : _mm512_setzero_ps();
  for (int t = 0; t < np; ++t) {
    __m512i b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b[v] = _mm512_loadu_si512(V32 + static_cast<long>(t) * D + 16 * v);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m512i a = _mm512_set1_epi32(static_cast<int>(P32[static_cast<long>(r) * ldp32 + t]));
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], as_bh(a), as_bh(b[v]));
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) _mm512_storeu_ps(O + static_cast<long>(r) * ldo + 16 * v, acc[r][v]);
}

template <int R>
void pv_rows_r(const uint32_t* P32, int ldp32, const uint32_t* V32, int D, int np, float* O, int ldo, bool accumulate) {
  int c = 0;
  for (; c + 64 <= D; c += 64) pv_block<R, 4>(P32, ldp32, V32 + c, D, np, O + c, ldo, accumulate);
  for (; c + 16 <= D; c += 16) pv_block<R, 1>(P32, ldp32, V32 + c, D, np, O + c, ldo, accumulate);
}

void pv_rows(int rows, const uint32_t* P32, int ldp32, const uint32_t* V32, int D, int np, float* O, int ldo,
             bool accumulate) {
  int i = 0;
  for (; i + 6 <= rows; i += 6)
    pv_rows_r<6>(P32 + static_cast<long>(i) * ldp32, ldp32, V32, D, np, O + static_cast<long>(i) * ldo, ldo, accumulate);
  const uint32_t* p = P32 + static_cast<long>(i) * ldp32;
  float* o = O + static_cast<long>(i) * ldo;
  switch (rows - i) {
    case 5: pv_rows_r<5>(p, ldp32, V32, D, np, o, ldo, accumulate); break;
    case 4: pv_rows_r<4>(p, ldp32, V32, D, np, o, ldo, accumulate); break;
    case 3: pv_rows_r<3>(p, ldp32, V32, D, np, o, ldo, accumulate); break;
    case 2: pv_rows_r<2>(p, ldp32, V32, D, np, o, ldo, accumulate); break;
    case 1: pv_rows_r<1>(p, ldp32, V32, D, np, o, ldo, accumulate); break;
    default: break;
  }
}

}  // namespace

std::size_t attention_bf16_scratch_bytes(int q_block, int k_block, int head_dim, int max_seqlen) {
  const int L = max_seqlen < 1 ? 1 : max_seqlen;
  return Layout(q_block, k_block < L ? k_block : L, head_dim, L).total;
}

void attention_bf16(const AttnArgs& a, char* scratch) {
  const RowKernels& k = row_kernels(Isa::kAvx512);
  const int NH = a.heads, D = a.head_dim, D2 = D / 2, bq = a.q_block, W = a.window;
  const float scale = a.scale > 0.f ? a.scale : 1.0f / std::sqrt(static_cast<float>(D));
  int Lmax = 1;
  for (int s = 0; s < a.S; ++s) Lmax = Lmax > a.cu[s + 1] - a.cu[s] ? Lmax : a.cu[s + 1] - a.cu[s];
  const int kblock = round_up(a.k_block < Lmax ? a.k_block : Lmax, kTile);
  const Layout lay(bq, kblock, D, Lmax);
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
    char* base = scratch + lay.total * static_cast<std::size_t>(omp_get_thread_num());
    float* S = reinterpret_cast<float*>(base + lay.s);
    uint16_t* P16 = reinterpret_cast<uint16_t*>(base + lay.p16);
    uint32_t* KT32 = reinterpret_cast<uint32_t*>(base + lay.kt);
    uint32_t* V32 = reinterpret_cast<uint32_t*>(base + lay.v);
    uint16_t* Q16 = reinterpret_cast<uint16_t*>(base + lay.q16);
    float* Oacc = reinterpret_cast<float*>(base + lay.oacc);
    float* m = reinterpret_cast<float*>(base + lay.m);
    float* l = reinterpret_cast<float*>(base + lay.l);
    alignas(64) uint16_t r0[1024], r1[1024];  // bf16 rows being packed (D <= 1024)
#pragma omp for schedule(dynamic, 1)
    for (long task = 0; task < ntasks; ++task) {
      const int s = order[task / NH], h = static_cast<int>(task % NH);
      const int k0 = a.cu[s], L = a.cu[s + 1] - k0;
      const int nq = a.first_token_only ? 1 : L;
      const long qrow0 = a.first_token_only ? s : k0;
      for (int i = 0; i < nq; ++i) m[i] = -INFINITY, l[i] = 0.f;
      // Packs key block [j0, j0 + nk) once for all query blocks that use it.
      auto pack = [&](int j0, int nk) {
        const int ntiles = (nk + kTile - 1) / kTile, np = (nk + 1) / 2;
        const float* Kg = a.k + static_cast<long>(k0 + j0) * a.ldk + h * D;
        const float* Vg = a.v + static_cast<long>(k0 + j0) * a.ldv + h * D;
        // K^T: word (tile, p, j % 16) = bf16 pair (K[j][2p], K[j][2p+1]); zero keys pad the
        // last tile.
        for (int j = 0; j < ntiles * kTile; ++j) {
          uint32_t* col = KT32 + static_cast<long>(j / kTile) * D2 * kTile + (j % kTile);
          if (j < nk) {
            row_to_bf16(Kg + static_cast<long>(j) * a.ldk, D, r0, k);
            const uint32_t* w = reinterpret_cast<const uint32_t*>(r0);
            for (int p = 0; p < D2; ++p) col[static_cast<long>(p) * kTile] = w[p];
          } else {
            for (int p = 0; p < D2; ++p) col[static_cast<long>(p) * kTile] = 0;
          }
        }
        // V: word (t, d) = (V[2t][d] lo, V[2t+1][d] hi); a missing odd key is zero.
        for (int t = 0; t < np; ++t) {
          row_to_bf16(Vg + static_cast<long>(2 * t) * a.ldv, D, r0, k);
          if (2 * t + 1 < nk) row_to_bf16(Vg + static_cast<long>(2 * t + 1) * a.ldv, D, r1, k);
          else std::memset(r1, 0, sizeof(uint16_t) * D);
          uint32_t* out = V32 + static_cast<long>(t) * D;
          for (int d = 0; d < D; ++d) out[d] = static_cast<uint32_t>(r0[d]) | (static_cast<uint32_t>(r1[d]) << 16);
        }
      };
      // Query rows [i0, i0 + rows) against the packed key block [j0, j0 + nk); `first`: the
      // row block's first key block (accumulators written, not added to).
      auto block = [&](int i0, int rows, int j0, int nk, bool first) {
        const int ntiles = (nk + kTile - 1) / kTile, np = (nk + 1) / 2;
        const int lds = ntiles * kTile, ldp = round_up(nk, 2);
        const float* Qg = a.q + (qrow0 + i0) * a.ldq + h * D;
        float* O = Oacc + static_cast<long>(i0) * D;
        for (int i = 0; i < rows; ++i) row_to_bf16(Qg + static_cast<long>(i) * a.ldq, D, Q16 + static_cast<long>(i) * D, k);
        qk_rows(rows, reinterpret_cast<const uint32_t*>(Q16), D2, KT32, ntiles, D2, scale, S, lds);
        for (int i = 0; i < rows; ++i) {
          float* Si = S + static_cast<long>(i) * lds;
          int lo = 0, hi = nk;  // visible keys of this block for query position i0 + i
          if (W > 0) {
            lo = i0 + i - W - j0;
            lo = lo < 0 ? 0 : lo > nk ? nk : lo;
            hi = i0 + i + W + 1 - j0;
            hi = hi > nk ? nk : hi < lo ? lo : hi;
          }
          if (a.softcap > 0.f) k.softcap(Si + lo, hi - lo, a.softcap);
          const float mold = m[i0 + i];
          float mx = mold, sum = 0.f;
          if (hi > lo) {
            const float bmax = k.max(Si + lo, hi - lo);
            mx = mold > bmax ? mold : bmax;
            sum = k.exp_sub_sum(Si + lo, hi - lo, mx);
          }
          for (int j = 0; j < lo; ++j) Si[j] = 0.f;
          for (int j = hi; j < nk; ++j) Si[j] = 0.f;
          if (!first && hi > lo) {  // rescale what earlier key blocks accumulated
            const float alpha = std::exp(mold - mx);
            l[i0 + i] *= alpha;
            k.scale(O + static_cast<long>(i) * D, D, alpha);
          }
          l[i0 + i] += sum;
          m[i0 + i] = mx;
          uint16_t* Pi = P16 + static_cast<long>(i) * ldp;
          k.to_bf16(Si, nk, Pi);
          if (nk < ldp) Pi[nk] = 0;
        }
        pv_rows(rows, reinterpret_cast<const uint32_t*>(P16), ldp / 2, V32, D, np, O, D, !first);
      };
      if (W <= 0) {
        const int nkb = (L + kblock - 1) / kblock;
        const int bk = round_up((L + nkb - 1) / nkb, kTile);
        for (int j0 = 0; j0 < L; j0 += bk) {
          const int nk = bk < L - j0 ? bk : L - j0;
          pack(j0, nk);
          for (int i0 = 0; i0 < nq; i0 += bq) block(i0, bq < nq - i0 ? bq : nq - i0, j0, nk, j0 == 0);
        }
      } else {  // sliding window: per query block, only the keys its windows reach
        for (int i0 = 0; i0 < nq; i0 += bq) {
          const int rows = bq < nq - i0 ? bq : nq - i0;
          const int klo = i0 - W > 0 ? i0 - W : 0, khi = i0 + rows + W < L ? i0 + rows + W : L;
          const int nkb = (khi - klo + kblock - 1) / kblock;
          const int bk = round_up((khi - klo + nkb - 1) / nkb, kTile);
          for (int j0 = klo; j0 < khi; j0 += bk) {
            const int nk = bk < khi - j0 ? bk : khi - j0;
            pack(j0, nk);
            block(i0, rows, j0, nk, j0 == klo);
          }
        }
      }
      for (int i = 0; i < nq; ++i)
        k.scale_to(a.o + (qrow0 + i) * a.ldo + h * D, Oacc + static_cast<long>(i) * D, D, 1.0f / l[i]);
    }
  }
  delete[] order;
}

}  // namespace crossrank::cpu
