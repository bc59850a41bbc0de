// The decoder forward pass (HF Qwen3 / Qwen2 / Gemma *ForCausalLM and
// *ForSequenceClassification), written once over the op interface and parameterised by
// ModelConfig::dec.
//
// Per layer (T tokens, H hidden, Dq = heads * D, Dkv = kv_heads * D; pre-norm):
//   x         = embed(ids) (x sqrt(H) when embed_scale: Gemma)
//   h         = RMSNorm_in(x)                          weights (offset + w): Gemma (1 + w)
//   qkv[T, Dq + 2 Dkv] = h [Wq; Wk; Wv]^T (+ [bq; bk; bv])   biases: Qwen2
//   q, k      = RMSNorm per head (q_norm, k_norm: Qwen3), then rotary (rotate-half, theta)
//   ctx[T,Dq] = causal softmax(q k^T / sqrt(D)) v       grouped-query heads, shared prefixes,
//                                                       sliding window / soft-cap when set
//   x        += ctx Wo^T                                linear, residual epilogue
//   x        += (act(h2 Wg^T) * h2 Wu^T) Wd^T, h2 = RMSNorm_post(x)   SwiGLU (Qwen) / GeGLU (Gemma)
// Head on x_last = RMSNorm_final(last row of each sequence):
//   token difference  x_last . (w_pos - w_neg)   (two rows of the LM head, tied or not)
//   one token         x_last . w_pos
//   seq-cls           x_last . score             (num_labels 1)
//
// Last-layer shortcut: K and V are needed for every token, but only the last row of each
// sequence reaches the head, so after the last layer's Q|K|V (and q/k norms, rotary: the
// rotary op works on all rows) the attention, output projection, MLP and norms run on the
// S last rows only. Every op involved is row-independent, so this is exact.
#include <cmath>

#include "backend/ops.h"
#include "model/decoder.h"
#include "util/error.h"

namespace crossrank {
namespace {

Epilogue glu_epilogue(Activation a) {
  switch (a) {
    case Activation::kSilu: return Epilogue::kSwiGlu;
    case Activation::kGeluErf: return Epilogue::kGeGlu;
    case Activation::kGeluTanh: return Epilogue::kGeGluTanh;
    default: throw Error(ErrorCode::kInternal, "decoder: no gated epilogue for this activation");
  }
}

class DecoderModel final : public Model {
 public:
  DecoderModel(const ModelConfig& c, const TensorMap& t, Ops& ops, bool shortcut)
      : H_(c.hidden), I_(c.intermediate), L_(c.layers), D_(c.head_dim), Dq_(c.heads * c.head_dim),
        Dkv_(c.kv_heads * c.head_dim), shortcut_(shortcut), qk_norm_(c.dec.qk_norm),
        embed_scale_(c.dec.embed_scale ? static_cast<float>(std::sqrt(static_cast<double>(c.hidden))) : 0.f) {
    auto T = [&](const std::string& n) { return &t.at(n); };
    auto rms = [&](const std::string& n) {
      NormDesc d;
      d.kind = NormKind::kRmsNorm;
      d.weight = T(n);
      d.eps = c.norm_eps;
      d.weight_offset = c.dec.norm_offset;
      return ops.prepare_norm(d);
    };
    auto lin = [&](const std::string& name, std::vector<std::string> mods, Epilogue e, bool bias = false) {
      LinearDesc d;
      d.name = name;
      for (const auto& m : mods) d.weights.push_back(T(m + ".weight"));
      if (bias)
        for (const auto& m : mods) d.biases.push_back(T(m + ".bias"));
      d.epilogue = e;
      return ops.prepare_linear(d);
    };
    EmbedDesc e;
    e.word = T("model.embed_tokens.weight");
    emb_ = ops.prepare_embedding(e);
    // Only the last row of each sequence reaches the head (cpu int8: those rows get 16-bit
    // activations in every GEMM, as the encoders' [CLS] rows do).
    ops.set_pooled_rows(RowSel::kLast);
    const Epilogue glu = glu_epilogue(static_cast<Activation>(c.dec.act));
    layers_.resize(L_);
    for (int l = 0; l < L_; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      const std::string tag = "layer." + std::to_string(l) + ".";
      Layer& y = layers_[l];
      y.ln1 = rms(p + "input_layernorm.weight");
      y.qkv = lin(tag + "qkv", {p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"}, Epilogue::kNone,
                  c.dec.qkv_bias);
      if (qk_norm_) {
        y.qn = rms(p + "self_attn.q_norm.weight");
        y.kn = rms(p + "self_attn.k_norm.weight");
      }
      y.out = lin(tag + "attn_out", {p + "self_attn.o_proj"}, Epilogue::kResidual);
      y.ln2 = rms(p + "post_attention_layernorm.weight");
      y.gate_up = lin(tag + "ffn_in", {p + "mlp.gate_proj", p + "mlp.up_proj"}, glu);
      y.down = lin(tag + "ffn_out", {p + "mlp.down_proj"}, Epilogue::kResidual);
    }
    final_ = rms("model.norm.weight");
    HeadDesc h;
    if (c.dec.num_labels > 0) {
      h.out = T("score.weight");
    } else {
      h.out = T(c.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight");
      // {neg, pos}: logit = pos - neg; {pos}: its logit.
      check(!c.dec.score_tokens.empty() && c.dec.score_tokens.size() <= 2, "decoder: 1 or 2 score tokens");
      for (std::int32_t id : c.dec.score_tokens) {
        check(id >= 0 && id < c.vocab_size, "decoder: score token id " + std::to_string(id) + " outside the vocabulary");
        h.out_rows.push_back(id);
      }
    }
    head_ = ops.prepare_head(h);
    attn_.heads = c.heads;
    attn_.kv_heads = c.kv_heads;
    attn_.head_dim = c.head_dim;
    attn_.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    attn_.causal = true;
    attn_.window = c.dec.window;
    attn_.softcap = c.dec.softcap;
    rope_.head_dim = rope_.rotary_dim = c.head_dim;
    rope_.theta = c.rope_theta;
  }

  std::vector<float> forward(Ops& ops, const PackedBatch& b) const override {
    const int T = b.total_tokens(), S = b.num_seqs();
    Act x = ops.alloc(T, H_);  // the residual stream, fp32
    ops.embed(*emb_, x);
    if (embed_scale_ != 0.f) ops.scale(x, embed_scale_);
    Act xl = ops.alloc_seq(H_);  // last rows: last-layer shortcut and head
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
      if (qk_norm_) {
        ops.norm(q, *y.qn, q, D_);
        ops.norm(k, *y.kn, k, D_);
      }
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
        Act ql = ops.alloc_seq(Dq_);
        ops.gather_rows(q, RowSel::kLast, ql);
        Act ctx = ops.alloc_seq(Dq_, ActUse::kGemmInput);
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

  // x += down(act(gate(h)) * up(h)), h = RMSNorm_post(x), on the M rows of x.
  void mlp(Ops& ops, const Layer& y, Act& x, int M) const {
    Act h = ops.alloc_like(x, H_, ActUse::kGemmInput);
    ops.norm(x, *y.ln2, h);
    Act inter = ops.alloc_like(x, I_, ActUse::kGemmInput);
    ops.linear(h, *y.gate_up, inter);
    ops.linear(inter, *y.down, x);
  }

  int H_, I_, L_, D_, Dq_, Dkv_;
  bool shortcut_, qk_norm_;
  float embed_scale_;  // 0: none
  ParamPtr emb_, final_, head_;
  std::vector<Layer> layers_;
  AttnDesc attn_;
  RopeDesc rope_;
};

}  // namespace

std::unique_ptr<Model> build_decoder_model(const ModelConfig& c, const TensorMap& t, Ops& ops,
                                           bool last_layer_shortcut) {
  return std::make_unique<DecoderModel>(c, t, ops, last_layer_shortcut && c.layers > 0);
}

}  // namespace crossrank
