// CudaOps (cuda_ops_impl.h): the ops, each mapped onto the device's GEMM and fused kernels
// (see the table at the top of cuda_ops_impl.h).
#include "backend/cuda/cuda_ops_impl.h"

#include <cmath>

#include "util/error.h"

namespace crossrank::cuda {

std::size_t CudaOps::linear_scratch(const Act& in, const Param& wp, const Act& out) const {
  const auto& w = static_cast<const CuLinear&>(wp);
  meta_stale_ = true;  // a sizing run: the next pass is a new batch
  std::size_t n = input_scratch(in);
  if (epilogue_parts(w.epi).glu) n += align64(static_cast<std::size_t>(in.rows) * w.N * elem_bytes(dt_));
  return n;
}

std::size_t CudaOps::head_scratch(const Act& pooled, const Param& hp) const {
  const auto& h = static_cast<const CuHead&>(hp);
  meta_stale_ = true;
  const std::size_t S = static_cast<std::size_t>(pooled.rows);
  return (h.dense ? align64(S * h.H * 4) : 0) + align64(S * 4);
}

void CudaOps::do_embed(const Param& ep, Act& out) {
  const auto& e = static_cast<const CuEmbed&>(ep);
  const PackedBatch& b = batch();
  check(out.rows == b.total_tokens() && out.cols == e.H, "embed: output shape mismatch");
  const Meta& m = meta();
  EmbedArgs a;
  a.out = mat(out);
  a.tokens = out.rows;
  a.H = e.H;
  a.table_t = dt_;
  a.word = e.word.get();
  a.pos = e.pos.get();
  a.type = e.type.get();
  a.ids = m.ids;
  a.pos_ids = m.pos;
  a.type_ids = m.types;
  a.norm = e.has_norm;
  if (e.has_norm) {
    check(e.norm.dim == e.H, "embed: norm width mismatch");
    a.rms = e.norm.rms;
    a.gamma = static_cast<const float*>(e.norm.gamma.get());
    a.beta = e.norm.has_beta ? static_cast<const float*>(e.norm.beta.get()) : nullptr;
    a.eps = e.norm.eps;
  }
  dev_->embed(a);
}

void CudaOps::do_linear(const Act& in, const Param& wp, Act& out) {
  const auto& w = static_cast<const CuLinear&>(wp);
  check(in.cols == w.K, "linear '" + w.name + "': input has " + std::to_string(in.cols) + " columns, weights " +
                            std::to_string(w.K));
  const EpilogueParts parts = epilogue_parts(w.epi);
  const int outN = parts.glu ? w.N / 2 : w.N;
  check(out.cols == outN && out.rows == in.rows, "linear '" + w.name + "': output shape mismatch");
  if (in.rows == 0) return;
  GemmArgs g = gemm_of(w, gemm_input(in), in.rows);
  const Mat o = mat(out);
  if (parts.act == Activation::kIdentity && !parts.glu) {  // none / residual: cuBLASLt epilogues
    g.out = o;
    g.bias = w.has_bias ? (o.t == Elem::kF32 ? w.bias_f32.get() : w.bias_dt.get()) : nullptr;
    g.accumulate = parts.residual;
    dev_->gemm(g);
    return;
  }
  // GELU erf / tanh: the GEMM into out, then bias + activation in place; gated units: the
  // GEMM into scratch [M, 2 outN], then bias + act(gate) * up into out.
  g.out = parts.glu ? Mat{scratch(static_cast<std::size_t>(in.rows) * w.N * elem_bytes(dt_)), w.N, dt_} : o;
  dev_->gemm(g);
  BiasActArgs a;
  a.act = act_fn(parts.act);
  a.glu = parts.glu;
  a.z = g.out;
  a.out = o;
  a.bias = w.has_bias ? static_cast<const float*>(w.bias_f32.get()) : nullptr;
  a.rows = in.rows;
  a.cols = outN;
  dev_->bias_act(a);
}

void CudaOps::do_linear_add_norm(const Act& in, const Param& wp, Act& x, const Param& np) {
  const auto& w = static_cast<const CuLinear&>(wp);
  const auto& n = static_cast<const CuNorm&>(np);
  check(w.epi == Epilogue::kResidual, "linear_add_norm: the linear must be prepared with Epilogue::kResidual");
  check(in.cols == w.K && x.cols == w.N && x.rows == in.rows && n.dim == w.N, "linear_add_norm: shape mismatch");
  if (in.rows == 0) return;
  GemmArgs g = gemm_of(w, gemm_input(in), in.rows);
  g.out = Mat{scratch(static_cast<std::size_t>(in.rows) * w.N * elem_bytes(dt_)), w.N, dt_};
  dev_->gemm(g);
  NormArgs a = norm_args(n, mat(x), mat(x), in.rows, w.N, w.N);
  a.z = g.out;
  a.zbias = w.has_bias ? static_cast<const float*>(w.bias_f32.get()) : nullptr;
  dev_->norm(a);
}

void CudaOps::do_norm(const Act& in, const Param& np, Act& out, int group) {
  const auto& n = static_cast<const CuNorm&>(np);
  const int g = group > 0 ? group : in.cols;
  check(in.cols % g == 0 && n.dim == g && out.cols == in.cols && out.rows == in.rows, "norm: shape mismatch");
  dev_->norm(norm_args(n, mat(in), mat(out), in.rows, in.cols, g));
}

void CudaOps::do_rope(Act& q, Act& k, const RopeDesc& d) {
  const PackedBatch& b = batch();
  check(d.rotary_dim > 0 && d.rotary_dim % 2 == 0 && d.rotary_dim <= d.head_dim, "rope: bad rotary_dim");
  check(d.rotary_dim / 2 <= kMaxRopeHalf, "rope: rotary_dim > 256 is not supported on cuda");
  RopeArgs a;
  a.half = d.rotary_dim / 2;
  a.head_dim = d.head_dim;
  // As the reference op (and HF): inv_freq in fp32 on the host.
  for (int i = 0; i < a.half; ++i)
    a.inv_freq[i] = 1.0f / std::pow(d.theta, static_cast<float>(2 * i) / static_cast<float>(d.rotary_dim));
  const Meta& m = meta();
  a.pos_ids = m.pos;
  for (Act* x : {&q, &k}) {
    check(x->cols % d.head_dim == 0 && x->rows == b.total_tokens(), "rope: shape mismatch");
    a.x = mat(*x);
    a.rows = x->rows;
    a.heads = x->cols / d.head_dim;
    dev_->rope(a);
  }
}

void CudaOps::do_attention(const AttnDesc& d, const Act& q, const Act& k, const Act& v, Act& out) {
  const PackedBatch& b = batch();
  check(d.kv_heads > 0 && d.heads % d.kv_heads == 0, "attention: heads not a multiple of kv_heads");
  const int D = d.head_dim;
  check(q.cols == d.heads * D && k.cols == d.kv_heads * D && v.cols == k.cols && out.cols == q.cols,
        "attention: shape mismatch");
  check(q.rows == selected_rows(b, d.q_rows) && out.rows == q.rows, "attention: query rows mismatch");
  check(k.rows == b.total_tokens() && v.rows == k.rows, "attention: key rows mismatch");
  if (b.num_seqs() == 0) return;
  AttnArgs a;
  a.q = mat(q);
  a.k = mat(k);
  a.v = mat(v);
  a.out = mat(out);
  check(a.k.t == a.v.t, "attention: keys and values differ in element type");
  a.heads = d.heads;
  a.kv_heads = d.kv_heads;
  a.head_dim = D;
  a.scale = d.scale;
  a.rows = static_cast<Rows>(d.q_rows);
  a.causal = d.causal;
  check(d.window >= 0 && d.softcap >= 0.f, "attention: window and softcap must be >= 0");
  a.window = d.window;
  a.softcap = d.softcap;
  a.num_seqs = b.num_seqs();
  AttnShape sh;
  sh.sm = dev_->sm();
  sh.q = a.q.t;
  sh.k = a.k.t;
  sh.v = a.v.t;
  sh.out = a.out.t;
  sh.rows = a.rows;
  sh.head_dim = D;
  sh.aligned16 = aligned16(a.q) && aligned16(a.k) && aligned16(a.v) && aligned16(a.out);
  sh.window_or_softcap = d.window > 0 || d.softcap > 0.f;
  sh.max_smem = dev_->max_smem();
  a.path = choose_attention_path(sh);
  const Meta& m = meta();
  a.cu = m.cu;
  a.parent = m.parent;
  if (a.rows == Rows::kAll) {
    const bool tc = a.path == AttnPath::kTensor;
    a.tiles = tc ? m.tiles_tc : m.tiles_simple;
    a.n_tiles = tc ? m.n_tiles_tc : m.n_tiles_simple;
    a.tile_rows = tc ? kTcTileRows : kSimpleWarpsAll;
  }
  dev_->attention(a);
}

void CudaOps::do_mean_rows(const Act& in, Act& out) {
  GatherArgs a;
  a.in = mat(in);
  a.out = mat(out);
  a.rows_out = out.rows;
  a.cols = in.cols;
  a.mean = true;
  a.cu = meta().cu;
  dev_->gather(a);
}

void CudaOps::do_gather_rows(const Act& in, RowSel sel, Act& out) {
  const PackedBatch& b = batch();
  check(out.rows == selected_rows(b, sel) && out.cols == in.cols, "gather_rows: shape mismatch");
  GatherArgs a;
  a.in = mat(in);
  a.out = mat(out);
  a.rows_out = out.rows;
  a.cols = in.cols;
  a.sel = static_cast<Rows>(sel);
  if (sel != RowSel::kAll) a.cu = meta().cu;
  dev_->gather(a);
}

std::vector<float> CudaOps::do_head(const Act& pooled, const Param& hp) {
  const auto& h = static_cast<const CuHead&>(hp);
  check(pooled.cols == h.H, "head: pooled width mismatch");
  const int S = pooled.rows;
  std::vector<float> out(static_cast<std::size_t>(S));
  meta_stale_ = true;  // the pass ends here
  if (S == 0) return out;
  HeadArgs a;
  a.pooled = mat(pooled);
  a.S = S;
  a.H = h.H;
  if (h.dense) {
    a.hidden = reinterpret_cast<float*>(scratch(static_cast<std::size_t>(S) * h.H * 4));
    a.dense_w = static_cast<const float*>(h.dense_w.get());
    a.dense_b = static_cast<const float*>(h.dense_b.get());
  }
  a.out_w = static_cast<const float*>(h.out_w.get());
  a.out_b = static_cast<const float*>(h.out_b.get());
  a.n_out = h.n;
  a.logits = reinterpret_cast<float*>(scratch(static_cast<std::size_t>(S) * 4));
  dev_->head(a);
  if (logits_cap_ < static_cast<std::size_t>(S)) {
    if (logits_host_) dev_->release_host(logits_host_);
    logits_cap_ = std::max<std::size_t>(S, 1024);
    logits_host_ = static_cast<float*>(dev_->alloc_host(logits_cap_ * 4));
  }
  dev_->download_async(logits_host_, a.logits, static_cast<std::size_t>(S) * 4);
  dev_->synchronize();  // the pass's one host wait
  upload_pending_ = false;
  std::memcpy(out.data(), logits_host_, static_cast<std::size_t>(S) * 4);
  return out;
}

void CudaOps::do_write(Act& a, const std::vector<float>& host) {
  const Mat m = mat(a);
  const std::size_t eb = elem_bytes(m.t), row = static_cast<std::size_t>(a.cols) * eb;
  std::vector<unsigned char> buf(static_cast<std::size_t>(a.rows) * row);
  convert_host(host.data(), host.size(), m.t, buf.data());
  if (a.rows > 0) dev_->upload_rows(a.data, static_cast<std::size_t>(a.ld) * eb, buf.data(), row, row, a.rows);
  upload_pending_ = false;
}

std::vector<float> CudaOps::do_read(const Act& a) {
  const Mat m = mat(a);
  const std::size_t eb = elem_bytes(m.t), row = static_cast<std::size_t>(a.cols) * eb;
  std::vector<unsigned char> buf(static_cast<std::size_t>(a.rows) * row);
  if (a.rows > 0) dev_->download_rows(buf.data(), row, a.data, static_cast<std::size_t>(a.ld) * eb, row, a.rows);
  upload_pending_ = false;
  std::vector<float> out(static_cast<std::size_t>(a.rows) * a.cols);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = load_any(buf.data(), i, m.t);
  return out;
}

Mat CudaOps::gemm_input(const Act& in) {
  const Mat m = mat(in);
  if (m.t == dt_) return m;
  ConvertArgs c;
  c.in = m;
  c.out = Mat{scratch(static_cast<std::size_t>(in.rows) * in.cols * elem_bytes(dt_)), in.cols, dt_};
  c.rows = in.rows;
  c.cols = in.cols;
  dev_->convert(c);
  return c.out;
}

NormArgs CudaOps::norm_args(const CuNorm& n, const Mat& in, const Mat& out, int rows, int cols, int group) const {
  NormArgs a;
  a.in = in;
  a.out = out;
  a.rows = rows;
  a.cols = cols;
  a.group = group;
  a.rms = n.rms;
  a.gamma = static_cast<const float*>(n.gamma.get());
  a.beta = n.has_beta ? static_cast<const float*>(n.beta.get()) : nullptr;
  a.eps = n.eps;
  return a;
}

}  // namespace crossrank::cuda
