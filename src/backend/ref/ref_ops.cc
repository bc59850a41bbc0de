// Reference ops: a direct fp32 transcription of each op's definition (ops.h), written for
// clarity, not speed. They are the oracle every other backend's ops are tested against,
// and, run under a family's model, the oracle for whole-model parity with HF.
// Parallelism: OpenMP over rows (linear, norms) and over (sequence, head) (attention);
// inner dot products are plain simd reductions. Statistics of norms and softmax sums in
// double.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>

#include "backend/backend.h"
#include "util/error.h"

namespace crossrank {
namespace {

struct RefLinear final : Param {
  std::vector<float> w, b;  // [N, K], [N]
  int N = 0, K = 0;
  Epilogue epi = Epilogue::kNone;
};
struct RefNorm final : Param {
  NormKind kind = NormKind::kLayerNorm;
  std::vector<float> w, b;
  float eps = 0;
};
struct RefEmbed final : Param {
  const HostTensor *word = nullptr, *pos = nullptr, *type = nullptr;
  bool has_norm = false;
  RefNorm norm;
};

inline float* row(const Act& a, int r) { return reinterpret_cast<float*>(a.data) + static_cast<std::size_t>(r) * a.ld; }

// y[o] = sum_i x[i] W[o, i] + b[o] for one row.
void matvec(const float* x, const float* W, const float* b, int N, int K, float* y) {
  for (int o = 0; o < N; ++o) {
    const float* wr = W + static_cast<std::size_t>(o) * K;
    float acc = 0.f;
#pragma omp simd reduction(+ : acc)
    for (int i = 0; i < K; ++i) acc += x[i] * wr[i];
    y[o] = acc + (b ? b[o] : 0.f);
  }
}

void norm_row(float* x, int n, const RefNorm& p, const float* w, const float* b) {
  if (p.kind == NormKind::kLayerNorm) {
    double mean = 0;
    for (int i = 0; i < n; ++i) mean += x[i];
    mean /= n;
    double var = 0;
    for (int i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
    var /= n;
    const double inv = 1.0 / std::sqrt(var + p.eps);
    for (int i = 0; i < n; ++i) x[i] = static_cast<float>((x[i] - mean) * inv) * w[i] + (b ? b[i] : 0.f);
  } else {
    double ss = 0;
    for (int i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
    const float inv = static_cast<float>(1.0 / std::sqrt(ss / n + p.eps));
    for (int i = 0; i < n; ++i) x[i] = w[i] * (x[i] * inv);
  }
}


// Stacks the row blocks of a LinearDesc into one fp32 [N, K] matrix (+ bias).
void stack(const LinearDesc& d, std::vector<float>& w, std::vector<float>& b, int& N, int& K) {
  check(!d.weights.empty(), "linear '" + d.name + "': no weights");
  K = static_cast<int>(d.weights[0]->cols());
  N = 0;
  for (const HostTensor* t : d.weights) {
    check(t->cols() == K, "linear '" + d.name + "': blocks differ in K");
    N += static_cast<int>(t->rows());
  }
  w.resize(static_cast<std::size_t>(N) * K);
  b.assign(static_cast<std::size_t>(N), 0.f);
  std::size_t off = 0;
  int r0 = 0;
  for (std::size_t i = 0; i < d.weights.size(); ++i) {
    const HostTensor* t = d.weights[i];
    t->to_f32(w.data() + off, 0, t->numel());
    off += static_cast<std::size_t>(t->numel());
    if (!d.biases.empty() && d.biases[i]) d.biases[i]->to_f32(b.data() + r0, 0, t->rows());
    r0 += static_cast<int>(t->rows());
  }
}

class RefOps final : public Ops {
 public:
  const char* name() const override { return "reference"; }
  DType dtype() const override { return DType::kFp32; }
  OpsCaps caps() const override {
    OpsCaps c;
    c.dtypes = {DType::kFp32};
    c.preferred_batch_tokens = 2048;
    c.keep_arena_bytes = std::size_t(256) << 20;
    return c;
  }
  std::string describe() const override { return "reference fp32 (naive oracle)"; }

  ParamPtr do_prepare_linear(const LinearDesc& d) override {
    auto p = std::make_unique<RefLinear>();
    stack(d, p->w, p->b, p->N, p->K);
    p->epi = d.epilogue;
    for (auto* t : d.weights) note_copied(t);
    return p;
  }
  ParamPtr prepare_norm(const NormDesc& d) override {
    auto p = std::make_unique<RefNorm>();
    fill_norm(d, *p);
    return p;
  }
  ParamPtr prepare_embedding(const EmbedDesc& d) override {
    auto p = std::make_unique<RefEmbed>();
    p->word = d.word;
    p->pos = d.position;
    p->type = d.type;
    p->has_norm = d.has_norm;
    if (d.has_norm) fill_norm(d.norm, p->norm);
    return p;
  }
  ParamPtr prepare_head(const HeadDesc& d) override { return make_host_head(d); }

  char* allocate_arena(std::size_t bytes) override {
    return static_cast<char*>(::operator new[](bytes, std::align_val_t(64)));
  }
  void free_arena(char* p, std::size_t) override { ::operator delete[](p, std::align_val_t(64)); }

 protected:
  void do_embed(const Param& ep, Act& out) override {
    const auto& e = static_cast<const RefEmbed&>(ep);
    const PackedBatch& b = batch();
    const int H = out.cols;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < b.total_tokens(); ++t) {
      float* x = row(out, t);
      std::vector<float> tmp(H);
      e.word->to_f32(x, static_cast<std::int64_t>(b.input_ids[t]) * H, H);
      if (e.pos) {
        e.pos->to_f32(tmp.data(), static_cast<std::int64_t>(b.position_ids[t]) * H, H);
        for (int i = 0; i < H; ++i) x[i] += tmp[i];
      }
      if (e.type) {
        e.type->to_f32(tmp.data(), static_cast<std::int64_t>(b.token_type_ids[t]) * H, H);
        for (int i = 0; i < H; ++i) x[i] += tmp[i];
      }
      if (e.has_norm) norm_row(x, H, e.norm, e.norm.w.data(), e.norm.b.empty() ? nullptr : e.norm.b.data());
    }
  }

  void do_linear(const Act& in, const Param& wp, Act& out) override {
    const auto& w = static_cast<const RefLinear&>(wp);
    check(in.cols == w.K, "linear: input has " + std::to_string(in.cols) + " columns, weights " + std::to_string(w.K));
    const int outN = epilogue_out_cols(w.epi, w.N);
    check(out.cols == outN && out.rows == in.rows, "linear: output shape mismatch");
    const EpilogueParts e = epilogue_parts(w.epi);
#pragma omp parallel for schedule(static)
    for (int m = 0; m < in.rows; ++m) {
      std::vector<float> z(w.N);
      matvec(row(in, m), w.w.data(), w.b.data(), w.N, w.K, z.data());
      float* y = row(out, m);
      if (e.residual) {
        for (int i = 0; i < w.N; ++i) y[i] += z[i];
      } else if (e.glu) {
        for (int i = 0; i < outN; ++i) y[i] = activate_ref(e.act, z[i]) * z[outN + i];
      } else {
        for (int i = 0; i < w.N; ++i) y[i] = activate_ref(e.act, z[i]);
      }
    }
  }

  void do_add(const Act& a, Act& x) override {
    for (int m = 0; m < x.rows; ++m)
      for (int i = 0; i < x.cols; ++i) row(x, m)[i] += row(a, m)[i];
  }
  void do_activate(const Act& in, Activation act, Act& out) override {
    for (int m = 0; m < in.rows; ++m)
      for (int i = 0; i < in.cols; ++i) row(out, m)[i] = activate_ref(act, row(in, m)[i]);
  }
  void do_glu(const Act& in, Activation act, Act& out) override {
    const int N = out.cols;
    for (int m = 0; m < in.rows; ++m)
      for (int i = 0; i < N; ++i) row(out, m)[i] = activate_ref(act, row(in, m)[i]) * row(in, m)[N + i];
  }
  void do_scale(Act& x, float s) override {
    for (int m = 0; m < x.rows; ++m)
      for (int i = 0; i < x.cols; ++i) row(x, m)[i] *= s;
  }
  // Sum in double, then one division: the mean HF computes (sum / count) up to rounding.
  void do_mean_rows(const Act& in, Act& out) override {
    const PackedBatch& b = batch();
    std::vector<double> acc(in.cols);
    for (int s = 0; s < b.num_seqs(); ++s) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int t = b.cu_seqlens[s]; t < b.cu_seqlens[s + 1]; ++t)
        for (int i = 0; i < in.cols; ++i) acc[i] += row(in, t)[i];
      const double n = std::max(1, b.seqlen(s));
      for (int i = 0; i < in.cols; ++i) row(out, s)[i] = static_cast<float>(acc[i] / n);
    }
  }

  void do_linear_add_norm(const Act& in, const Param& wp, Act& x, const Param& np) override {
    const auto& w = static_cast<const RefLinear&>(wp);
    const auto& n = static_cast<const RefNorm&>(np);
    check(w.epi == Epilogue::kResidual, "linear_add_norm: the linear must be prepared with Epilogue::kResidual");
    check(in.cols == w.K && x.cols == w.N && x.rows == in.rows, "linear_add_norm: shape mismatch");
#pragma omp parallel for schedule(static)
    for (int m = 0; m < in.rows; ++m) {
      std::vector<float> z(w.N);
      matvec(row(in, m), w.w.data(), w.b.data(), w.N, w.K, z.data());
      float* y = row(x, m);
      for (int i = 0; i < w.N; ++i) y[i] += z[i];
      norm_row(y, w.N, n, n.w.data(), n.b.empty() ? nullptr : n.b.data());
    }
  }

  void do_norm(const Act& in, const Param& np, Act& out, int group) override {
    const auto& n = static_cast<const RefNorm&>(np);
    const int g = group > 0 ? group : in.cols;
    check(in.cols % g == 0 && static_cast<int>(n.w.size()) == g && out.cols == in.cols && out.rows == in.rows,
          "norm: shape mismatch");
#pragma omp parallel for schedule(static)
    for (int m = 0; m < in.rows; ++m) {
      float* y = row(out, m);
      if (y != row(in, m)) std::memcpy(y, row(in, m), sizeof(float) * in.cols);
      for (int c = 0; c < in.cols; c += g) norm_row(y + c, g, n, n.w.data(), n.b.empty() ? nullptr : n.b.data());
    }
  }

  void do_rope(Act& q, Act& k, const RopeDesc& d) override {
    const PackedBatch& b = batch();
    const int half = d.rotary_dim / 2;
    check(d.rotary_dim > 0 && d.rotary_dim % 2 == 0 && d.rotary_dim <= d.head_dim, "rope: bad rotary_dim");
    // inv_freq as HF computes it in fp32: 1 / theta^(2i / dim).
    std::vector<float> inv(half);
    for (int i = 0; i < half; ++i)
      inv[i] = 1.0f / std::pow(d.theta, static_cast<float>(2 * i) / static_cast<float>(d.rotary_dim));
    for (Act* a : {&q, &k}) {
      check(a->cols % d.head_dim == 0 && a->rows == b.total_tokens(), "rope: shape mismatch");
      const int nh = a->cols / d.head_dim;
#pragma omp parallel for schedule(static)
      for (int t = 0; t < a->rows; ++t) {
        float* r = row(*a, t);
        const float pos = static_cast<float>(b.position_ids[t]);
        for (int i = 0; i < half; ++i) {
          const float ang = pos * inv[i];
          const float c = std::cos(ang), s = std::sin(ang);
          for (int h = 0; h < nh; ++h) {
            float* x = r + h * d.head_dim;
            const float x1 = x[i], x2 = x[i + half];
            x[i] = x1 * c - x2 * s;
            x[i + half] = x2 * c + x1 * s;
          }
        }
      }
    }
  }

  void do_attention(const AttnDesc& d, const Act& q, const Act& k, const Act& v, Act& out) override {
    const PackedBatch& b = batch();
    const int S = b.num_seqs(), D = d.head_dim, group = d.heads / d.kv_heads;
    check(d.kv_heads > 0 && d.heads % d.kv_heads == 0, "attention: heads not a multiple of kv_heads");
    check(q.cols == d.heads * D && k.cols == d.kv_heads * D && v.cols == k.cols && out.cols == q.cols,
          "attention: shape mismatch");
    check(q.rows == selected_rows(b, d.q_rows) && out.rows == q.rows, "attention: query rows mismatch");
#pragma omp parallel for collapse(2) schedule(dynamic)
    for (int s = 0; s < S; ++s) {
      for (int h = 0; h < d.heads; ++h) {
        // Keys: the parent's tokens (a shared prefix), then the sequence's own.
        std::vector<int> keys;
        const int par = b.parent_of(s);
        if (par >= 0)
          for (int j = b.cu_seqlens[par]; j < b.cu_seqlens[par + 1]; ++j) keys.push_back(j);
        const int own0 = static_cast<int>(keys.size());
        for (int j = b.cu_seqlens[s]; j < b.cu_seqlens[s + 1]; ++j) keys.push_back(j);
        const int n = b.seqlen(s);
        const int kvh = h / group;
        std::vector<double> p(keys.size());
        for (int i = 0; i < n; ++i) {
          int qrow;
          if (d.q_rows == RowSel::kAll) qrow = b.cu_seqlens[s] + i;
          else if ((d.q_rows == RowSel::kFirst && i == 0) || (d.q_rows == RowSel::kLast && i == n - 1)) qrow = s;
          else continue;
          const float* qi = row(q, qrow) + h * D;
          const int visible = d.causal ? own0 + i + 1 : static_cast<int>(keys.size());
          // Sliding window: keys [lo, hi) of the logical sequence (query at own0 + i).
          const int qpos = own0 + i;
          const int lo = d.window > 0 ? std::max(0, qpos - d.window) : 0;
          const int hi = d.window > 0 && !d.causal ? std::min(visible, qpos + d.window + 1) : visible;
          double mx = -INFINITY;
          for (int j = lo; j < hi; ++j) {
            const float* kj = row(k, keys[j]) + kvh * D;
            float acc = 0.f;
#pragma omp simd reduction(+ : acc)
            for (int e = 0; e < D; ++e) acc += qi[e] * kj[e];
            p[j] = static_cast<double>(acc) * d.scale;
            if (d.softcap > 0) p[j] = d.softcap * std::tanh(p[j] / d.softcap);
            mx = std::max(mx, p[j]);
          }
          double sum = 0;
          for (int j = lo; j < hi; ++j) sum += (p[j] = std::exp(p[j] - mx));
          float* o = row(out, qrow) + h * D;
          for (int e = 0; e < D; ++e) o[e] = 0.f;
          for (int j = lo; j < hi; ++j) {
            const float pj = static_cast<float>(p[j] / sum);
            const float* vj = row(v, keys[j]) + kvh * D;
            for (int e = 0; e < D; ++e) o[e] += pj * vj[e];
          }
        }
      }
    }
  }

  void do_gather_rows(const Act& in, RowSel sel, Act& out) override {
    const PackedBatch& b = batch();
    check(out.rows == selected_rows(b, sel) && out.cols == in.cols, "gather_rows: shape mismatch");
    for (int s = 0; s < out.rows; ++s) {
      const int r = sel == RowSel::kAll ? s : selected_row(b, s, sel);
      std::memcpy(row(out, s), row(in, r), sizeof(float) * in.cols);
    }
  }

  std::vector<float> do_head(const Act& pooled, const Param& hp) override {
    const auto& h = static_cast<const HostHead&>(hp);
    check(pooled.cols == h.H, "head: pooled width mismatch");
    std::vector<float> logits(pooled.rows);
    std::vector<float> t(h.H);
    for (int s = 0; s < pooled.rows; ++s) {
      const float* x = row(pooled, s);
      if (!h.dense_w.empty()) {
        matvec(x, h.dense_w.data(), h.dense_b.data(), h.H, h.H, t.data());
        for (float& f : t) f = std::tanh(f);
      } else {
        std::memcpy(t.data(), x, sizeof(float) * h.H);
      }
      float z[2];
      matvec(t.data(), h.out.data(), h.out_b.data(), h.n, h.H, z);
      logits[s] = h.n == 1 ? z[0] : z[1] - z[0];
    }
    return logits;
  }

  void do_write(Act& a, const std::vector<float>& host) override {
    for (int r = 0; r < a.rows; ++r) std::memcpy(row(a, r), host.data() + static_cast<std::size_t>(r) * a.cols, 4 * a.cols);
  }
  std::vector<float> do_read(const Act& a) override {
    std::vector<float> h(static_cast<std::size_t>(a.rows) * a.cols);
    for (int r = 0; r < a.rows; ++r) std::memcpy(h.data() + static_cast<std::size_t>(r) * a.cols, row(a, r), 4 * a.cols);
    return h;
  }

 private:
  static void fill_norm(const NormDesc& d, RefNorm& p) {
    p.kind = d.kind;
    p.eps = d.eps;
    p.w = norm_weight_f32(d);
    if (d.bias) p.b = d.bias->f32();
  }
};

}  // namespace

std::unique_ptr<Ops> make_reference_ops() { return std::make_unique<RefOps>(); }

}  // namespace crossrank
