// The Qwen3 decoder forward pass (HF Qwen3ForCausalLM), written once over the op interface.
//
// Per layer (T tokens, H hidden, Dq = heads * D, Dkv = kv_heads * D; pre-norm):
//   h         = RMSNorm_in(x)
//   qkv[T, Dq + 2 Dkv] = h [Wq; Wk; Wv]^T              linear (no biases)
//   q, k      = RMSNorm per head (q_norm, k_norm), then rotary (rotate-half, theta)
//   ctx[T,Dq] = causal softmax(q k^T / sqrt(D)) v       grouped-query heads, shared prefixes
//   x        += ctx Wo^T                                linear, residual epilogue
//   x        += (silu(h2 Wg^T) * h2 Wu^T) Wd^T, h2 = RMSNorm_post(x)   SwiGLU, residual
// Head: x_last = RMSNorm_final(last row of each sequence); score = x_last . (w_yes - w_no)
// with the two rows of the (tied) LM head.
//
// Last-layer shortcut: K and V are needed for every token, but only the last row of each
// sequence reaches the head, so after the last layer's Q|K|V (and q/k norms, rotary: the
// rotary op works on all rows) the attention, output projection, MLP and norms run on the
// S last rows only. Every op involved is row-independent, so this is exact.
#include <cmath>

#include "backend/ops.h"
#include "model/qwen3.h"

namespace crossrank {
namespace {

class Qwen3Model final : public Model {
 public:
  Qwen3Model(const ModelConfig& c, const TensorMap& t, Ops& ops, bool shortcut)
      : H_(c.hidden), I_(c.intermediate), L_(c.layers), D_(c.head_dim), Dq_(c.heads * c.head_dim),
        Dkv_(c.kv_heads * c.head_dim), shortcut_(shortcut) {
    auto T = [&](const std::string& n) { return &t.at(n); };
    auto rms = [&](const std::string& n) {
      NormDesc d;
      d.kind = NormKind::kRmsNorm;
      d.weight = T(n);
      d.eps = c.norm_eps;
      return ops.prepare_norm(d);
    };
    auto lin = [&](const std::string& name, std::vector<std::string> mods, Epilogue e) {
      LinearDesc d;
      d.name = name;
      for (const auto& m : mods) d.weights.push_back(T(m + ".weight"));
      d.epilogue = e;
      return ops.prepare_linear(d);
    };
    EmbedDesc e;
    e.word = T("model.embed_tokens.weight");
    emb_ = ops.prepare_embedding(e);
    // Only the last row of each sequence reaches the head (cpu int8: those rows get 16-bit
    // activations in every GEMM, as the encoders' [CLS] rows do).
    ops.set_pooled_rows(RowSel::kLast);
    layers_.resize(L_);
    for (int l = 0; l < L_; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      const std::string tag = "layer." + std::to_string(l) + ".";
      Layer& y = layers_[l];
      y.ln1 = rms(p + "input_layernorm.weight");
      y.qkv = lin(tag + "qkv", {p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"}, Epilogue::kNone);
      y.qn = rms(p + "self_attn.q_norm.weight");
      y.kn = rms(p + "self_attn.k_norm.weight");
      y.out = lin(tag + "attn_out", {p + "self_attn.o_proj"}, Epilogue::kResidual);
      y.ln2 = rms(p + "post_attention_layernorm.weight");
      y.gate_up = lin(tag + "ffn_in", {p + "mlp.gate_proj", p + "mlp.up_proj"}, Epilogue::kSwiGlu);
      y.down = lin(tag + "ffn_out", {p + "mlp.down_proj"}, Epilogue::kResidual);
    }
    final_ = rms("model.norm.weight");
    HeadDesc h;
    h.out = T(c.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight");
    h.out_rows = {qwen3::kNoId, qwen3::kYesId};  // logit = yes - no
    head_ = ops.prepare_head(h);
    attn_.heads = c.heads;
    attn_.kv_heads = c.kv_heads;
    attn_.head_dim = c.head_dim;
    attn_.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    attn_.causal = true;
    rope_.head_dim = rope_.rotary_dim = c.head_dim;
    rope_.theta = c.rope_theta;
  }

  std::vector<float> forward(Ops& ops, const PackedBatch& b) const override {
    const int T = b.total_tokens(), S = b.num_seqs();
    Act x = ops.alloc(T, H_);  // the residual stream, fp32
    ops.embed(*emb_, x);
    Act xl = ops.alloc(S, H_);  // last rows: last-layer shortcut and head
    for (int l = 0; l < L_; ++l) {
      const Layer& y = layers_[l];
      const bool last_only = shortcut_ && l == L_ - 1;
      const std::size_t scope = ops.mark();
      // Attention block: Q|K|V for all rows (K, V always; Q for the rotary op).
      Act h = ops.alloc(T, H_, ActUse::kGemmInput);
      ops.norm(x, *y.ln1, h);
      Act qkv = ops.alloc(T, Dq_ + 2 * Dkv_);
      ops.linear(h, *y.qkv, qkv);
      Act q = qkv.cols_view(0, Dq_), k = qkv.cols_view(Dq_, Dkv_), v = qkv.cols_view(Dq_ + Dkv_, Dkv_);
      ops.norm(q, *y.qn, q, D_);
      ops.norm(k, *y.kn, k, D_);
      ops.rope(q, k, rope_);
      AttnDesc a = attn_;
      if (!last_only) {
        a.q_rows = RowSel::kAll;
        Act ctx = ops.alloc(T, Dq_, ActUse::kGemmInput);
        ops.attention(a, q, k, v, ctx);
        ops.linear(ctx, *y.out, x);
        ops.release(scope);
        mlp(ops, y, x, T);
      } else {
        a.q_rows = RowSel::kLast;
        Act ql = ops.alloc(S, Dq_);
        ops.gather_rows(q, RowSel::kLast, ql);
        Act ctx = ops.alloc(S, Dq_, ActUse::kGemmInput);
        ops.attention(a, ql, k, v, ctx);
        ops.gather_rows(x, RowSel::kLast, xl);
        ops.linear(ctx, *y.out, xl);
        ops.release(scope);
        mlp(ops, y, xl, S);
      }
      ops.release(scope);
    }
    if (!shortcut_) ops.gather_rows(x, RowSel::kLast, xl);
    ops.norm(xl, *final_, xl);
    return ops.head(xl, *head_);
  }

 private:
  struct Layer {
    ParamPtr ln1, qkv, qn, kn, out, ln2, gate_up, down;
  };

  // x += down(silu(gate(h)) * up(h)), h = RMSNorm_post(x), on the M rows of x.
  void mlp(Ops& ops, const Layer& y, Act& x, int M) const {
    Act h = ops.alloc(M, H_, ActUse::kGemmInput);
    ops.norm(x, *y.ln2, h);
    Act inter = ops.alloc(M, I_, ActUse::kGemmInput);
    ops.linear(h, *y.gate_up, inter);
    ops.linear(inter, *y.down, x);
  }

  int H_, I_, L_, D_, Dq_, Dkv_;
  bool shortcut_;
  ParamPtr emb_, final_, head_;
  std::vector<Layer> layers_;
  AttnDesc attn_;
  RopeDesc rope_;
};

}  // namespace

std::unique_ptr<Model> build_qwen3_model(const ModelConfig& c, const TensorMap& t, Ops& ops,
                                         bool last_layer_shortcut) {
  return std::make_unique<Qwen3Model>(c, t, ops, last_layer_shortcut && c.layers > 0);
}

}  // namespace crossrank
