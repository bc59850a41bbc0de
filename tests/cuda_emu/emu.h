#pragma once
// A host emulator of the CUDA execution model, enough to run crossrank's kernels
// (src/backend/cuda/*.cuh) unchanged on a machine without a GPU, so that CI checks the
// kernel source itself against the reference ops.
//
// Model. A launch runs its blocks one after another; the threads of a block are fibers
// (cooperative user-space contexts) on the calling thread. A fiber runs until it reaches
// a synchronisation point: __syncthreads() waits for every live thread of the block,
// __syncwarp() and the warp shuffles for every live lane of the warp (lanes = consecutive
// thread ids, 32 per warp, as on the GPU). `__shared__` variables are function statics
// (one block at a time), dynamic shared memory is a per-launch buffer (CR_DYN_SMEM).
// nvcuda::wmma is emulated warp-collectively: fragments hold whole tiles, lane 0 does the
// multiply-accumulate and the stores (loads and fills happen in every lane).
//
// What it checks: indexing, masking, tiling and the arithmetic of every kernel, its
// dispatch and launch geometry. What it cannot: timing, memory-model races (fibers are
// sequentially consistent), bank conflicts, the device's fast-math rounding.
//
// Include this header before any CUDA header and before the kernel headers.
#define CROSSRANK_CUDA_EMU 1

#define __global__
#define __device__
#define __host__
#define __shared__ static
#define __launch_bounds__(...)

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <vector_types.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <type_traits>

// `#pragma unroll` of the kernels means nothing to the host compiler.
#pragma GCC diagnostic ignored "-Wunknown-pragmas"

using std::max;  // the device's integer min / max
using std::min;

namespace crossrank::emu {

struct Dim {
  unsigned x = 1, y = 1, z = 1;
};

// Runs `body` as a grid of blocks of `block` threads with `smem` bytes of dynamic
// shared memory (zeroed per block). Aborts with a message on a deadlock (threads of a
// block waiting at different barriers).
void run_grid(Dim grid, Dim block, std::size_t smem, const std::function<void()>& body);

template <class K, class... A>
void launch(Dim grid, Dim block, std::size_t smem, K kernel, const A&... args) {
  run_grid(grid, block, smem, [&] { kernel(args...); });
}

// ---- used by the builtins below ----
void block_barrier();
void warp_barrier();
unsigned char* dynamic_smem();
int linear_tid();
unsigned char* shuffle_slot(int tid);  // 16 bytes per thread

}  // namespace crossrank::emu

extern thread_local uint3 threadIdx;
extern thread_local uint3 blockIdx;
extern thread_local dim3 blockDim;
extern thread_local dim3 gridDim;

#define CR_DYN_SMEM(name) unsigned char* name = ::crossrank::emu::dynamic_smem()

inline void __syncthreads() { crossrank::emu::block_barrier(); }
inline void __syncwarp(unsigned = 0xffffffffu) { crossrank::emu::warp_barrier(); }
inline void __trap() { std::abort(); }

template <class T>
T __shfl_sync(unsigned, T v, int src, int width = 32) {
  static_assert(sizeof(T) <= 16, "emu shuffle: value too large");
  const int tid = crossrank::emu::linear_tid(), lane = tid & 31, warp0 = tid & ~31;
  std::memcpy(crossrank::emu::shuffle_slot(tid), &v, sizeof(T));
  crossrank::emu::warp_barrier();
  const int from = (lane & ~(width - 1)) + (src & (width - 1));
  T r;
  std::memcpy(&r, crossrank::emu::shuffle_slot(warp0 + from), sizeof(T));
  crossrank::emu::warp_barrier();
  return r;
}
template <class T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  const int lane = crossrank::emu::linear_tid() & 31;
  return __shfl_sync(mask, v, (lane ^ lane_mask) & (width - 1), width);
}

inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __fdividef(float a, float b) { return a / b; }
template <class T>
T __ldg(const T* p) {
  return *p;
}

// ---- nvcuda::wmma --------------------------------------------------------------------------
namespace nvcuda::wmma {

struct row_major {};
struct col_major {};
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
enum layout_t { mem_row_major, mem_col_major };

template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
  static constexpr int R = std::is_same_v<Use, matrix_b> ? K : M;
  static constexpr int C = std::is_same_v<Use, matrix_a> ? K : N;
  static constexpr int num_elements = R * C;
  T x[R * C];  // element (r, c) at x[r * C + c]
};

namespace detail {
inline float f(float v) { return v; }
inline float f(__half v) { return __half2float(v); }
inline float f(__nv_bfloat16 v) { return __bfloat162float(v); }
template <class T>
T from(float v) {
  if constexpr (std::is_same_v<T, __half>) return __float2half_rn(v);
  else if constexpr (std::is_same_v<T, __nv_bfloat16>) return __float2bfloat16_rn(v);
  else return v;
}
inline bool lane0() { return (crossrank::emu::linear_tid() & 31) == 0; }
}  // namespace detail

template <class Use, int M, int N, int K, class T, class L, class V>
void fill_fragment(fragment<Use, M, N, K, T, L>& a, const V& v) {
  for (auto& e : a.x) e = detail::from<T>(detail::f(v));
}

// matrix_a / matrix_b with a compile-time layout.
template <class Use, int M, int N, int K, class T, class L>
void load_matrix_sync(fragment<Use, M, N, K, T, L>& a, const T* p, unsigned ldm) {
  using F = fragment<Use, M, N, K, T, L>;
  for (int r = 0; r < F::R; ++r)
    for (int c = 0; c < F::C; ++c)
      a.x[r * F::C + c] = std::is_same_v<L, row_major> ? p[static_cast<std::size_t>(r) * ldm + c]
                                                       : p[static_cast<std::size_t>(c) * ldm + r];
}

template <int M, int N, int K, class T>
void load_matrix_sync(fragment<accumulator, M, N, K, T, void>& a, const T* p, unsigned ldm, layout_t l) {
  for (int r = 0; r < M; ++r)
    for (int c = 0; c < N; ++c)
      a.x[r * N + c] = l == mem_row_major ? p[static_cast<std::size_t>(r) * ldm + c] : p[static_cast<std::size_t>(c) * ldm + r];
}

template <int M, int N, int K, class T>
void store_matrix_sync(T* p, const fragment<accumulator, M, N, K, T, void>& a, unsigned ldm, layout_t l) {
  if (!detail::lane0()) return;
  for (int r = 0; r < M; ++r)
    for (int c = 0; c < N; ++c)
      (l == mem_row_major ? p[static_cast<std::size_t>(r) * ldm + c] : p[static_cast<std::size_t>(c) * ldm + r]) =
          a.x[r * N + c];
}

template <int M, int N, int K, class TA, class LA, class TB, class LB, class TC>
void mma_sync(fragment<accumulator, M, N, K, TC, void>& d, const fragment<matrix_a, M, N, K, TA, LA>& a,
              const fragment<matrix_b, M, N, K, TB, LB>& b, const fragment<accumulator, M, N, K, TC, void>& c) {
  if (!detail::lane0()) return;
  float out[M * N];
  for (int r = 0; r < M; ++r)
    for (int n = 0; n < N; ++n) {
      float acc = detail::f(c.x[r * N + n]);
      for (int k = 0; k < K; ++k) acc += detail::f(a.x[r * K + k]) * detail::f(b.x[k * N + n]);
      out[r * N + n] = acc;
    }
  for (int i = 0; i < M * N; ++i) d.x[i] = detail::from<TC>(out[i]);
}

}  // namespace nvcuda::wmma
