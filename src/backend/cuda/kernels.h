#pragma once
// Arguments of the CUDA backend's kernels, in plain C++ (no CUDA headers): CudaOps
// (cuda_ops_run.cc) fills them, a Device runs them (the GPU through the launch_<op> host
// launchers of the .cu files, or the host emulator of tests/cuda_emu/ through the same
// dispatch_<op> functions of the .cuh files).
//
// Conventions. Every matrix is row-major with a row stride `ld` in elements and its own
// element type (Mat::t): activations of one pass are in the compute dtype, except the
// per-sequence rows (rows == number of sequences: pooled rows and the last layer of the
// encoder), which are fp32 so that the head reads them unrounded (see cuda_ops_impl.h).
// Parameters of norms, biases of fused epilogues and the head are fp32. Kernel arguments
// are passed by value.
#include <cstddef>
#include <cstdint>

namespace crossrank::cuda {

enum class Elem : std::uint8_t { kF32, kF16, kBF16 };
inline constexpr int elem_bytes(Elem e) { return e == Elem::kF32 ? 4 : 2; }
const char* to_string(Elem e);

// A row-major matrix operand in device memory.
struct Mat {
  void* p = nullptr;
  int ld = 0;  // elements between rows
  Elem t = Elem::kF32;
};

// Which rows attention / gather produce (ops.h RowSel).
enum class Rows : std::uint8_t { kAll = 0, kFirst = 1, kLast = 2 };

// out[t] = word[ids[t]] (+ pos[pos_ids[t]]) (+ type[type_ids[t]]), then LayerNorm / RMSNorm.
struct EmbedArgs {
  Mat out;
  int tokens = 0, H = 0;
  Elem table_t = Elem::kF32;  // element type of the three tables (row stride H)
  const void* word = nullptr;
  const void* pos = nullptr;   // may be null
  const void* type = nullptr;  // may be null
  const std::int32_t* ids = nullptr;
  const std::int32_t* pos_ids = nullptr;
  const std::int32_t* type_ids = nullptr;
  bool norm = false, rms = false;
  const float* gamma = nullptr;
  const float* beta = nullptr;  // may be null
  float eps = 0.f;
};

// out = norm(in + z + zbias) per group of `group` columns (z, zbias optional; out may be
// in: each block reads its group before writing). Statistics in fp32, two-pass.
struct NormArgs {
  Mat in, z, out;               // z.p null: no addend
  const float* zbias = nullptr;  // [cols], with z
  int rows = 0, cols = 0, group = 0;
  bool rms = false;
  const float* gamma = nullptr;  // [group]
  const float* beta = nullptr;   // [group] or null
  float eps = 0.f;
};

// Elementwise activation functions: the values, in order, of ops.h Activation.
enum class ActFn : std::uint8_t { kIdentity, kGeluErf, kGeluTanh, kSilu, kTanh };

// Fused bias + activation after a GEMM without epilogue, and the elementwise primitives
// (add, activate, glu, scale); z may be out, and add may be out too (x += a: z = out = x):
//   glu false: out[m, c] = act(z[m, c] + bias[c]) * scale + add[m, c]        (c < cols)
//   glu true:  out[m, c] = act(z[m, c] + bias[c]) * (z[m, cols + c] + bias[cols + c])
// (GELU erf / tanh epilogues, GeGLU erf / tanh and SwiGLU over [gate | up] halves.)
struct BiasActArgs {
  ActFn act = ActFn::kIdentity;
  bool glu = false;
  Mat z, out;
  Mat add;                      // p null: nothing added (glu false only)
  const float* bias = nullptr;  // [cols] or, with glu, [2 cols]; or null
  float scale = 1.f;            // glu false only
  int rows = 0, cols = 0;
};

// Rotary embedding (rotate-half) in place on the first 2*half features of each head.
inline constexpr int kMaxRopeHalf = 128;
struct RopeArgs {
  Mat x;
  int rows = 0, heads = 0, head_dim = 0, half = 0;
  const std::int32_t* pos_ids = nullptr;
  float inv_freq[kMaxRopeHalf] = {};  // computed on the host exactly as the reference op
};

// Varlen softmax attention (ops.h AttnDesc). Keys of sequence s: its parent's tokens (if
// any), then its own. Query tiles (kAll): `tiles` holds (sequence, first own row) pairs of
// up to tile_rows rows; kFirst/kLast: one query row per sequence, block x = sequence.
enum class AttnPath : std::uint8_t {
  kSimple,  // CUDA cores, fp32 math, any dtype / rows / head_dim <= 256
  kTensor,  // wmma tensor cores (sm80+, fp16/bf16, kAll, head_dim 32/64/128, no window or
            // soft-cap), FA-2 style
};
struct AttnArgs {
  Mat q, k, v, out;
  int heads = 0, kv_heads = 0, head_dim = 0;
  float scale = 1.f;
  Rows rows = Rows::kAll;
  bool causal = false;
  int window = 0;       // > 0: sliding window (ops.h AttnDesc::window), either direction
  float softcap = 0.f;  // > 0: scores become softcap tanh(score / softcap)
  int num_seqs = 0;
  const std::int32_t* cu = nullptr;      // [S + 1]
  const std::int32_t* parent = nullptr;  // [S] or null
  const std::int32_t* tiles = nullptr;   // [2 * n_tiles] (kAll)
  int n_tiles = 0, tile_rows = 0;
  AttnPath path = AttnPath::kSimple;
};

// out[r] = in[row(r)]: kAll copies rows; kFirst / kLast pick cu[s] / cu[s+1]-1. With mean,
// out[s] = the mean of rows [cu[s], cu[s+1]) instead (fp32 sums; an empty sequence gives 0).
struct GatherArgs {
  Mat in, out;
  int rows_out = 0, cols = 0;
  Rows sel = Rows::kAll;
  bool mean = false;
  const std::int32_t* cu = nullptr;
};

// The classifier head in fp32 (ops.h HeadDesc): hidden = dense ? tanh(p Wd^T + bd) : p;
// logits[s] = n_out == 1 ? hidden.w0 + b0 : hidden.w1 + b1 - hidden.w0 - b0.
struct HeadArgs {
  Mat pooled;
  int S = 0, H = 0;
  const float* dense_w = nullptr;  // [H, H] or null
  const float* dense_b = nullptr;  // [H]
  const float* out_w = nullptr;    // [n_out, H]
  const float* out_b = nullptr;    // [n_out]
  int n_out = 1;
  float* hidden = nullptr;  // [S, H] device scratch (used with dense)
  float* logits = nullptr;  // [S] device
};

// out = in (element type conversion, e.g. fp32 per-sequence rows to a GEMM's dtype).
struct ConvertArgs {
  Mat in, out;
  int rows = 0, cols = 0;
};

// out[M, N] = in[M, K] W[N, K]^T (+ bias[N]) (+ out when accumulate). W, in: w_t; out and
// bias: out.t. fp32 accumulation (fp32 GEMMs without TF32).
struct GemmArgs {
  Mat in, out;
  const void* w = nullptr;
  Elem w_t = Elem::kF32;
  const void* bias = nullptr;
  bool accumulate = false;
  int M = 0, N = 0, K = 0;
  // Batch-invariant (--deterministic): the fixed-order kernel of gemm_det.cuh instead of
  // cuBLASLt, so a row's result never depends on M or the other rows.
  bool invariant = false;
};

}  // namespace crossrank::cuda
