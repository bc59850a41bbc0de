#pragma once
// Exact s16 x s16 -> s32 GEMM for crossrank's int8 linears on CPUs without VNNI (AVX2:
// Zen 2/3, Intel before Cascade Lake).
//
//   C[M, N] = A[M, K] (s16, row-major) * W[N, K]^T (packed s16, HF layout), s32 sums.
//
// Why not oneDNN there: without VNNI oneDNN multiplies u8 x s8 with vpmaddubsw, whose s16
// pair sums saturate (2 * 255 * 127 > 32767), so crossrank had to keep weights to 7 bits,
// and 7-bit weights fail the real-weight ranking gate (WikiQA top-1 96 %, TREC-DL 95.3 % on
// AMD EPYC Zen 3, AVX2, 2026-11). Here vpmaddwd multiplies s16 pairs into s32 exactly, at
// the same rate whatever the operands' range, so weights and activations use the widest
// ranges whose sums cannot overflow (igemm_range). The integers (and so the int8 scores)
// therefore differ from the VNNI path's, which keeps 8-bit operands.
//
// Integer accumulation is exact and order-free: a row's result never depends on M, the
// other rows or the thread split (batch-invariant by construction).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "backend/cpu/aligned.h"

namespace crossrank::cpu {

// Weights packed for igemm_s16s8: panels of 16 output channels; inside a
// panel, for each pair of K, the 16 channels' (w[n,2k], w[n,2k+1]) as s16 pairs. N and K
// are padded with zeros to multiples of 16 and 2. Weights are 8-bit or wider (igemm_range).
class PackedS8 {
 public:
  PackedS8() = default;
  // Packs W [N, K] row-major (row stride K).
  PackedS8(const int8_t* w, int N, int K);
  PackedS8(const int16_t* w, int N, int K);
  int N() const { return N_; }
  int K() const { return K_; }
  int panels() const { return (N_ + 15) / 16; }
  int k2() const { return (K_ + 1) / 2; }  // K pairs
  // Panel p: k2() * 32 s16 values.
  const int16_t* panel(int p) const { return data_.get() + static_cast<std::size_t>(p) * k2() * 32; }
  std::size_t bytes() const { return static_cast<std::size_t>(panels()) * k2() * 64; }

 private:
  template <class T>
  void pack(const T* w);
  int N_ = 0, K_ = 0;
  AlignedArray<int16_t> data_;
};

// C[m, n] = sum_k A[m, k] * W[n, k] for m < M, n < N (C row stride ldc, A row stride lda),
// A and the packed weights within igemm_range(K), so no s32 sum can overflow. Runs on the
// OpenMP pool; the kernel is chosen by cpu_isa() (AVX2, else the scalar one below, which is
// the reference semantics). cpu int8 uses it where there is no VNNI (cpu_ops_impl.h).
void igemm_s16s8(const int16_t* A, std::size_t lda, int M, const PackedS8& W, int32_t* C, std::size_t ldc);
// The same sums handed to an epilogue instead of stored: f(m0, rows, n0, nvalid, sums) gets
// the finished s32 sums of rows [m0, m0 + rows) x columns [n0, n0 + nvalid) (sums row
// stride 16), once per output, a tile of up to 6 rows at a time, on the thread that
// computed them, while they are in L1. The
// int8 linears dequantise there (cpu_linear.cc). Why: a separate dequantising pass over the
// [M, N] sums was 3.2 % of an int8 MiniLM forward (AMD EPYC Zen 3, AVX2, perf, 2026-12).
using IgemmEpilogue = std::function<void(int m0, int rows, int n0, int nvalid, const int32_t* sums)>;
// extra (optional): a few more rows (crossrank's 16-bit pooled rows, 2 per sequence), their
// s32 sums stored to extra->C. They ride along in the items of A's last row block, so each
// weight panel chunk is read once for both. Why: as a GEMM of their own, 2 rows ran at
// 97-103 GOP/s against 124-211 for the 163 rows of one v2-m3 pair (AMD EPYC Zen 3, 2026-12).
struct IgemmExtra {
  const int16_t* A;
  std::size_t lda;
  int M;
  int32_t* C;
  std::size_t ldc;
};
void igemm_s16s8(const int16_t* A, std::size_t lda, int M, const PackedS8& W, const IgemmEpilogue& f,
                 const IgemmExtra* extra = nullptr);
void igemm_s16s8_scalar(const int16_t* A, std::size_t lda, int M, const PackedS8& W, int32_t* C, std::size_t ldc);
// The ranges of crossrank's int8 linears on igemm_s16s8 for inner dimension K: weights
// in [-w, w] (per output channel), activations in [-a, a] (per row), with w * a * K < 2^31
// (no s32 sum overflows) and 255 * w * K < 2^31 (the 16-bit pooled rows' u8 halves),
// split evenly: K = 384: 2364 each (12 bits + sign); 1536: 1182; 4096: 724; 12288: 418.
// Why: vpmaddwd multiplies 16-bit operands at the same speed whatever their range, so on
// CPUs without VNNI wider weights and activations are free (see cpu_ops_impl.h).
struct IgemmRange {
  int w = 127, a = 127;
};
IgemmRange igemm_range(int K);

namespace avx2 {
// Where igemm_block hands finished tiles: (*f)(m0 + row, rows, n0, nvalid, sums).
struct IgemmSink {
  const IgemmEpilogue* f;
  int m0, n0;
};
// One block of the AVX2 kernel: rows [0, M) of A16 (16-bit pairs, row stride lda2 in pairs)
// times panel `w` (K pairs [k0, k0 + kc)) into C columns [0, nvalid) (+= when accumulate).
// With a sink, each tile's sums (plus C's when accumulate) go to the sink instead of C.
void igemm_block(const uint32_t* a16, std::size_t lda2, int M, const int16_t* w, int kc, int32_t* C,
                 std::size_t ldc, int nvalid, bool accumulate, const IgemmSink* sink = nullptr);
}  // namespace avx2

}  // namespace crossrank::cpu
