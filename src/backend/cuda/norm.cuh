#pragma once
// LayerNorm / RMSNorm, per row or per group of columns, optionally of a sum: the fused
// residual + bias + norm after a GEMM (post-norm transformer blocks: x = LN(x + z + b)).
//
// Parallelisation: one block per (row, group) (grid rows x cols/group), row_threads(group)
// threads; thread t owns columns t, t + blockDim, ...: it loads in + z + bias (fp32) into
// a shared row, the block reduces the statistics (fp32, two-pass), each thread writes its
// columns. In place (out == in) is safe: a block reads its whole group before writing.
#include "backend/cuda/math.cuh"
#include "backend/cuda/plan.h"

namespace crossrank::cuda {
inline namespace CR_KERNEL_NS {

#if defined(CROSSRANK_CUDA_KERNELS)
template <class T>
__global__ void __launch_bounds__(256) norm_kernel(const NormArgs a) {
  CR_DYN_SMEM(smem);
  float* x = reinterpret_cast<float*>(smem);
  __shared__ float red[32];
  const int r = blockIdx.x, n = a.group, g0 = blockIdx.y * a.group;
  const std::size_t i0 = static_cast<std::size_t>(r) * a.in.ld + g0;
  const std::size_t z0 = static_cast<std::size_t>(r) * a.z.ld + g0;
  for (int c = threadIdx.x; c < n; c += blockDim.x) {
    float v = Io<T>::ld(a.in.p, i0 + c, a.in.t);
    if (a.z.p) v += Io<T>::ld(a.z.p, z0 + c, a.z.t) + (a.zbias ? a.zbias[g0 + c] : 0.f);
    x[c] = v;
  }
  normalize_row(x, n, a.rms, a.gamma, a.beta, a.eps, red);
  const std::size_t o0 = static_cast<std::size_t>(r) * a.out.ld + g0;
  for (int c = threadIdx.x; c < n; c += blockDim.x) Io<T>::st(a.out.p, o0 + c, a.out.t, x[c]);
}
#endif

template <class L>
void dispatch_norm(const NormArgs& a, L&& launch) {
  if (a.rows <= 0) return;
  const Geom g = norm_geometry(a.rows, a.cols, a.group);
  const bool same = a.in.t == a.out.t && (!a.z.p || a.z.t == a.out.t);
  if (same) with_elem(a.out.t, [&](auto t) { launch(&norm_kernel<decltype(t)>, g, a); });
  else launch(&norm_kernel<AnyElem>, g, a);
}

}  // namespace CR_KERNEL_NS
}  // namespace crossrank::cuda
