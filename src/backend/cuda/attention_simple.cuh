#pragma once
// Varlen attention, simple path (CUDA cores, fp32 arithmetic): every dtype and GPU (sm75
// included), head_dim <= 256, all / first / last query rows, causal masks, sliding
// windows (the block streams only the keys its rows' windows reach), soft-capped scores,
// grouped KV heads and shared-prefix parents (ops.h AttnDesc). The oracle-like path: used where the
// tensor-core path does not apply, and for the one-row-per-sequence queries (pooled /
// last-token rows), which are memory bound anyway.
//
// Parallelisation: a block per (query tile, head) (grid n_tiles x heads; kFirst/kLast:
// S x heads), WARPS warps, a warp per query row (kAll: 8 rows per tile; one row: 1 warp).
// The block streams the sequence's keys in chunks of 32 (FlashAttention-style online
// softmax, fp32 statistics): the chunk's K and V rows are converted to fp32 in shared
// memory, lane l scores key l of the chunk, the warp reduces max and sum, and every lane
// accumulates output features d = lane + 32c (c < DMAX/32) from the chunk's V rows.
// Memory: O(chunk) shared memory whatever the sequence length (8192-token pairs).
#include "backend/cuda/math.cuh"
#include "backend/cuda/plan.h"

namespace crossrank::cuda {
inline namespace CR_KERNEL_NS {

#if defined(CROSSRANK_CUDA_KERNELS)
template <class T, int DMAX, int WARPS>
__global__ void __launch_bounds__(WARPS * 32) attn_simple_kernel(const AttnArgs a) {
  constexpr int KC = kSimpleKeyChunk;
  CR_DYN_SMEM(smem);
  const int D = a.head_dim;
  float* Ks = reinterpret_cast<float*>(smem);  // [KC][D + 1]
  float* Vs = Ks + KC * (D + 1);                // [KC][D]
  float* Qs = Vs + KC * D;                      // [WARPS][D]
  float* Ps = Qs + WARPS * D;                   // [WARPS][KC]
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int h = blockIdx.y, kvh = h / (a.heads / a.kv_heads);
  const bool all = a.rows == Rows::kAll;
  const int s = all ? a.tiles[2 * blockIdx.x] : static_cast<int>(blockIdx.x);
  const int s0 = a.cu[s], n = a.cu[s + 1] - s0;
  const int par = a.parent ? a.parent[s] : -1;
  const int p0 = par >= 0 ? a.cu[par] : 0, np = par >= 0 ? a.cu[par + 1] - p0 : 0;
  const int nk = np + n;
  // This warp's query: own index i (keys of its sequence: np + i + 1 when causal), the
  // row it reads from q and writes to out.
  const int i0 = all ? a.tiles[2 * blockIdx.x + 1] : (a.rows == Rows::kFirst ? 0 : n - 1);
  const int nrows = all ? min(WARPS, n - i0) : 1;
  const int i = i0 + warp;
  const bool active = warp < nrows;
  const int qrow = all ? s0 + i : s;
  // Keys [lo, visible) this warp's row sees; [k_lo, k_hi) any row of the block sees.
  int lo, visible, k_lo, k_hi, unused;
  attn_row_keys(a, np, n, i, lo, visible);
  attn_row_keys(a, np, n, i0, k_lo, unused);
  attn_row_keys(a, np, n, i0 + nrows - 1, unused, k_hi);
  const T* kp = static_cast<const T*>(a.k.p);
  const T* vp = static_cast<const T*>(a.v.p);

  if (active)
    for (int d = lane; d < D; d += 32)
      Qs[warp * D + d] = load_any(a.q.p, static_cast<std::size_t>(qrow) * a.q.ld + static_cast<std::size_t>(h) * D + d, a.q.t);
  SoftmaxState st;
  float o[DMAX / 32];
CR_UNROLL
  for (int c = 0; c < DMAX / 32; ++c) o[c] = 0.f;

  for (int j0 = k_lo; j0 < k_hi; j0 += KC) {
    __syncthreads();  // the previous chunk is consumed (and Qs is visible)
    for (int idx = threadIdx.x; idx < KC * D; idx += blockDim.x) {
      const int r = idx / D, d = idx - r * D, j = j0 + r;
      float kv = 0.f, vv = 0.f;
      if (j < nk) {
        const std::size_t row = static_cast<std::size_t>(key_row(j, np, p0, s0));
        kv = to_f32(kp[row * a.k.ld + static_cast<std::size_t>(kvh) * D + d]);
        vv = to_f32(vp[row * a.v.ld + static_cast<std::size_t>(kvh) * D + d]);
      }
      Ks[r * (D + 1) + d] = kv;
      Vs[r * D + d] = vv;
    }
    __syncthreads();
    if (active) {
      const int j = j0 + lane;
      float sc = -INFINITY;
      if (j >= lo && j < visible) {
        float acc = 0.f;
        const float* q = Qs + warp * D;
        const float* k = Ks + lane * (D + 1);
        for (int d = 0; d < D; ++d) acc += q[d] * k[d];
        sc = attn_score(a, acc * a.scale);
      }
      const float alpha = softmax_advance(st, warp_max(sc));
      const float p = softmax_weight(st, sc);
      st.l += warp_sum(p);
      Ps[warp * KC + lane] = p;
      __syncwarp();
CR_UNROLL
      for (int c = 0; c < DMAX / 32; ++c) o[c] *= alpha;
      for (int jj = 0; jj < KC; ++jj) {
        const float pj = Ps[warp * KC + jj];
CR_UNROLL
        for (int c = 0; c < DMAX / 32; ++c) {
          const int d = lane + 32 * c;
          if (d < D) o[c] += pj * Vs[jj * D + d];
        }
      }
      __syncwarp();
    }
  }
  if (active) {
    const float inv = 1.f / st.l;
    const std::size_t o0 = static_cast<std::size_t>(qrow) * a.out.ld + static_cast<std::size_t>(h) * D;
CR_UNROLL
    for (int c = 0; c < DMAX / 32; ++c) {
      const int d = lane + 32 * c;
      if (d < D) store_any(a.out.p, o0 + d, a.out.t, o[c] * inv);
    }
  }
}
#endif

template <class L>
void dispatch_attention_simple(const AttnArgs& a, L&& launch) {
  const bool all = a.rows == Rows::kAll;
  const int warps = all ? kSimpleWarpsAll : 1;
  Geom g;
  g.gx = static_cast<unsigned>(all ? a.n_tiles : a.num_seqs);
  g.gy = static_cast<unsigned>(a.heads);
  g.threads = static_cast<unsigned>(32 * warps);
  g.smem = simple_attention_smem(a.head_dim, warps);
  if (g.gx == 0) return;
  const int dmax = simple_dmax(a.head_dim);
  with_elem(a.k.t, [&](auto t) {
    using T = decltype(t);
    auto go = [&](auto dm) {
      constexpr int DM = decltype(dm)::value;
      if (all) launch(&attn_simple_kernel<T, DM, kSimpleWarpsAll>, g, a);
      else launch(&attn_simple_kernel<T, DM, 1>, g, a);
    };
    if (dmax == 64) go(std::integral_constant<int, 64>{});
    else if (dmax == 128) go(std::integral_constant<int, 128>{});
    else go(std::integral_constant<int, 256>{});
  });
}

}  // namespace CR_KERNEL_NS
}  // namespace crossrank::cuda
