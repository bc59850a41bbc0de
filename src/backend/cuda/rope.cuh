#pragma once
// Rotary position embedding (rotate-half / NeoX layout, HF Llama / Qwen), in place.
// inv_freq is computed on the host exactly as the reference op (1 / theta^(2i/dim) in
// fp32) and passed by value; angles pos * inv_freq and their cos / sin in fp32 (precise
// cosf / sinf: the build does not use fast math).
//
// Parallelisation: grid-stride over (row, head, i < half) pairs; a thread rotates the
// pair (x[i], x[i + half]) of one head of one row.
#include "backend/cuda/math.cuh"
#include "backend/cuda/plan.h"

namespace crossrank::cuda {
inline namespace CR_KERNEL_NS {

#if defined(CROSSRANK_CUDA_KERNELS)
template <class T>
__global__ void __launch_bounds__(256) rope_kernel(const RopeArgs a) {
  const std::size_t per_row = static_cast<std::size_t>(a.heads) * a.half;
  const std::size_t n = per_row * a.rows;
  const std::size_t step = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const int r = static_cast<int>(i / per_row);
    const int rem = static_cast<int>(i % per_row);
    const int h = rem / a.half, j = rem % a.half;
    const float ang = static_cast<float>(a.pos_ids[r]) * a.inv_freq[j];
    const float c = cosf(ang), s = sinf(ang);
    const std::size_t b = static_cast<std::size_t>(r) * a.x.ld + static_cast<std::size_t>(h) * a.head_dim;
    const float x1 = Io<T>::ld(a.x.p, b + j, a.x.t), x2 = Io<T>::ld(a.x.p, b + j + a.half, a.x.t);
    Io<T>::st(a.x.p, b + j, a.x.t, x1 * c - x2 * s);
    Io<T>::st(a.x.p, b + j + a.half, a.x.t, x2 * c + x1 * s);
  }
}
#endif

template <class L>
void dispatch_rope(const RopeArgs& a, L&& launch) {
  if (a.rows <= 0) return;
  const Geom g = elementwise_geometry(static_cast<std::size_t>(a.rows) * a.heads * a.half);
  with_elem(a.x.t, [&](auto t) { launch(&rope_kernel<decltype(t)>, g, a); });
}

}  // namespace CR_KERNEL_NS
}  // namespace crossrank::cuda
