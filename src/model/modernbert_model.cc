// The ModernBERT forward pass (HF ModernBertForSequenceClassification), written once over
// the op interface; see modernbert.h for the architecture.
//
// Per layer (T tokens of the packed batch, H hidden, I intermediate; pre-norm):
//   h          = attn_norm(x)                       (x itself in layer 0)
//   qkv[T,3H]  = h Wqkv^T (+ b)                     linear
//   q, k       = rotary(q, k), theta of the layer's kind
//   ctx[T,H]   = softmax(q k^T / sqrt(D)) v          global, or keys |i - j| <= window
//   x         += ctx Wo^T (+ b)                     linear, residual epilogue
//   x         += (act(a) * g) Wo^T, [a|g] = mlp_norm(x) Wi^T    GeGLU epilogue, residual
// Head: final_norm; [CLS] row or the mean of the sequence's rows; dense, activation,
// LayerNorm, classifier.
//
// Last-layer shortcut (cls pooling): K and V are needed for every token, but only each
// sequence's first row reaches the head, so after the last layer's Q|K|V and rotary (on
// all rows) the attention, output projection, MLP and norms run on the S first rows only.
// Every op involved is row-independent, so this is exact. Mean pooling needs every row.
#include <cmath>

#include "backend/ops.h"
#include "model/modernbert.h"

namespace crossrank {
namespace {

class ModernBertModel final : public Model {
 public:
  ModernBertModel(const ModelConfig& c, const TensorMap& t, Ops& ops, bool shortcut)
      : p_(modernbert_params(c)), H_(c.hidden), I_(c.intermediate), L_(c.layers), mean_(p_.mean_pool),
        shortcut_(shortcut && !p_.mean_pool) {
    auto T = [&](const std::string& n) { return &t.at(n); };
    auto opt = [&](const std::string& n) { return t.find(n); };
    auto ln = [&](const std::string& n) {
      NormDesc d;
      d.kind = NormKind::kLayerNorm;
      d.weight = T(n + ".weight");
      d.bias = p_.norm_bias ? T(n + ".bias") : nullptr;
      d.eps = c.norm_eps;
      return d;
    };
    auto lin = [&](const std::string& name, const std::string& m, bool bias, Epilogue e) {
      LinearDesc d;
      d.name = name;
      d.weights.push_back(T(m + ".weight"));
      if (bias) d.biases.push_back(T(m + ".bias"));
      d.epilogue = e;
      return ops.prepare_linear(d);
    };
    EmbedDesc e;
    e.word = T("model.embeddings.tok_embeddings.weight");
    e.has_norm = true;
    e.norm = ln("model.embeddings.norm");
    emb_ = ops.prepare_embedding(e);
    // Only the first rows reach the head with cls pooling (cpu int8 computes those rows
    // more precisely); with mean pooling every row does.
    ops.set_pooled_rows(mean_ ? RowSel::kAll : RowSel::kFirst);
    // GeGLU (the usual), or another activation's gated unit composed by the base class.
    Epilogue glu = Epilogue::kGeGlu;
    if (p_.hidden_act == Activation::kGeluTanh) glu = Epilogue::kGeGluTanh;
    else if (p_.hidden_act == Activation::kSilu) glu = Epilogue::kSwiGlu;
    else if (p_.hidden_act != Activation::kGeluErf) glu = Epilogue::kNone;
    glu_composed_ = glu == Epilogue::kNone;
    layers_.resize(L_);
    for (int l = 0; l < L_; ++l) {
      const std::string q = "model.layers." + std::to_string(l) + ".";
      const std::string tag = "layer." + std::to_string(l) + ".";
      Layer& y = layers_[l];
      if (l > 0) y.attn_norm = ops.prepare_norm(ln(q + "attn_norm"));
      y.qkv = lin(tag + "qkv", q + "attn.Wqkv", p_.attention_bias, Epilogue::kNone);
      y.out = lin(tag + "attn_out", q + "attn.Wo", p_.attention_bias, Epilogue::kResidual);
      y.mlp_norm = ops.prepare_norm(ln(q + "mlp_norm"));
      y.wi = lin(tag + "ffn_in", q + "mlp.Wi", p_.mlp_bias, glu);
      y.wo = lin(tag + "ffn_out", q + "mlp.Wo", p_.mlp_bias, Epilogue::kResidual);
      y.local = p_.local[static_cast<std::size_t>(l)];
    }
    final_ = ops.prepare_norm(ln("model.final_norm"));
    dense_ = lin("head.dense", "head.dense", p_.classifier_bias, Epilogue::kNone);
    head_norm_ = ops.prepare_norm(ln("head.norm"));
    HeadDesc h;
    h.out = T("classifier.weight");
    h.out_b = opt("classifier.bias");
    head_ = ops.prepare_head(h);
    attn_.heads = attn_.kv_heads = c.heads;
    attn_.head_dim = c.head_dim;
    attn_.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    rope_.head_dim = rope_.rotary_dim = c.head_dim;
  }

  std::vector<float> forward(Ops& ops, const PackedBatch& b) const override {
    const int T = b.total_tokens(), S = b.num_seqs(), H = H_;
    Act x = ops.alloc(T, H);  // the residual stream, fp32
    ops.embed(*emb_, x);
    Act pooled = ops.alloc_seq(H, ActUse::kGemmInput);  // first rows (shortcut) / pooled rows
    for (int l = 0; l < L_; ++l) {
      const Layer& y = layers_[l];
      const bool first_only = shortcut_ && l == L_ - 1;
      const std::size_t scope = ops.mark();
      Act h = x;  // layer 0: attn_norm is the identity
      if (y.attn_norm) {
        h = ops.alloc(T, H, ActUse::kGemmInput);
        ops.norm(x, *y.attn_norm, h);
      }
      Act qkv = ops.alloc(T, 3 * H);
      ops.linear(h, *y.qkv, qkv);
      Act q = qkv.cols_view(0, H), k = qkv.cols_view(H, H), v = qkv.cols_view(2 * H, H);
      RopeDesc rope = rope_;
      rope.theta = y.local ? p_.local_theta : p_.global_theta;
      ops.rope(q, k, rope);
      AttnDesc a = attn_;
      a.window = y.local ? p_.window : 0;
      if (!first_only) {
        Act ctx = ops.alloc(T, H, ActUse::kGemmInput);
        ops.attention(a, q, k, v, ctx);
        ops.linear(ctx, *y.out, x);
        ops.release(scope);
        mlp(ops, y, x, T);
      } else {
        a.q_rows = RowSel::kFirst;
        Act q0 = ops.alloc_seq(H);
        ops.gather_rows(q, RowSel::kFirst, q0);
        Act ctx = ops.alloc_seq(H, ActUse::kGemmInput);
        ops.attention(a, q0, k, v, ctx);
        ops.gather_rows(x, RowSel::kFirst, pooled);
        ops.linear(ctx, *y.out, pooled);
        ops.release(scope);
        mlp(ops, y, pooled, S);
      }
      ops.release(scope);
    }
    if (mean_) {
      ops.norm(x, *final_, x);
      ops.pool(x, Pool::kMean, pooled);
    } else {
      if (!shortcut_) ops.gather_rows(x, RowSel::kFirst, pooled);
      ops.norm(pooled, *final_, pooled);
    }
    Act d = ops.alloc_seq(H);
    ops.linear(pooled, *dense_, d);
    ops.activate(d, p_.classifier_act, d);
    ops.norm(d, *head_norm_, d);
    return ops.head(d, *head_);
  }

 private:
  struct Layer {
    ParamPtr attn_norm, qkv, out, mlp_norm, wi, wo;
    bool local = false;
  };

  // x += Wo (act(a) * g), [a|g] = Wi mlp_norm(x), on the M rows of x.
  void mlp(Ops& ops, const Layer& y, Act& x, int M) const {
    const std::size_t scope = ops.mark();
    Act h = ops.alloc_like(x, H_, ActUse::kGemmInput);
    ops.norm(x, *y.mlp_norm, h);
    Act inter = ops.alloc_like(x, I_, ActUse::kGemmInput);
    if (!glu_composed_) {
      ops.linear(h, *y.wi, inter);
    } else {
      Act both = ops.alloc_like(x, 2 * I_);
      ops.linear(h, *y.wi, both);
      ops.glu(both, p_.hidden_act, inter);
    }
    ops.linear(inter, *y.wo, x);
    ops.release(scope);
  }

  const ModernBertParams p_;  // a copy: the model outlives the config it was built from
  int H_, I_, L_;
  bool mean_, shortcut_, glu_composed_ = false;
  ParamPtr emb_, final_, dense_, head_norm_, head_;
  std::vector<Layer> layers_;
  AttnDesc attn_;
  RopeDesc rope_;
};

}  // namespace

std::unique_ptr<Model> build_modernbert_model(const ModelConfig& c, const TensorMap& t, Ops& ops,
                                              bool last_layer_shortcut) {
  return std::make_unique<ModernBertModel>(c, t, ops, last_layer_shortcut && c.layers > 0);
}

}  // namespace crossrank
