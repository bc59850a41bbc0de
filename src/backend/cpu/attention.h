#pragma once
// Multi-head softmax attention over a packed variable-length batch (no padding, no mask:
// every token attends to all tokens of its own sequence, or to those within a sliding
// window).
//
// Shapes: Q, K, V and O are row-major token x feature matrices with arbitrary row strides;
// head h occupies features [h*D, (h+1)*D). Sequence s owns K/V rows [cu[s], cu[s+1]).
// Query / output rows are the same rows, or, with first_token_only, row s (one query
// per sequence: the last layer of a cross-encoder only needs the first token).
//
// Work split: tasks = (sequence, head), longest sequences first, scheduled dynamically
// over the OpenMP pool (S x heads >= 12 tasks for the real models; 2 threads here).
// Within a task, keys are processed in blocks of <= k_block with the flash-attention
// online softmax (running max m, running sum l, rescaled output accumulators) and, per key
// block, queries in blocks of <= q_block rows. When L <= k_block (every sequence up to
// 1024 tokens) there is one key block and this is the plain, numerically safe two-pass
// softmax (max, exp, sum, then P.V scaled by 1/sum). With a sliding window the loops turn
// around: per query block, only the key blocks its rows' windows reach (packed per query
// block), each row's softmax over its own window; batch-invariant, since a row's window
// and its sums do not depend on the block it falls in.
//
// Kernels (AVX2, D = head_dim, D % 8 == 0): per key block, K^T is packed into tiles of 16
// keys [tile][D][16] (8x8 in-register transposes) and V into contiguous rows [nk][D],
// once for all query blocks, into per-thread scratch (stays in L2: 2 x 1024 x 64 floats);
//   S[rows, nk] = scale Q K^T : 6 x 16 register blocks (12 ymm accumulators), tiles outer
//   P = exp(S - rowmax)       : vectorised exp, row sums kept for the final 1/l scaling
//   O[rows, D] (+)= P V       : 6 x 16 register blocks over 64-key chunks of packed V.
// Without AVX2, for D % 8 != 0, or with use_sgemm, the two products call oneDNN's sgemm
// per block (single-threaded inside the parallel region) on the strided rows directly.
// Why own kernels (AMD EPYC Zen 3, AVX2, 2026-10, GFLOP/s per core): v2-m3 8x512 58 vs
// oneDNN sgemm 55, 1x4096 63 vs 54; a wash at 128 tokens. Why the copies: without packing
// V / copying Q the same kernels ran at 22-34. Tables: docs/performance.md "Attention".
//
// Memory per thread: q_block x k_block scores + 2 x k_block x D packed K/V + max_seqlen x
// (D + 2) output accumulators and softmax state: O(L), never O(L^2), whatever the length
// (8192 tokens: ~2.7 MB per thread for D = 64).
#include <cstddef>
#include <cstdint>

#include "backend/ops.h"

namespace crossrank::cpu {

struct AttnArgs {
  const float* q = nullptr;
  int ldq = 0;
  const float* k = nullptr;
  int ldk = 0;
  const float* v = nullptr;
  int ldv = 0;
  float* o = nullptr;
  int ldo = 0;
  const int32_t* cu = nullptr;  // [S + 1]
  int S = 0;
  int heads = 0, head_dim = 0;
  float scale = 0.f;  // q.k scale; 0: 1/sqrt(head_dim)
  bool first_token_only = false;
  int q_block = 64, k_block = 1024;
  // window > 0: query i sees only keys j with |i - j| <= window (AttnDesc::window,
  // bidirectional); each query block then visits only the key blocks its window reaches,
  // so a sequence costs O(L x window). softcap > 0: scores s become softcap tanh(s / softcap).
  int window = 0;
  float softcap = 0.f;
};

// Floats of scratch one thread needs (max_seqlen: longest sequence of the batch).
std::size_t attention_scratch_floats(int q_block, int k_block, int head_dim, int max_seqlen);

// Runs on the current OpenMP pool; `scratch` holds omp_get_max_threads() x
// attention_scratch_floats(...) floats.
void attention(const AttnArgs& a, float* scratch, bool use_sgemm = false);

// The same contract as attention() with bf16 products (VDPBF16PS) and fp32 softmax
// statistics (attention_bf16.cc). Preconditions: cpu_isa() >= kAvx512Bf16, head_dim % 16
// == 0 and <= 1024; `scratch` holds omp_get_max_threads() x attention_bf16_scratch_bytes.
std::size_t attention_bf16_scratch_bytes(int q_block, int k_block, int head_dim, int max_seqlen);
void attention_bf16(const AttnArgs& a, char* scratch);

// Any AttnDesc without a window or soft-cap (causal, grouped-query heads, last-row
// queries, shared prefixes): one task per (sequence, head), keys streamed with an online
// softmax, no scratch. Not used by the ops (attention_causal.h is faster); a plain
// comparison point for benchmarks. Throws Error for a window or soft-cap.
void attention_generic(const AttnDesc& d, const Act& q, const Act& k, const Act& v, Act& out, const PackedBatch& b);

// Rotary embedding (rotate-half layout) in place on q and k at the batch's positions.
void rope_rows(Act& q, Act& k, const RopeDesc& d, const PackedBatch& b);

}  // namespace crossrank::cpu
