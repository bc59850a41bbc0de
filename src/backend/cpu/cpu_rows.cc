// CpuOps (cpu_ops_impl.h): the row ops (embeddings, norms, rope, the primitives add /
// activate / glu / scale / pooling, gathers), attention dispatch, the head and host
// transfers. Every op that writes an activation rewrites its companion from the fp32 row.
#include "backend/cpu/cpu_ops_impl.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu/attention_causal.h"
#include "util/error.h"

namespace crossrank::cpu {

void CpuOps::do_embed(const Param& ep, Act& out) {
  const auto t0 = Clock::now();
  const auto& e = static_cast<const CpuEmbed&>(ep);
  const PackedBatch& b = batch();
  const int H = out.cols;
  check(static_cast<std::int64_t>(H) == e.word.t->cols(), "embed: width mismatch");
  check(out.data != nullptr, "embed: output needs fp32 rows");
#pragma omp parallel
  {
    std::vector<float> buf(static_cast<std::size_t>(H));
#pragma omp for schedule(static)
    for (int t = 0; t < b.total_tokens(); ++t) {
      float* x = frow(out, t);
      const float* we = table_row(e.word, b.input_ids[t], H, x);
      if (we != x) std::memcpy(x, we, sizeof(float) * H);
      if (e.pos.t) rk().add(x, table_row(e.pos, b.position_ids[t], H, buf.data()), H);
      if (e.type.t) rk().add(x, table_row(e.type, b.token_type_ids[t], H, buf.data()), H);
      if (e.has_norm) norm_row(x, nullptr, H, e.norm);
      comp_row(out, t);
    }
  }
  tick("embed", t0);
}

void CpuOps::do_norm(const Act& in, const Param& np, Act& out, int group) {
  const auto t0 = Clock::now();
  const auto& n = static_cast<const CpuNorm&>(np);
  const int g = group > 0 ? group : in.cols;
  check(in.cols % g == 0 && static_cast<int>(n.w.size()) == g && out.cols == in.cols && out.rows == in.rows,
        "norm: shape mismatch");
  check(in.data != nullptr, "norm: input needs fp32 rows");
#pragma omp parallel
  {
    std::vector<float> tmp(out.data ? 0 : static_cast<std::size_t>(in.cols));
#pragma omp for schedule(static)
    for (int m = 0; m < in.rows; ++m) {
      float* y = out.data ? frow(out, m) : tmp.data();
      if (y != frow(in, m)) std::memcpy(y, frow(in, m), sizeof(float) * in.cols);
      for (int c = 0; c < in.cols; c += g) norm_row(y + c, nullptr, g, n);
      comp_from(out, m, y);
    }
  }
  tick("rows", t0);
}

void CpuOps::do_attention(const AttnDesc& d, const Act& q, const Act& k, const Act& v, Act& out) {
  const auto t0 = Clock::now();
  const PackedBatch& b = batch();
  check(d.kv_heads > 0 && d.heads % d.kv_heads == 0, "attention: heads not a multiple of kv_heads");
  check(q.cols == d.heads * d.head_dim && k.cols == d.kv_heads * d.head_dim && v.cols == k.cols &&
            out.cols == q.cols && q.rows == selected_rows(b, d.q_rows) && out.rows == q.rows,
        "attention: shape mismatch");
  check(q.data && k.data && v.data && out.data, "attention: needs fp32 rows");
  check(d.window >= 0 && d.softcap >= 0.f, "attention: window and softcap must be >= 0");
  if (fast_attention(d, b)) {
    AttnArgs a = attn_args(d, q, k, v, out, b);
    if (bf16_attention(d)) cpu::attention_bf16(a, scratch(attention_bytes(d, b)));
    else cpu::attention(a, reinterpret_cast<float*>(scratch(attention_bytes(d, b))), opts_.attn_sgemm);
  } else {  // causal, grouped-query, last-row and shared-prefix attention (decoders)
    attention_causal(d, q, k, v, out, b, reinterpret_cast<float*>(scratch(attention_causal_scratch_bytes(d))));
  }
  if (out.aux) {
#pragma omp parallel for schedule(static)
    for (int m = 0; m < out.rows; ++m) comp_row(out, m);
  }
  tick("attention", t0);
}

void CpuOps::do_mean_rows(const Act& in, Act& out) {
  check(in.data != nullptr, "mean pooling: input needs fp32 rows");
  const PackedBatch& b = batch();
  rows_op(out, [&](int s, float* y) {
    const int t0 = b.cu_seqlens[s], n = b.seqlen(s);
    if (n == 0) return std::memset(y, 0, sizeof(float) * in.cols), void();
    std::memcpy(y, frow(in, t0), sizeof(float) * in.cols);
    for (int t = t0 + 1; t < t0 + n; ++t) rk().add(y, frow(in, t), in.cols);
    rk().scale(y, in.cols, 1.0f / static_cast<float>(n));
  });
}

void CpuOps::do_gather_rows(const Act& in, RowSel sel, Act& out) {
  const PackedBatch& b = batch();
  check(out.rows == selected_rows(b, sel) && out.cols == in.cols, "gather_rows: shape mismatch");
  check(in.data && out.data, "gather_rows: needs fp32 rows");
  // The companion is recomputed from the fp32 row (S rows: cheaper than keeping copies
  // of every kind of companion in step, and bit-identical).
  for (int s = 0; s < out.rows; ++s) {
    const int r = sel == RowSel::kAll ? s : selected_row(b, s, sel);
    std::memcpy(frow(out, s), frow(in, r), sizeof(float) * in.cols);
    comp_row(out, s);
  }
}

std::vector<float> CpuOps::do_head(const Act& pooled, const Param& hp) {
  const auto t0 = Clock::now();
  const auto& h = static_cast<const HostHead&>(hp);
  const int S = pooled.rows, H = h.H;
  check(pooled.cols == H, "head: pooled width mismatch");
  const float* x = reinterpret_cast<const float*>(pooled.data);
  float* t = reinterpret_cast<float*>(scratch(static_cast<std::size_t>(S) * H * 4));
  if (!h.dense_w.empty() && invariant_fp32_) {
    // One fma chain per output, in k order: the same for every S (dnnl_sgemm's is not).
    // Also the default where the GEMMs run on sgemm_det anyway (AVX2), so that encoder
    // scores there are batch-invariant by default too.
#pragma omp parallel for schedule(static)
    for (int s = 0; s < S; ++s)
      for (int i = 0; i < H; ++i) {
        const float* xs = x + static_cast<std::size_t>(s) * pooled.ld;
        const float* w = h.dense_w.data() + static_cast<std::size_t>(i) * H;
        float acc = 0.f;
        for (int k = 0; k < H; ++k) acc = std::fma(xs[k], w[k], acc);
        t[static_cast<std::size_t>(s) * H + i] = std::tanh(acc + h.dense_b[i]);
      }
  } else if (!h.dense_w.empty()) {
    dnnl_sgemm('N', 'T', S, H, H, 1.0f, x, pooled.ld, h.dense_w.data(), H, 0.f, t, H);
    for (int s = 0; s < S; ++s)
      for (int i = 0; i < H; ++i) t[s * H + i] = std::tanh(t[s * H + i] + h.dense_b[i]);
  } else {
    for (int s = 0; s < S; ++s) std::memcpy(t + static_cast<std::size_t>(s) * H, frow(pooled, s), 4 * H);
  }
  std::vector<float> logits(S);
  for (int s = 0; s < S; ++s) {
    float z[2];
    for (int j = 0; j < h.n; ++j) {
      const float* w = h.out.data() + static_cast<std::size_t>(j) * H;
      float acc = 0.f;
      for (int i = 0; i < H; ++i) acc += t[static_cast<std::size_t>(s) * H + i] * w[i];
      z[j] = acc + h.out_b[j];
    }
    logits[s] = h.n == 1 ? z[0] : z[1] - z[0];
  }
  tick("head", t0);
  return logits;
}

void CpuOps::do_write(Act& a, const std::vector<float>& host) {
  for (int r = 0; r < a.rows; ++r) {
    const float* src = host.data() + static_cast<std::size_t>(r) * a.cols;
    if (a.data) std::memcpy(frow(a, r), src, 4 * a.cols);
    comp_from(a, r, src);
  }
}

std::vector<float> CpuOps::do_read(const Act& a) {
  std::vector<float> h(static_cast<std::size_t>(a.rows) * a.cols);
  for (int r = 0; r < a.rows; ++r) {
    float* dst = h.data() + static_cast<std::size_t>(r) * a.cols;
    if (a.data) {
      std::memcpy(dst, frow(a, r), 4 * a.cols);
    } else {  // int8 kGemmOnly: what the next GEMM will see
      dequant_row(a, r, dst);
    }
  }
  return h;
}

std::size_t CpuOps::attention_bytes(const AttnDesc& d, const PackedBatch& b) const {
  const int L = max_len(b);
  const std::size_t per_thread = bf16_attention(d) ? attention_bf16_scratch_bytes(bq(L), bk(L), d.head_dim, L)
                                                   : attention_scratch_floats(bq(L), bk(L), d.head_dim, L) * 4;
  return static_cast<std::size_t>(threads_bound()) * per_thread;
}

AttnArgs CpuOps::attn_args(const AttnDesc& d, const Act& q, const Act& k, const Act& v, const Act& out,
                   const PackedBatch& b) const {
  const int L = max_len(b);
  AttnArgs a;
  a.q = reinterpret_cast<const float*>(q.data), a.ldq = q.ld;
  a.k = reinterpret_cast<const float*>(k.data), a.ldk = k.ld;
  a.v = reinterpret_cast<const float*>(v.data), a.ldv = v.ld;
  a.o = reinterpret_cast<float*>(out.data), a.ldo = out.ld;
  a.cu = b.cu_seqlens.data();
  a.S = b.num_seqs();
  a.heads = d.heads;
  a.head_dim = d.head_dim;
  a.scale = d.scale;
  a.first_token_only = d.q_rows == RowSel::kFirst;
  a.window = d.window;
  a.softcap = d.softcap;
  a.q_block = bq(L);
  a.k_block = bk(L);
  return a;
}

}  // namespace crossrank::cpu
