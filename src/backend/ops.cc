#include "backend/ops.h"

#include <cmath>

#include "util/error.h"

namespace crossrank {

Activation activation_from_hf(const std::string& name, const std::string& where) {
  if (name == "gelu" || name == "gelu_python") return Activation::kGeluErf;
  if (name == "gelu_pytorch_tanh" || name == "gelu_new" || name == "gelu_fast" || name == "gelu_tanh")
    return Activation::kGeluTanh;
  if (name == "silu" || name == "swish") return Activation::kSilu;
  if (name == "tanh") return Activation::kTanh;
  if (name == "linear" || name == "identity") return Activation::kIdentity;
  throw Error(where + ": activation '" + name +
              "' is not supported (supported: gelu, gelu_pytorch_tanh, gelu_new, silu, tanh, linear)");
}

float activate_ref(Activation a, float x) {
  switch (a) {
    case Activation::kIdentity: return x;
    case Activation::kGeluErf: return 0.5f * x * (1.0f + std::erf(x * static_cast<float>(M_SQRT1_2)));
    case Activation::kGeluTanh: {
      const float k = 0.7978845608028654f;  // sqrt(2 / pi)
      return 0.5f * x * (1.0f + std::tanh(k * (x + 0.044715f * x * x * x)));
    }
    case Activation::kSilu: return x / (1.0f + std::exp(-x));
    case Activation::kTanh: return std::tanh(x);
  }
  return x;
}

EpilogueParts epilogue_parts(Epilogue e) {
  switch (e) {
    case Epilogue::kNone: return {};
    case Epilogue::kGelu: return {Activation::kGeluErf, false, false};
    case Epilogue::kGeluTanh: return {Activation::kGeluTanh, false, false};
    case Epilogue::kSwiGlu: return {Activation::kSilu, true, false};
    case Epilogue::kGeGlu: return {Activation::kGeluErf, true, false};
    case Epilogue::kGeGluTanh: return {Activation::kGeluTanh, true, false};
    case Epilogue::kResidual: return {Activation::kIdentity, false, true};
  }
  return {};
}

int epilogue_out_cols(Epilogue e, int n) { return epilogue_parts(e).glu ? n / 2 : n; }

std::vector<float> norm_weight_f32(const NormDesc& d) {
  check(d.weight, "norm: no weight");
  std::vector<float> w = d.weight->f32();
  if (d.weight_offset != 0.f)
    for (float& v : w) v += d.weight_offset;
  return w;
}

// A linear whose epilogue the backend does not fuse: the backend's plain linear and what
// is left to apply with primitives.
struct Ops::Composed final : Param {
  ParamPtr inner;  // prepared with Epilogue::kNone
  EpilogueParts parts;
  int n = 0;  // rows of W (z's width)
};

ParamPtr Ops::prepare_linear(const LinearDesc& d) {
  if (fuses(d.epilogue)) return do_prepare_linear(d);
  const EpilogueParts parts = epilogue_parts(d.epilogue);
  check(!parts.residual, "prepare_linear: every backend fuses the residual epilogue");
  LinearDesc plain = d;
  plain.epilogue = Epilogue::kNone;
  auto c = std::make_unique<Composed>();
  c->inner = do_prepare_linear(plain);
  c->parts = parts;
  for (const HostTensor* t : d.weights) c->n += static_cast<int>(t->rows());
  check(!parts.glu || c->n % 2 == 0, "linear '" + d.name + "': a gated epilogue needs an even number of rows");
  return c;
}

void Ops::linear_composed(const Act& in, const Composed& c, Act& out) {
  if (!c.parts.glu) {
    linear(in, *c.inner, out);
    activate(out, c.parts.act, out);
    return;
  }
  const std::size_t scope = mark();
  Act z = alloc_like(in, c.n);
  linear(in, *c.inner, z);
  glu(z, c.parts.act, out);
  release(scope);
}

void Ops::throw_unfused(const char* what) const {
  throw Error(ErrorCode::kInternal, std::string(name()) + " ops: " + what + " is not fused by this backend");
}

Act Act::cols_view(int c0, int n) const {
  Act v = *this;
  v.data = data ? data + static_cast<std::size_t>(c0) * elem : nullptr;
  v.cols = n;
  v.aux = v.aux2 = v.aux3 = nullptr;
  v.use = ActUse::kPlain;
  return v;
}

Act Ops::rows_view(const Act& a, int r0, int n) const {
  check(r0 >= 0 && n >= 0 && r0 + n <= a.rows, "rows_view: rows out of range");
  Act v = a;
  v.rows = n;
  v.row0 = a.row0 + r0;
  if (a.data) v.data = a.data + static_cast<std::size_t>(r0) * a.ld * a.elem;
  check(!a.aux, "rows_view: this backend has no row views of companions");
  return v;
}

std::vector<std::int64_t> head_out_rows(const HeadDesc& d) {
  std::vector<std::int64_t> rows = d.out_rows;
  if (rows.empty())
    for (std::int64_t r = 0; r < d.out->rows(); ++r) rows.push_back(r);
  check(rows.size() == 1 || rows.size() == 2, "head: 1 or 2 output rows expected");
  for (auto r : rows) check(r >= 0 && r < d.out->rows(), "head: output row out of range");
  return rows;
}

std::unique_ptr<HostHead> make_host_head(const HeadDesc& d) {
  auto p = std::make_unique<HostHead>();
  p->H = static_cast<int>(d.out->cols());
  if (d.dense_w) {
    p->dense_w = d.dense_w->f32();
    p->dense_b = d.dense_b ? d.dense_b->f32() : std::vector<float>(p->H, 0.f);
  }
  const std::vector<std::int64_t> rows = head_out_rows(d);
  p->n = static_cast<int>(rows.size());
  for (auto r : rows) {
    auto v = d.out->row_f32(r);
    p->out.insert(p->out.end(), v.begin(), v.end());
    p->out_b.push_back(d.out_b ? d.out_b->row_f32(r)[0] : 0.f);
  }
  return p;
}

int selected_rows(const PackedBatch& b, RowSel sel) {
  return sel == RowSel::kAll ? b.total_tokens() : b.num_seqs();
}

int selected_row(const PackedBatch& b, int s, RowSel sel) {
  return sel == RowSel::kLast ? b.cu_seqlens[s + 1] - 1 : b.cu_seqlens[s];
}

void Ops::begin(const PackedBatch& batch, char* arena, std::size_t arena_bytes) {
  check(!in_pass_, "Ops::begin: a pass is already running");
  batch_ = &batch;
  arena_ = arena;
  arena_bytes_ = arena_bytes;
  top_ = scratch_top_ = peak_ = 0;
  sizing_ = false;
  in_pass_ = true;
  on_begin();
}

void Ops::begin_sizing(const PackedBatch& shape) {
  check(!in_pass_, "Ops::begin_sizing: a pass is already running");
  batch_ = &shape;
  arena_ = nullptr;
  arena_bytes_ = 0;
  top_ = scratch_top_ = peak_ = 0;
  sizing_ = true;
  in_pass_ = true;
}

std::size_t Ops::end() {
  in_pass_ = false;
  batch_ = nullptr;
  return peak_;
}

std::size_t Ops::act_bytes(int rows, int cols, ActUse, bool) const {
  return static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols) * 4;
}

void Ops::bind(Act& a, char* p) const {
  a.data = p;
  a.ld = a.cols;
  a.elem = 4;
  a.aux = a.aux2 = a.aux3 = nullptr;
}

Act Ops::alloc(int rows, int cols, ActUse use) {
  check(in_pass_, "Ops::alloc outside a pass");
  return alloc_rows(rows, cols, use, rows == batch_->total_tokens());
}

Act Ops::alloc_seq(int cols, ActUse use) {
  check(in_pass_, "Ops::alloc_seq outside a pass");
  return alloc_rows(batch_->num_seqs(), cols, use, false);
}

Act Ops::alloc_like(const Act& like, int cols, ActUse use) {
  check(in_pass_, "Ops::alloc_like outside a pass");
  return alloc_rows(like.rows, cols, use, like.tokens);
}

Act Ops::alloc_rows(int rows, int cols, ActUse use, bool tokens) {
  check(rows >= 0 && cols > 0, "Ops::alloc: bad shape");
  Act a;
  a.rows = rows;
  a.cols = cols;
  a.use = use;
  a.tokens = tokens;
  const std::size_t bytes = align64(act_bytes(rows, cols, use, tokens));
  const std::size_t off = top_;
  top_ += bytes;
  peak_ = std::max(peak_, top_);
  if (!sizing_) {
    if (top_ > arena_bytes_)
      throw Error(ErrorCode::kInternal, "activation arena overflow (" + std::to_string(top_) + " > " +
                                            std::to_string(arena_bytes_) + " bytes): sizing run disagrees");
    bind(a, arena_ + off);
  } else {
    bind(a, nullptr);
    a.data = nullptr;
    a.aux = a.aux2 = a.aux3 = nullptr;
  }
  return a;
}

char* Ops::scratch(std::size_t bytes) {
  const std::size_t off = top_ + scratch_top_;
  scratch_top_ += align64(bytes);
  peak_ = std::max(peak_, top_ + scratch_top_);
  if (sizing_) return nullptr;
  if (top_ + scratch_top_ > arena_bytes_)
    throw Error(ErrorCode::kInternal, "activation arena overflow in op scratch: sizing run disagrees");
  return arena_ + off;
}

template <class F>
void Ops::run(std::size_t scratch_bytes, F&& f) {
  check(in_pass_, "op called outside a pass");
  if (sizing_) {
    peak_ = std::max(peak_, top_ + align64(scratch_bytes));
    return;
  }
  scratch_top_ = 0;
  f();
  scratch_top_ = 0;
}

void Ops::embed(const Param& e, Act& out) {
  run(0, [&] { do_embed(e, out); });
}
void Ops::linear(const Act& in, const Param& w, Act& out) {
  if (const auto* c = dynamic_cast<const Composed*>(&w)) return linear_composed(in, *c, out);
  run(sizing_ ? linear_scratch(in, w, out) : 0, [&] { do_linear(in, w, out); });
}
void Ops::linear_add_norm(const Act& in, const Param& w, Act& x, const Param& n) {
  if (!fuses_linear_add_norm()) {
    linear(in, w, x);
    norm(x, n, x);
    return;
  }
  run(sizing_ ? linear_add_norm_scratch(in, w, x) : 0, [&] { do_linear_add_norm(in, w, x, n); });
}
void Ops::add(const Act& a, Act& x) {
  check(a.rows == x.rows && a.cols == x.cols, "add: shape mismatch");
  run(0, [&] { do_add(a, x); });
}
void Ops::activate(const Act& in, Activation act, Act& out) {
  check(in.rows == out.rows && in.cols == out.cols, "activate: shape mismatch");
  run(0, [&] { do_activate(in, act, out); });
}
void Ops::glu(const Act& in, Activation act, Act& out) {
  check(in.rows == out.rows && in.cols == 2 * out.cols, "glu: shape mismatch (in must be [M, 2N], out [M, N])");
  run(0, [&] { do_glu(in, act, out); });
}
void Ops::scale(Act& x, float s) {
  run(0, [&] { do_scale(x, s); });
}
void Ops::pool(const Act& in, Pool p, Act& out) {
  if (p != Pool::kMean) return gather_rows(in, p == Pool::kFirst ? RowSel::kFirst : RowSel::kLast, out);
  check(in.rows == batch_->total_tokens() && out.rows == batch_->num_seqs() && out.cols == in.cols,
        "pool: shape mismatch");
  run(0, [&] { do_mean_rows(in, out); });
}
void Ops::norm(const Act& in, const Param& n, Act& out, int group) {
  run(0, [&] { do_norm(in, n, out, group); });
}
void Ops::rope(Act& q, Act& k, const RopeDesc& d) {
  run(0, [&] { do_rope(q, k, d); });
}
void Ops::attention(const AttnDesc& d, const Act& q, const Act& k, const Act& v, Act& out) {
  run(sizing_ ? attention_scratch(d, q, k) : 0, [&] { do_attention(d, q, k, v, out); });
}
void Ops::gather_rows(const Act& in, RowSel sel, Act& out) {
  run(0, [&] { do_gather_rows(in, sel, out); });
}
std::vector<float> Ops::head(const Act& pooled, const Param& h) {
  std::vector<float> r;
  run(sizing_ ? head_scratch(pooled, h) : 0, [&] { r = do_head(pooled, h); });
  if (sizing_) r.assign(static_cast<std::size_t>(pooled.rows), 0.f);
  return r;
}
void Ops::write(Act& a, const std::vector<float>& host) {
  check(host.size() == static_cast<std::size_t>(a.rows) * a.cols, "Ops::write: size mismatch");
  run(0, [&] { do_write(a, host); });
}
std::vector<float> Ops::read(const Act& a) {
  std::vector<float> r;
  run(0, [&] { r = do_read(a); });
  return r;
}

}  // namespace crossrank
