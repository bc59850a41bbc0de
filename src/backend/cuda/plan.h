#pragma once
// Host-side planning of the CUDA backend, in plain C++ so that it is unit tested on any
// machine (tests/backend/cuda/cuda_host_test.cc): launch geometry of every kernel, the attention path
// and its query tiles, the GEMM heuristic's M buckets, the per-pass batch metadata layout
// and the element type of an activation.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "backend/cuda/kernels.h"

namespace crossrank::cuda {

// A kernel launch: grid (gx, gy), block of `threads`, dynamic shared memory bytes.
struct Geom {
  unsigned gx = 1, gy = 1;
  unsigned threads = 32;
  std::size_t smem = 0;
};

inline constexpr unsigned kMaxGridX = 65535;  // cap of grid-stride launches (any sm)
inline constexpr std::size_t kDefaultSmem = 48 * 1024;

// Threads of a row kernel over `cols` columns: ~4 columns per thread, a multiple of 32,
// in [32, 256].
unsigned row_threads(int cols);
// One block per token (LayerNorm row held in shared memory as fp32).
Geom embed_geometry(int tokens, int H);
// One block per (row, group).
Geom norm_geometry(int rows, int cols, int group);
// Grid-stride elementwise launch over n items, 256 threads.
Geom elementwise_geometry(std::size_t n);
// One block per output row.
Geom gather_geometry(int rows_out, int cols);
// Head: dense layer (a warp per output feature, 8 per block, blocks (ceil(H/8), S)), then
// the output rows (a block of 64 threads per sequence).
Geom head_dense_geometry(int S, int H);
Geom head_out_geometry(int S);

// ---- attention ----------------------------------------------------------------------
inline constexpr int kTcTileRows = 64;      // query rows per block, tensor-core path (4 warps x 16)
inline constexpr int kTcKeyTile = 64;       // keys per shared-memory tile
inline constexpr int kSimpleWarpsAll = 8;   // query rows per block, simple path (a warp per row)
inline constexpr int kSimpleKeyChunk = 32;  // keys per chunk, simple path (a lane per key)

// Tensor-core path: dynamic shared memory for head_dim D (Q, K, V tiles in the dtype, a
// 16 x 68 fp32 score/PV tile and a 16 x 72 probability tile per warp).
std::size_t tc_attention_smem(int D);
// Simple path: K chunk (32 x (D+1) fp32), V chunk (32 x D), one query row and 32
// probabilities per warp.
std::size_t simple_attention_smem(int D, int warps);
// Register tile of the simple path: the smallest of 64, 128, 256 that holds D (0: none).
int simple_dmax(int D);

// Facts the path choice needs about one attention call.
struct AttnShape {
  int sm = 0;  // compute capability x 10 (75, 80, 86, 89, 90)
  Elem q = Elem::kF32, k = Elem::kF32, v = Elem::kF32, out = Elem::kF32;
  Rows rows = Rows::kAll;
  int head_dim = 0;
  bool aligned16 = false;  // q/k/v/out base pointers and row strides allow 16-byte loads
  bool window_or_softcap = false;  // AttnDesc::window or ::softcap set
  std::size_t max_smem = kDefaultSmem;  // opt-in shared memory per block on the device
};
// kTensor when sm >= 80, q/k/v/out all fp16 or all bf16, rows kAll, head_dim 32/64/128,
// 16-byte aligned, no sliding window or soft-cap, and the shared memory fits; else
// kSimple. Why not windows on tensor cores yet: a windowed instance of the wmma kernel
// spilled registers (ptxas: bf16 D 64 with a per-lane lower bound; fp16 / bf16 D 32 with
// the bounds recomputed from the row's position); a leaner mask is a follow-up. Throws Error when not even the
// simple path can run (head_dim > 256 or shared memory too small).
AttnPath choose_attention_path(const AttnShape& s);

// Query tiles of the kAll rows: (sequence, first own row) for every run of up to
// `rows_per_tile` rows of each sequence, sequences in order. cu = cu_seqlens.
std::vector<std::int32_t> attention_tiles(const std::vector<std::int32_t>& cu, int rows_per_tile);
// Number of tiles attention_tiles() makes (for sizing without building them).
int attention_tile_count(const std::vector<std::int32_t>& cu, int rows_per_tile);

// ---- GEMM --------------------------------------------------------------------------
// The M a GEMM's cuBLASLt heuristic is asked for: M <= 16 -> 16; up to 4096 the next
// power of two; above, the next multiple of 2048. The algorithm found for the bucket is
// checked (cublasLtMatmulAlgoCheck) once per exact M before use.
int gemm_m_bucket(int M);

// ---- per-pass batch metadata (one int32 buffer uploaded at the first op of a pass) ---
struct MetaLayout {
  // Offsets in int32 elements; -1 when absent.
  std::size_t ids = 0, pos = 0, types = 0, cu = 0, parent = 0, tiles_tc = 0, tiles_simple = 0;
  int n_tiles_tc = 0, n_tiles_simple = 0;
  bool has_parent = false;
  std::size_t total = 0;  // int32 elements
};
// Each section starts on a 64-byte boundary.
MetaLayout meta_layout(int tokens, int seqs, bool has_parent, int n_tiles_tc, int n_tiles_simple);
// Upper bound of meta_layout(...).total * 4 for a pass of `tokens` tokens.
std::size_t meta_bytes_bound(int tokens);

// ---- activations -------------------------------------------------------------------
// Element type of an activation of `rows` rows in a pass over `seqs` sequences: the
// per-sequence rows (rows == seqs, not token rows: Ops::alloc_seq) are fp32, every other
// activation is in `dtype`.
Elem act_elem(int rows, int seqs, bool tokens, Elem dtype);

}  // namespace crossrank::cuda
