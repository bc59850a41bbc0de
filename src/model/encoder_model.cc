// The BERT / XLM-R encoder forward pass, written once over the op interface.
//
// Per layer (T tokens of the packed batch, H hidden, I intermediate; post-norm):
//   qkv[T,3H] = x Wqkv^T + b                      linear (Q|K|V weights stacked)
//   ctx[T,H]  = softmax(q k^T / sqrt(D)) v         attention, per sequence and head
//   x         = LN1(x + ctx Wo^T + bo)             linear_add_norm
//   inter     = GELU(x W1^T + b1)                  linear, GELU epilogue
//   x         = LN2(x + inter W2^T + b2)           linear_add_norm
// Head: h = x[first token of each sequence]; logit = w . tanh(Wd h + bd) + b.
//
// Last-layer shortcut: K and V are needed for every token, but only each sequence's first
// row reaches the head, so Q, attention output, FFN and norms of the last layer run on the
// S first rows only (every one of those ops is row-independent, so this is exact).
#include <algorithm>
#include <cmath>

#include "backend/ops.h"
#include "model/encoder.h"

namespace crossrank {
namespace {

class EncoderModel final : public Model {
 public:
  EncoderModel(const EncoderStyle& s, const ModelConfig& c, const TensorMap& t, Ops& ops, bool shortcut)
      : H_(c.hidden), I_(c.intermediate), L_(c.layers), shortcut_(shortcut) {
    const std::string p = s.prefix;
    const EncoderLayout& lay = encoder_layout(c);
    auto T = [&](const std::string& n) { return &t.at(n); };
    auto ln = [&](const std::string& n) {
      NormDesc d;
      d.kind = NormKind::kLayerNorm;
      d.weight = T(n + ".weight");
      d.bias = T(n + ".bias");
      d.eps = c.norm_eps;
      return ops.prepare_norm(d);
    };
    auto lin = [&](const std::string& name, std::vector<std::string> mods, Epilogue e) {
      LinearDesc d;
      d.name = name;
      for (const auto& m : mods) {
        d.weights.push_back(T(m + ".weight"));
        d.biases.push_back(T(m + ".bias"));
      }
      d.epilogue = e;
      return ops.prepare_linear(d);
    };
    EmbedDesc e;
    e.word = T(p + "embeddings.word_embeddings.weight");
    e.position = T(p + "embeddings.position_embeddings.weight");
    e.type = T(p + "embeddings.token_type_embeddings.weight");
    e.has_norm = true;
    e.norm.kind = NormKind::kLayerNorm;
    e.norm.weight = T(p + lay.emb_norm + ".weight");
    e.norm.bias = T(p + lay.emb_norm + ".bias");
    e.norm.eps = c.norm_eps;
    emb_ = ops.prepare_embedding(e);
    ops.set_pooled_rows(RowSel::kFirst);
    layers_.resize(L_);
    for (int l = 0; l < L_; ++l) {
      const std::string q = p + lay.layer + std::to_string(l) + ".";
      const std::string tag = "layer." + std::to_string(l) + ".";
      Layer& y = layers_[l];
      if (lay.qkv) {
        // One stacked Q|K|V weight: the last layer projects Q for every row too and keeps
        // the first rows (the shortcut still skips the rest of the layer).
        y.qkv = lin(tag + "qkv", {q + lay.qkv}, Epilogue::kNone);
      } else {
        const std::string Q = q + lay.q, K = q + lay.k, V = q + lay.v;
        if (shortcut_ && l == L_ - 1) {
          y.q = lin(tag + "q", {Q}, Epilogue::kNone);
          y.kv = lin(tag + "kv", {K, V}, Epilogue::kNone);
        } else {
          y.qkv = lin(tag + "qkv", {Q, K, V}, Epilogue::kNone);
        }
      }
      y.out = lin(tag + "attn_out", {q + lay.attn_out}, Epilogue::kResidual);
      y.ln1 = ln(q + lay.norm1);
      y.ffn1 = lin(tag + "ffn_in", {q + lay.ffn_in}, Epilogue::kGelu);
      y.ffn2 = lin(tag + "ffn_out", {q + lay.ffn_out}, Epilogue::kResidual);
      y.ln2 = ln(q + lay.norm2);
    }
    HeadDesc h;
    if (s.pooler_head) {
      h.dense_w = T(p + "pooler.dense.weight");
      h.dense_b = T(p + "pooler.dense.bias");
      h.out = T("classifier.weight");
      h.out_b = T("classifier.bias");
    } else {
      h.dense_w = T("classifier.dense.weight");
      h.dense_b = T("classifier.dense.bias");
      h.out = T("classifier.out_proj.weight");
      h.out_b = T("classifier.out_proj.bias");
    }
    head_ = ops.prepare_head(h);
    attn_.heads = attn_.kv_heads = c.heads;
    attn_.head_dim = c.head_dim;
    attn_.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    ffn_block_ = ops.caps().ffn_block_rows;
  }

  std::vector<float> forward(Ops& ops, const PackedBatch& b) const override {
    const int T = b.total_tokens(), S = b.num_seqs(), H = H_;
    Act x = ops.alloc(T, H, ActUse::kGemmInput);
    x.next = first_reader(0);
    ops.embed(*emb_, x);
    Act x0 = ops.alloc_seq(H, ActUse::kGemmInput);  // first rows: last-layer shortcut and head
    for (int l = 0; l < L_; ++l) {
      const Layer& y = layers_[l];
      const std::size_t scope = ops.mark();
      if (shortcut_ && l == L_ - 1 && !y.kv) {  // stacked Q|K|V: project all rows, keep the first queries
        Act qkv = ops.alloc(T, 3 * H);
        ops.linear(x, *y.qkv, qkv);
        Act q = ops.alloc_seq(H);
        ops.gather_rows(qkv.cols_view(0, H), RowSel::kFirst, q);
        x0.next = y.out.get();
        ops.gather_rows(x, RowSel::kFirst, x0);
        attend_and_ffn(ops, y, q, qkv.cols_view(H, H), qkv.cols_view(2 * H, H), S, RowSel::kFirst, x0, nullptr);
      } else if (!y.kv) {
        block(ops, y, x, T, RowSel::kAll, x, first_reader(l + 1));
      } else {
        Act kv = ops.alloc(T, 2 * H);
        ops.linear(x, *y.kv, kv);
        Act q = ops.alloc_seq(H);
        x0.next = y.q.get();
        ops.gather_rows(x, RowSel::kFirst, x0);
        ops.linear(x0, *y.q, q);
        attend_and_ffn(ops, y, q, kv.cols_view(0, H), kv.cols_view(H, H), S, RowSel::kFirst, x0, nullptr);
      }
      ops.release(scope);
    }
    if (!shortcut_) ops.gather_rows(x, RowSel::kFirst, x0);
    return ops.head(x0, *head_);
  }

 private:
  struct Layer {
    ParamPtr qkv, q, kv, out, ln1, ffn1, ffn2, ln2;
  };

  // A full layer over all T rows of x.
  void block(Ops& ops, const Layer& y, Act& x, int T, RowSel rows, Act& out, const Param* next) const {
    Act qkv = ops.alloc(T, 3 * H_);
    ops.linear(x, *y.qkv, qkv);
    attend_and_ffn(ops, y, qkv.cols_view(0, H_), qkv.cols_view(H_, H_), qkv.cols_view(2 * H_, H_), T, rows, out, next);
  }

  // The linear that first reads the residual stream x in layer l (null after the last).
  const Param* first_reader(int l) const {
    if (l >= L_) return nullptr;
    return layers_[l].kv ? layers_[l].kv.get() : layers_[l].qkv.get();
  }

  // Attention for query rows `q` (rows of `x`), then the output projection, FFN and norms
  // on those rows of x (x: the residual stream for exactly those rows). `next`: the linear
  // that reads x after this layer (Act::next).
  // The FFN runs in row blocks (ffn_block_: OpsCaps::ffn_block_rows) so its wide
  // intermediate stays in cache between the two GEMMs; every op in it is row-independent.
  void attend_and_ffn(Ops& ops, const Layer& y, const Act& q, const Act& k, const Act& v, int M, RowSel rows,
                      Act& x, const Param* next) const {
    AttnDesc a = attn_;
    a.q_rows = rows;
    Act ctx = ops.alloc_like(x, H_, ActUse::kGemmInput);
    ctx.next = y.out.get();
    ops.attention(a, q, k, v, ctx);
    x.next = y.ffn1.get();
    ops.linear_add_norm(ctx, *y.out, x, *y.ln1);
    x.next = next;
    const int blk = ffn_block_ > 0 ? ffn_block_ : std::max(M, 1);
    for (int r0 = 0; r0 < M; r0 += blk) {
      const int n = std::min(blk, M - r0);
      const std::size_t scope = ops.mark();
      Act xb = ops.rows_view(x, r0, n);
      xb.next = y.ffn1.get();  // what x's companion was written for
      Act inter = ops.alloc_like(xb, I_, ActUse::kGemmOnly);
      inter.next = y.ffn2.get();
      ops.linear(xb, *y.ffn1, inter);
      xb.next = next;
      ops.linear_add_norm(inter, *y.ffn2, xb, *y.ln2);
      ops.release(scope);
    }
  }

  int H_, I_, L_;
  bool shortcut_;
  int ffn_block_ = 0;
  ParamPtr emb_, head_;
  std::vector<Layer> layers_;
  AttnDesc attn_;
};

}  // namespace

std::unique_ptr<Model> build_encoder_model(const EncoderStyle& s, const ModelConfig& c, const TensorMap& t, Ops& ops,
                                           bool last_layer_shortcut) {
  return std::make_unique<EncoderModel>(s, c, t, ops, last_layer_shortcut && c.layers > 0);
}

}  // namespace crossrank
