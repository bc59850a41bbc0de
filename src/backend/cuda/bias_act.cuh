#pragma once
// Bias + activation after a GEMM without epilogue: the exact erf GELU (BERT / XLM-R;
// cuBLASLt's GELU epilogue is the tanh approximation), GELU-tanh, and the gated units
// (GeGLU erf / tanh, SwiGLU over gate | up halves); and the elementwise primitives add,
// activate, glu and scale (kernels.h BiasActArgs). The bias is added in fp32 to the GEMM's
// output before the activation.
//
// Parallelisation: grid-stride over the rows x cols outputs (elementwise_geometry), one
// output per thread per step; z (and add) may be the output (in place).
#include "backend/cuda/math.cuh"
#include "backend/cuda/plan.h"

namespace crossrank::cuda {
inline namespace CR_KERNEL_NS {

#if defined(CROSSRANK_CUDA_KERNELS)
template <class T>
__global__ void __launch_bounds__(256) bias_act_kernel(const BiasActArgs a) {
  const std::size_t n = static_cast<std::size_t>(a.rows) * a.cols;
  const std::size_t step = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const int r = static_cast<int>(i / a.cols), c = static_cast<int>(i % a.cols);
    const std::size_t zr = static_cast<std::size_t>(r) * a.z.ld, o = static_cast<std::size_t>(r) * a.out.ld + c;
    const float z = Io<T>::ld(a.z.p, zr + c, a.z.t) + (a.bias ? a.bias[c] : 0.f);
    if (!a.glu) {
      float y = act_fn(a.act, z) * a.scale;
      if (a.add.p) y += Io<T>::ld(a.add.p, static_cast<std::size_t>(r) * a.add.ld + c, a.add.t);
      Io<T>::st(a.out.p, o, a.out.t, y);
    } else {
      const float u = Io<T>::ld(a.z.p, zr + a.cols + c, a.z.t) + (a.bias ? a.bias[a.cols + c] : 0.f);
      Io<T>::st(a.out.p, o, a.out.t, act_fn(a.act, z) * u);
    }
  }
}
#endif

template <class L>
void dispatch_bias_act(const BiasActArgs& a, L&& launch) {
  if (a.rows <= 0 || a.cols <= 0) return;
  const Geom g = elementwise_geometry(static_cast<std::size_t>(a.rows) * a.cols);
  if (a.z.t == a.out.t && (!a.add.p || a.add.t == a.out.t))
    with_elem(a.out.t, [&](auto t) { launch(&bias_act_kernel<decltype(t)>, g, a); });
  else launch(&bias_act_kernel<AnyElem>, g, a);
}

}  // namespace CR_KERNEL_NS
}  // namespace crossrank::cuda
