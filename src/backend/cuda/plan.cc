#include "backend/cuda/plan.h"

#include <algorithm>
#include <string>

#include "util/error.h"

namespace crossrank::cuda {

const char* to_string(Elem e) {
  switch (e) {
    case Elem::kF32: return "fp32";
    case Elem::kF16: return "fp16";
    case Elem::kBF16: return "bf16";
  }
  return "?";
}

namespace {
unsigned round_up(unsigned x, unsigned m) { return (x + m - 1) / m * m; }
unsigned ceil_div(std::size_t a, std::size_t b) { return static_cast<unsigned>((a + b - 1) / b); }
}  // namespace

unsigned row_threads(int cols) {
  const unsigned want = round_up(static_cast<unsigned>(std::max(1, (cols + 3) / 4)), 32);
  return std::clamp(want, 32u, 256u);
}

Geom embed_geometry(int tokens, int H) {
  Geom g;
  g.gx = static_cast<unsigned>(std::max(tokens, 1));
  g.threads = row_threads(H);
  g.smem = static_cast<std::size_t>(H) * sizeof(float);
  return g;
}

Geom norm_geometry(int rows, int cols, int group) {
  const int g = group > 0 ? group : cols;
  Geom r;
  r.gx = static_cast<unsigned>(std::max(rows, 1));
  r.gy = static_cast<unsigned>(std::max(cols / g, 1));
  r.threads = row_threads(g);
  r.smem = static_cast<std::size_t>(g) * sizeof(float);
  return r;
}

Geom elementwise_geometry(std::size_t n) {
  Geom g;
  g.threads = 256;
  g.gx = std::clamp(ceil_div(n, 256), 1u, kMaxGridX);
  return g;
}

Geom gather_geometry(int rows_out, int cols) {
  Geom g;
  g.gx = static_cast<unsigned>(std::max(rows_out, 1));
  g.threads = std::clamp(round_up(static_cast<unsigned>(std::max(cols, 1)), 32), 32u, 256u);
  return g;
}

Geom head_dense_geometry(int S, int H) {
  Geom g;
  g.threads = 256;
  g.gx = ceil_div(static_cast<std::size_t>(std::max(H, 1)), 8);
  g.gy = static_cast<unsigned>(std::max(S, 1));
  return g;
}

Geom head_out_geometry(int S) {
  Geom g;
  g.threads = 64;
  g.gx = static_cast<unsigned>(std::max(S, 1));
  return g;
}

std::size_t tc_attention_smem(int D) {
  const std::size_t ld = static_cast<std::size_t>(D) + 8;
  const std::size_t qkv = 3 * kTcTileRows * ld * 2;  // Q, K, V tiles (kTcKeyTile == kTcTileRows)
  const std::size_t s = 4 * 16 * 68 * sizeof(float);
  const std::size_t p = 4 * 16 * 72 * 2;
  return qkv + s + p;
}

std::size_t simple_attention_smem(int D, int warps) {
  const std::size_t d = static_cast<std::size_t>(D);
  return (kSimpleKeyChunk * (d + 1) + kSimpleKeyChunk * d + warps * d + warps * kSimpleKeyChunk) * sizeof(float);
}

int simple_dmax(int D) {
  for (int m : {64, 128, 256})
    if (D <= m) return m;
  return 0;
}

AttnPath choose_attention_path(const AttnShape& s) {
  check(s.head_dim > 0, "attention: bad head_dim");
  const bool half = s.q == Elem::kF16 || s.q == Elem::kBF16;
  const bool same = s.k == s.q && s.v == s.q && s.out == s.q;
  const bool dim_ok = s.head_dim == 32 || s.head_dim == 64 || s.head_dim == 128;
  if (s.sm >= 80 && half && same && s.rows == Rows::kAll && dim_ok && s.aligned16 && !s.window_or_softcap &&
      tc_attention_smem(s.head_dim) <= s.max_smem)
    return AttnPath::kTensor;
  if (simple_dmax(s.head_dim) == 0)
    throw Error(ErrorCode::kUnsupported,
                "cuda attention: head_dim " + std::to_string(s.head_dim) + " > 256 is not supported");
  const int warps = s.rows == Rows::kAll ? kSimpleWarpsAll : 1;
  if (simple_attention_smem(s.head_dim, warps) > s.max_smem)
    throw Error(ErrorCode::kUnsupported, "cuda attention: head_dim " + std::to_string(s.head_dim) +
                                             " needs more shared memory than this GPU has");
  return AttnPath::kSimple;
}

std::vector<std::int32_t> attention_tiles(const std::vector<std::int32_t>& cu, int rows_per_tile) {
  std::vector<std::int32_t> t;
  for (std::size_t s = 0; s + 1 < cu.size(); ++s)
    for (int r = 0; r < cu[s + 1] - cu[s]; r += rows_per_tile) {
      t.push_back(static_cast<std::int32_t>(s));
      t.push_back(r);
    }
  return t;
}

int attention_tile_count(const std::vector<std::int32_t>& cu, int rows_per_tile) {
  int n = 0;
  for (std::size_t s = 0; s + 1 < cu.size(); ++s) n += (cu[s + 1] - cu[s] + rows_per_tile - 1) / rows_per_tile;
  return n;
}

int gemm_m_bucket(int M) {
  if (M <= 16) return 16;
  if (M <= 4096) {
    int b = 16;
    while (b < M) b *= 2;
    return b;
  }
  return (M + 2047) / 2048 * 2048;
}

MetaLayout meta_layout(int tokens, int seqs, bool has_parent, int n_tiles_tc, int n_tiles_simple) {
  MetaLayout m;
  std::size_t at = 0;
  auto take = [&](std::size_t n) {
    const std::size_t o = at;
    at += (n + 15) / 16 * 16;  // 16 int32 = 64 bytes
    return o;
  };
  m.ids = take(tokens);
  m.pos = take(tokens);
  m.types = take(tokens);
  m.cu = take(static_cast<std::size_t>(seqs) + 1);
  m.has_parent = has_parent;
  m.parent = has_parent ? take(seqs) : static_cast<std::size_t>(-1);
  m.n_tiles_tc = n_tiles_tc;
  m.n_tiles_simple = n_tiles_simple;
  m.tiles_tc = take(2 * static_cast<std::size_t>(n_tiles_tc));
  m.tiles_simple = take(2 * static_cast<std::size_t>(n_tiles_simple));
  m.total = at;
  return m;
}

std::size_t meta_bytes_bound(int tokens) {
  // seqs <= tokens; tiles <= tokens / rows + seqs for each tile size.
  const int T = std::max(tokens, 1);
  const MetaLayout m = meta_layout(T, T, true, T / kTcTileRows + T, T / kSimpleWarpsAll + T);
  return m.total * sizeof(std::int32_t);
}

Elem act_elem(int rows, int seqs, bool tokens, Elem dtype) { return rows == seqs && !tokens ? Elem::kF32 : dtype; }

}  // namespace crossrank::cuda
