#pragma once
// Batch-invariant GEMM (--deterministic on the cuda backend), the GemmArgs contract of
// kernels.h: out[M, N] = in[M, K] W[N, K]^T (+ out) (+ bias), fp32 accumulation, rounded once
// to the output type. Every output's sum runs in one fixed order that depends on K only:
// never on M, on the row's position in the batch, on the grid or on an algorithm choice
// (cuBLASLt picks kernels, tiles and split-K per shape, so the same row can round
// differently in another batch).
//   fp32, and fp16 / bf16 below sm80:  per chunk of kDetChunk k, one fp32 FMA chain from 0
//                         in k order; the chunk sums added in order (as the CPU's sgemm_det:
//                         one chain over all of K drifted 9.8e-5 off a 2.72 logit on the
//                         ModernBERT published shape there, 128-long chains 1.1e-5).
//   fp16 / bf16 on sm80+: wmma 16x16x16 tiles, k-chunks 0, 16, 32, ... in order, one
//                         accumulator fragment per output tile (no split-K).
// Parallelisation: a block per 64 x 64 output tile; K streamed through shared memory in
// chunks of 16 (zero-padded at the edges, which adds exact zeros). FMA path: 256 threads,
// 4 x 4 outputs each. Tensor path: 4 warps, 16 rows x 64 columns each.
#include "backend/cuda/math.cuh"
#include "backend/cuda/plan.h"
#include "util/error.h"

#if defined(__CUDACC__)
#include <mma.h>
#endif

namespace crossrank::cuda {
inline namespace CR_KERNEL_NS {

constexpr int kDetTile = 64, kDetK = 16, kDetChunk = 128;  // kDetChunk: a multiple of kDetK

#if defined(CROSSRANK_CUDA_KERNELS)
// Epilogue of one output: + out (accumulate) + bias, in that order (as cuBLASLt's beta C
// then the bias epilogue).
CR_HD void gemm_det_store(const GemmArgs& a, int m, int n, float v) {
  const std::size_t o = static_cast<std::size_t>(m) * a.out.ld + n;
  if (a.accumulate) v += load_any(a.out.p, o, a.out.t);
  if (a.bias) v += load_any(a.bias, static_cast<std::size_t>(n), a.out.t);
  store_any(a.out.p, o, a.out.t, v);
}

template <class T>
__global__ void __launch_bounds__(256) gemm_det_fma_kernel(const GemmArgs a) {
  __shared__ float sa[kDetK][kDetTile + 1];  // [k][row]
  __shared__ float sw[kDetK][kDetTile + 1];  // [k][col]
  const int m0 = blockIdx.y * kDetTile, n0 = blockIdx.x * kDetTile;
  const int tr = threadIdx.x / 16, tc = threadIdx.x % 16;  // rows tr + 16 i, cols tc + 16 j
  float acc[4][4] = {}, run[4][4] = {};
  const T* in = static_cast<const T*>(a.in.p);
  const T* w = static_cast<const T*>(a.w);
  for (int k0 = 0; k0 < a.K; k0 += kDetK) {
    for (int i = threadIdx.x; i < kDetTile * kDetK; i += blockDim.x) {
      const int r = i / kDetK, c = i % kDetK, k = k0 + c;
      sa[c][r] = m0 + r < a.M && k < a.K ? to_f32(in[static_cast<std::size_t>(m0 + r) * a.in.ld + k]) : 0.f;
      sw[c][r] = n0 + r < a.N && k < a.K ? to_f32(w[static_cast<std::size_t>(n0 + r) * a.K + k]) : 0.f;
    }
    __syncthreads();
    for (int c = 0; c < kDetK; ++c)
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(sa[c][tr + 16 * i], sw[c][tc + 16 * j], acc[i][j]);
    __syncthreads();
    if ((k0 + kDetK) % kDetChunk == 0 || k0 + kDetK >= a.K)  // a chunk ends: add its sums
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) {
          run[i][j] += acc[i][j];
          acc[i][j] = 0.f;
        }
  }
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      const int m = m0 + tr + 16 * i, n = n0 + tc + 16 * j;
      if (m < a.M && n < a.N) gemm_det_store(a, m, n, run[i][j]);
    }
}

template <class T>
__global__ void __launch_bounds__(128) gemm_det_tc_kernel(const GemmArgs a) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();  // the host picks this path on sm80+ only
#else
  namespace wmma = nvcuda::wmma;
  struct alignas(32) Smem {  // wmma needs 256-bit aligned tiles
    T a[kDetTile * kDetK];      // [row][k]
    T w[kDetTile * kDetK];      // [col][k]: matrix_b col-major, ld kDetK
    float c[4][16 * 16];        // a warp's accumulator tile for the epilogue
  };
  __shared__ Smem sm;
  T* sa = sm.a;
  T* sw = sm.w;
  const int m0 = blockIdx.y * kDetTile, n0 = blockIdx.x * kDetTile;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const T* in = static_cast<const T*>(a.in.p);
  const T* w = static_cast<const T*>(a.w);
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[4];
  for (int j = 0; j < 4; ++j) wmma::fill_fragment(acc[j], 0.f);
  for (int k0 = 0; k0 < a.K; k0 += kDetK) {
    for (int i = threadIdx.x; i < kDetTile * kDetK; i += blockDim.x) {
      const int r = i / kDetK, k = k0 + i % kDetK;
      sa[i] = m0 + r < a.M && k < a.K ? in[static_cast<std::size_t>(m0 + r) * a.in.ld + k] : from_f32<T>(0.f);
      sw[i] = n0 + r < a.N && k < a.K ? w[static_cast<std::size_t>(n0 + r) * a.K + k] : from_f32<T>(0.f);
    }
    __syncthreads();
    wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> fa;
    wmma::load_matrix_sync(fa, sa + warp * 16 * kDetK, kDetK);
    for (int j = 0; j < 4; ++j) {
      wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> fb;
      wmma::load_matrix_sync(fb, sw + j * 16 * kDetK, kDetK);
      wmma::mma_sync(acc[j], fa, fb, acc[j]);
    }
    __syncthreads();
  }
  float* c = sm.c[warp];
  for (int j = 0; j < 4; ++j) {
    wmma::store_matrix_sync(c, acc[j], 16, wmma::mem_row_major);
    __syncwarp();
    for (int i = lane; i < 256; i += 32) {
      const int m = m0 + warp * 16 + i / 16, n = n0 + j * 16 + i % 16;
      if (m < a.M && n < a.N) gemm_det_store(a, m, n, c[i]);
    }
    __syncwarp();
  }
#endif
}
#endif

// Launches the batch-invariant GEMM for a GPU of compute capability sm (x 10). The input
// and weight types must match (as cuBLASLt's); the output type is free.
template <class L>
void dispatch_gemm_det(const GemmArgs& a, int sm, L&& launch) {
  if (a.M <= 0 || a.N <= 0) return;
  check(a.in.t == a.w_t, "gemm (deterministic): input and weight types differ");
  Geom g;
  g.gx = static_cast<unsigned>((a.N + kDetTile - 1) / kDetTile);
  g.gy = static_cast<unsigned>((a.M + kDetTile - 1) / kDetTile);
  const bool half = a.w_t == Elem::kF16 || a.w_t == Elem::kBF16;
  if (half && sm >= 80) {
    g.threads = 128;
    if (a.w_t == Elem::kBF16) launch(&gemm_det_tc_kernel<__nv_bfloat16>, g, a);
    else launch(&gemm_det_tc_kernel<__half>, g, a);
    return;
  }
  g.threads = 256;
  with_elem(a.w_t, [&](auto t) { launch(&gemm_det_fma_kernel<decltype(t)>, g, a); });
}

}  // namespace CR_KERNEL_NS
}  // namespace crossrank::cuda
