#pragma once
// Embedding lookup + LayerNorm / RMSNorm (XLM-R, BERT), fused.
//
// Parallelisation: one block per token (grid T), row_threads(H) threads; thread t owns
// columns t, t + blockDim, ...: it sums word + position + type rows (fp32, in that order,
// as the reference op) into a shared fp32 row, the block reduces mean and variance
// (two-pass, fp32), and each thread writes its columns in the output type.
// Shapes: tables [V, H], [P, H], [Ty, H] in table_t; out [T, H] (row stride out.ld).
#include "backend/cuda/math.cuh"
#include "backend/cuda/plan.h"

namespace crossrank::cuda {
inline namespace CR_KERNEL_NS {

#if defined(CROSSRANK_CUDA_KERNELS)
template <class T>
__global__ void __launch_bounds__(256) embed_kernel(const EmbedArgs a) {
  CR_DYN_SMEM(smem);
  float* x = reinterpret_cast<float*>(smem);
  __shared__ float red[32];
  const int t = blockIdx.x, H = a.H;
  const std::size_t w0 = static_cast<std::size_t>(a.ids[t]) * H;
  const std::size_t p0 = a.pos ? static_cast<std::size_t>(a.pos_ids[t]) * H : 0;
  const std::size_t y0 = a.type ? static_cast<std::size_t>(a.type_ids[t]) * H : 0;
  for (int c = threadIdx.x; c < H; c += blockDim.x) {
    float v = Io<T>::ld(a.word, w0 + c, a.table_t);
    if (a.pos) v += Io<T>::ld(a.pos, p0 + c, a.table_t);
    if (a.type) v += Io<T>::ld(a.type, y0 + c, a.table_t);
    x[c] = v;
  }
  if (a.norm) normalize_row(x, H, a.rms, a.gamma, a.beta, a.eps, red);
  const std::size_t o0 = static_cast<std::size_t>(t) * a.out.ld;
  for (int c = threadIdx.x; c < H; c += blockDim.x) Io<T>::st(a.out.p, o0 + c, a.out.t, x[c]);
}
#endif

// Picks the kernel instance and geometry; launch(kernel, geom, args) runs it.
template <class L>
void dispatch_embed(const EmbedArgs& a, L&& launch) {
  const Geom g = embed_geometry(a.tokens, a.H);
  if (a.tokens <= 0) return;
  if (a.table_t == a.out.t) with_elem(a.out.t, [&](auto t) { launch(&embed_kernel<decltype(t)>, g, a); });
  else launch(&embed_kernel<AnyElem>, g, a);
}

}  // namespace CR_KERNEL_NS
}  // namespace crossrank::cuda
