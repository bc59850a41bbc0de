#pragma once
// Varlen attention, tensor-core path (FlashAttention-2 style, nvcuda::wmma, sm80+):
// fp16 / bf16 Q, K, V and output, all query rows (encoder layers, decoder prefill),
// head_dim 32 / 64 / 128, causal masks, grouped KV heads and shared-prefix parents.
// Statistics (row max, row sum) and the output accumulator in fp32.
//
// Parallelisation: a block per (64-row query tile of one sequence, head), 4 warps, a
// warp per 16 query rows. The block streams the keys in tiles of 64 rows (K, V in
// shared memory, 16-byte loads): per tile each warp computes S = Q K^T (16 x 64) on
// tensor cores into a per-warp fp32 tile, lane pairs own a row (lane = 2 r + half,
// 32 columns each) for the online softmax (max / sum exchanged between the two lanes),
// write P in the dtype, and the warp computes P V (16 x D) on tensor cores, 64 columns
// at a time through the same fp32 tile, which the lanes add to their rescaled
// accumulators (row r, D/2 columns per lane). Memory: O(tile) whatever the length.
// Why wmma and not raw mma.sync: its fragment layouts are the library's, so the host
// emulator (tests/cuda_emu) checks this kernel's tiling and masking without re-encoding
// the PTX fragment layouts; the cost is the fp32 round trip of S and P V through shared
// memory.
#include "backend/cuda/math.cuh"
#include "backend/cuda/plan.h"

#if defined(__CUDACC__)
#include <mma.h>
#endif

namespace crossrank::cuda {
inline namespace CR_KERNEL_NS {

#if defined(CROSSRANK_CUDA_KERNELS)
template <class T, int D>
__global__ void __launch_bounds__(128) attn_tc_kernel(const AttnArgs a) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();  // the host picks this path on sm80+ only
#else
  namespace wmma = nvcuda::wmma;
  constexpr int BM = kTcTileRows, BN = kTcKeyTile, LDT = D + 8, LDS = 68, LDP = 72, V8 = D / 8;
  static_assert(BM == 64 && BN == 64, "4 warps x 16 rows, 64-key tiles");
  CR_DYN_SMEM(smem);
  T* Qs = reinterpret_cast<T*>(smem);                  // [BM][LDT]
  T* Ks = Qs + BM * LDT;                               // [BN][LDT]
  T* Vs = Ks + BN * LDT;                               // [BN][LDT]
  float* Sall = reinterpret_cast<float*>(Vs + BN * LDT);  // [4][16][LDS]
  T* Pall = reinterpret_cast<T*>(Sall + 4 * 16 * LDS);    // [4][16][LDP]
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  float* Sw = Sall + warp * 16 * LDS;
  T* Pw = Pall + warp * 16 * LDP;

  const int h = blockIdx.y, kvh = h / (a.heads / a.kv_heads);
  const int s = a.tiles[2 * blockIdx.x], i0 = a.tiles[2 * blockIdx.x + 1];
  const int s0 = a.cu[s], n = a.cu[s + 1] - s0;
  const int par = a.parent ? a.parent[s] : -1;
  const int p0 = par >= 0 ? a.cu[par] : 0, np = par >= 0 ? a.cu[par + 1] - p0 : 0;
  const int nk = np + n;
  const int nrows = min(BM, n - i0);
  const int nk_block = a.causal ? np + i0 + nrows : nk;
  const T* qp = static_cast<const T*>(a.q.p);
  const T* kp = static_cast<const T*>(a.k.p);
  const T* vp = static_cast<const T*>(a.v.p);

  for (int idx = threadIdx.x; idx < BM * V8; idx += blockDim.x) {
    const int r = idx / V8, c = (idx - r * V8) * 8;
    if (r < nrows)
      copy16(Qs + r * LDT + c, qp + static_cast<std::size_t>(s0 + i0 + r) * a.q.ld + static_cast<std::size_t>(h) * D + c);
    else
      zero16(Qs + r * LDT + c);
  }
  // The lane's query row (r of the warp's 16) and half of the columns.
  const int r = lane >> 1, hh = lane & 1;
  const int i = i0 + warp * 16 + r;
  const int visible = a.causal ? np + i + 1 : nk;  // rows i >= n are padding (not written)
  SoftmaxState st;
  float o[D / 2];
CR_UNROLL
  for (int c = 0; c < D / 2; ++c) o[c] = 0.f;

  for (int j0 = 0; j0 < nk_block; j0 += BN) {
    __syncthreads();  // the previous K / V tiles are consumed (and Q is visible)
    for (int idx = threadIdx.x; idx < BN * V8; idx += blockDim.x) {
      const int rr = idx / V8, c = (idx - rr * V8) * 8, j = j0 + rr;
      if (j < nk) {
        const std::size_t row = static_cast<std::size_t>(key_row(j, np, p0, s0));
        copy16(Ks + rr * LDT + c, kp + row * a.k.ld + static_cast<std::size_t>(kvh) * D + c);
        copy16(Vs + rr * LDT + c, vp + row * a.v.ld + static_cast<std::size_t>(kvh) * D + c);
      } else {
        zero16(Ks + rr * LDT + c);
        zero16(Vs + rr * LDT + c);
      }
    }
    __syncthreads();

    // S = Q K^T for the warp's 16 rows and the tile's 64 keys.
CR_UNROLL
    for (int nf = 0; nf < BN / 16; ++nf) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::fill_fragment(acc, 0.f);
CR_UNROLL
      for (int kk = 0; kk < D / 16; ++kk) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> qa;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> kb;
        wmma::load_matrix_sync(qa, Qs + (warp * 16) * LDT + kk * 16, LDT);
        wmma::load_matrix_sync(kb, Ks + (nf * 16) * LDT + kk * 16, LDT);
        wmma::mma_sync(acc, qa, kb, acc);
      }
      wmma::store_matrix_sync(Sw + nf * 16, acc, LDS, wmma::mem_row_major);
    }
    __syncwarp();

    // Online softmax over the lane's 32 columns of row r (two passes over shared memory).
    const float* srow = Sw + r * LDS + hh * 32;
    float mx = -INFINITY;
CR_UNROLL
    for (int c = 0; c < 32; ++c)
      if (j0 + hh * 32 + c < visible) mx = fmaxf(mx, srow[c] * a.scale);
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    const float alpha = softmax_advance(st, mx);
    float sum = 0.f;
    T* prow = Pw + r * LDP + hh * 32;
CR_UNROLL
    for (int c = 0; c < 32; ++c) {
      const float p = j0 + hh * 32 + c < visible ? softmax_weight(st, srow[c] * a.scale) : 0.f;
      sum += p;
      prow[c] = from_f32<T>(p);
    }
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    st.l += sum;
CR_UNROLL
    for (int c = 0; c < D / 2; ++c) o[c] *= alpha;
    __syncwarp();

    // O += P V, 64 output columns (4 fragments) at a time through Sw.
CR_UNROLL
    for (int d0 = 0; d0 < D; d0 += 64) {
      constexpr int W = D < 64 ? D : 64;  // columns per pass
CR_UNROLL
      for (int f = 0; f < W / 16; ++f) {
        wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
        wmma::fill_fragment(acc, 0.f);
CR_UNROLL
        for (int kk = 0; kk < BN / 16; ++kk) {
          wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> pa;
          wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> vb;
          wmma::load_matrix_sync(pa, Pw + kk * 16, LDP);
          wmma::load_matrix_sync(vb, Vs + (kk * 16) * LDT + d0 + f * 16, LDT);
          wmma::mma_sync(acc, pa, vb, acc);
        }
        wmma::store_matrix_sync(Sw + f * 16, acc, LDS, wmma::mem_row_major);
      }
      __syncwarp();
      const float* pv = Sw + r * LDS + hh * (W / 2);
CR_UNROLL
      for (int c = 0; c < W / 2; ++c) o[(d0 / 64) * 32 + c] += pv[c];
      __syncwarp();
    }
  }

  if (i < n) {
    const float inv = 1.f / st.l;
    T* out = static_cast<T*>(a.out.p) + static_cast<std::size_t>(s0 + i) * a.out.ld + static_cast<std::size_t>(h) * D;
    constexpr int W = D < 64 ? D : 64;
CR_UNROLL
    for (int d0 = 0; d0 < D; d0 += 64)
CR_UNROLL
      for (int c = 0; c < W / 2; ++c) out[d0 + hh * (W / 2) + c] = from_f32<T>(o[(d0 / 64) * 32 + c] * inv);
  }
#endif
}
#endif

template <class L>
void dispatch_attention_tc(const AttnArgs& a, L&& launch) {
  Geom g;
  g.gx = static_cast<unsigned>(a.n_tiles);
  g.gy = static_cast<unsigned>(a.heads);
  g.threads = 128;
  g.smem = tc_attention_smem(a.head_dim);
  if (g.gx == 0) return;
  auto go = [&](auto t) {
    using T = decltype(t);
    switch (a.head_dim) {
      case 32: launch(&attn_tc_kernel<T, 32>, g, a); break;
      case 64: launch(&attn_tc_kernel<T, 64>, g, a); break;
      default: launch(&attn_tc_kernel<T, 128>, g, a); break;
    }
  };
  if (a.q.t == Elem::kBF16) go(__nv_bfloat16{});
  else go(__half{});
}

}  // namespace CR_KERNEL_NS
}  // namespace crossrank::cuda
