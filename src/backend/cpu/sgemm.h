#pragma once
// Batch-invariant fp32 GEMM:  C[M, N] = A[M, K] (fp32, row-major) * W[N, K]^T.
//
// K is cut into fixed chunks of kSgemmChunk. Every output element is, per chunk, one fused
// multiply-add chain over the chunk's k in order, starting from 0, and the chunk sums are
// added to the initial value in chunk order: ((init + s_0) + s_1) + ... That order does not
// depend on M, the other rows, the row's position, the tile it falls in or the thread split:
// a row's result is bit-identical alone or in any batch. (oneDNN's gemm:jit picks its K
// blocking from M: on AMD EPYC Zen 3, AVX2, 2026-12, 54 of 98 probed rows of a 1024x1024
// GEMM changed between M = 8 ... 2048; see tests/backend/cpu/sgemm_test.cc.) The AVX2,
// AVX-512 and scalar kernels compute the same chains and additions (IEEE fma and add per
// element), so the GEMM is even identical across ISA levels.
// Why chunks: one chain over all of K drifted 9.8e-5 from transformers on the ModernBERT
// published shape (logit 2.72, 22 layers, tolerance 1e-5 relative); 128-long chains stay
// at 1.1e-5, 256-long at 2.5e-5 (AMD EPYC Zen 3, 2026-12-07, docs/determinism.md).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "backend/cpu/aligned.h"

namespace crossrank::cpu {

// The K chunk of sgemm_det's sums (above); the same on every ISA level.
constexpr int kSgemmChunk = 128;

// Weights packed for sgemm_det: panels of nr output channels (16 for AVX2 and scalar, 32
// for AVX-512, fixed at packing from cpu_isa()), each K rows of nr floats; N is padded
// with zero channels.
class PackedF32 {
 public:
  PackedF32() = default;
  // Packs W [N, K] row-major (row stride K) and the bias [N] (null: none).
  PackedF32(const float* w, int N, int K, const float* bias = nullptr);
  int N() const { return N_; }
  int K() const { return K_; }
  int nr() const { return nr_; }
  int panels() const { return (N_ + nr_ - 1) / nr_; }
  const float* panel(int p) const { return data_.get() + static_cast<std::size_t>(p) * K_ * nr_; }
  // Panel p's bias (nr floats, zero-padded), or null.
  const float* bias(int p) const { return bias_.empty() ? nullptr : bias_.data() + static_cast<std::size_t>(p) * nr_; }
  std::size_t bytes() const { return static_cast<std::size_t>(panels()) * K_ * nr_ * 4; }

 private:
  int N_ = 0, K_ = 0, nr_ = 16;
  AlignedArray<float> data_;
  std::vector<float> bias_;
};

// C[m, n] = init + sum_k A[m, k] * W[n, k] (in the fixed chunked order above) for
// m < M, n < N, where init = C[m, n] when `accumulate`, else bias[n] (0 without bias).
// A row stride lda, C row stride ldc. Runs on the OpenMP pool.
void sgemm_det(const float* A, std::size_t lda, int M, const PackedF32& W, float* C, std::size_t ldc,
               bool accumulate = false);

// Block kernels (one per ISA translation unit): rows [0, M) of A times panel `w` over
// k in [0, kc) into C columns [0, nvalid): the chunk sums over [0, kc) (kc a multiple of
// kSgemmChunk, or the end of K) added in order to C when `cont`, else to bias[0, nr) (the
// panel's padded bias) or to 0 when bias is null.
namespace avx2 {
void sgemm_block(const float* a, std::size_t lda, int M, const float* w, int kc, float* C, std::size_t ldc,
                 int nvalid, bool cont, const float* bias);
}
namespace avx512 {
void sgemm_block(const float* a, std::size_t lda, int M, const float* w, int kc, float* C, std::size_t ldc,
                 int nvalid, bool cont, const float* bias);
}

}  // namespace crossrank::cpu
