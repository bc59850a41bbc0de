#pragma once
// Row gather (the pooled first / last token of each sequence) and mean pooling, element
// type conversion,
// and the classifier head in fp32 (dense + tanh, then one or two output rows: the logit).
//
// Parallelisation:
//   gather:     a block per output row, threads over columns (mean: each thread sums its
//               column over the sequence's rows).
//   convert:    grid-stride over elements.
//   head_dense: a warp per output feature (8 per block), blocks (ceil(H/8), S); lanes
//               split the dot product over H (coalesced), then a warp reduction.
//   head_out:   a block of 64 threads per sequence; warp w < n_out computes output row w,
//               thread 0 writes the logit (n_out == 2: yes - no).
#include "backend/cuda/math.cuh"
#include "backend/cuda/plan.h"

namespace crossrank::cuda {
inline namespace CR_KERNEL_NS {

#if defined(CROSSRANK_CUDA_KERNELS)
template <class T>
__global__ void __launch_bounds__(256) gather_kernel(const GatherArgs a) {
  const int r = blockIdx.x;
  const std::size_t o0 = static_cast<std::size_t>(r) * a.out.ld;
  if (a.mean) {  // mean pooling: fp32 sums over the sequence's rows, coalesced per row
    const int t0 = a.cu[r], t1 = a.cu[r + 1];
    const float inv = t1 > t0 ? 1.f / static_cast<float>(t1 - t0) : 0.f;
    for (int c = threadIdx.x; c < a.cols; c += blockDim.x) {
      float acc = 0.f;
      for (int t = t0; t < t1; ++t) acc += Io<T>::ld(a.in.p, static_cast<std::size_t>(t) * a.in.ld + c, a.in.t);
      Io<T>::st(a.out.p, o0 + c, a.out.t, acc * inv);
    }
    return;
  }
  const int src = a.sel == Rows::kFirst ? a.cu[r] : a.sel == Rows::kLast ? a.cu[r + 1] - 1 : r;
  const std::size_t i0 = static_cast<std::size_t>(src) * a.in.ld;
  for (int c = threadIdx.x; c < a.cols; c += blockDim.x)
    Io<T>::st(a.out.p, o0 + c, a.out.t, Io<T>::ld(a.in.p, i0 + c, a.in.t));
}

__global__ void __launch_bounds__(256) convert_kernel(const ConvertArgs a) {
  const std::size_t n = static_cast<std::size_t>(a.rows) * a.cols;
  const std::size_t step = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const std::size_t r = i / a.cols, c = i % a.cols;
    store_any(a.out.p, r * a.out.ld + c, a.out.t, load_any(a.in.p, r * a.in.ld + c, a.in.t));
  }
}

__global__ void __launch_bounds__(256) head_dense_kernel(const HeadArgs a) {
  const int s = blockIdx.y, lane = threadIdx.x & 31;
  const int o = blockIdx.x * 8 + (threadIdx.x >> 5);
  if (o >= a.H) return;  // whole warps (no barrier follows)
  const std::size_t p0 = static_cast<std::size_t>(s) * a.pooled.ld;
  const float* w = a.dense_w + static_cast<std::size_t>(o) * a.H;
  float acc = 0.f;
  for (int k = lane; k < a.H; k += 32) acc += load_any(a.pooled.p, p0 + k, a.pooled.t) * w[k];
  acc = warp_sum(acc);
  if (lane == 0) a.hidden[static_cast<std::size_t>(s) * a.H + o] = tanhf(acc + a.dense_b[o]);
}

__global__ void __launch_bounds__(64) head_out_kernel(const HeadArgs a) {
  __shared__ float z[2];
  const int s = blockIdx.x, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  if (warp < a.n_out) {
    const float* w = a.out_w + static_cast<std::size_t>(warp) * a.H;
    float acc = 0.f;
    for (int k = lane; k < a.H; k += 32) {
      const float x = a.dense_w ? a.hidden[static_cast<std::size_t>(s) * a.H + k]
                                : load_any(a.pooled.p, static_cast<std::size_t>(s) * a.pooled.ld + k, a.pooled.t);
      acc += x * w[k];
    }
    acc = warp_sum(acc);
    if (lane == 0) z[warp] = acc + a.out_b[warp];
  }
  __syncthreads();
  if (threadIdx.x == 0) a.logits[s] = a.n_out == 1 ? z[0] : z[1] - z[0];
}
#endif

template <class L>
void dispatch_gather(const GatherArgs& a, L&& launch) {
  if (a.rows_out <= 0) return;
  const Geom g = gather_geometry(a.rows_out, a.cols);
  if (a.in.t == a.out.t) with_elem(a.out.t, [&](auto t) { launch(&gather_kernel<decltype(t)>, g, a); });
  else launch(&gather_kernel<AnyElem>, g, a);
}

template <class L>
void dispatch_convert(const ConvertArgs& a, L&& launch) {
  if (a.rows <= 0 || a.cols <= 0) return;
  launch(&convert_kernel, elementwise_geometry(static_cast<std::size_t>(a.rows) * a.cols), a);
}

template <class L>
void dispatch_head(const HeadArgs& a, L&& launch) {
  if (a.S <= 0) return;
  if (a.dense_w) launch(&head_dense_kernel, head_dense_geometry(a.S, a.H), a);
  launch(&head_out_kernel, head_out_geometry(a.S), a);
}

}  // namespace CR_KERNEL_NS
}  // namespace crossrank::cuda
