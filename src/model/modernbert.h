#pragma once
// ModernBERT cross-encoders (HF ModernBertForSequenceClassification, e.g.
// Alibaba-NLP/gte-reranker-modernbert-base): the family (modernbert.cc: config in both the
// transformers 4 and 5 key styles, tensor table, [CLS] q [SEP] d [SEP] template with
// longest_first truncation) and the forward pass over the op interface
// (modernbert_model.cc).
//
// Architecture (pre-norm, no position embeddings, no token types):
//   x = LN(tok_embeddings[ids])
//   per layer: x += Wo attn(rope(Wqkv attn_norm(x)))   attn_norm = identity in layer 0;
//                   global layers see the whole sequence (theta_global), local layers only
//                   keys with |i - j| <= local_attention / 2 (theta_local)
//              x += Wo (act(a) * g), [a, g] = Wi mlp_norm(x)                       GeGLU
//   h = final_norm(x); pooled = h[CLS] or mean over the sequence's tokens
//   logit = classifier(LN_head(act(dense(pooled))))
#include <memory>
#include <vector>

#include "backend/ops.h"
#include "model/architecture.h"

namespace crossrank {

// What a ModernBERT config says beyond ModelConfig (ModelConfig::family_params).
struct ModernBertParams final : FamilyParams {
  std::vector<bool> local;          // per layer: sliding-window (true) or global attention
  int window = 64;                  // local layers: keys with |i - j| <= window (local_attention / 2)
  float global_theta = 160000.f;    // RoPE theta of global / local layers
  float local_theta = 10000.f;
  bool norm_bias = false, attention_bias = false, mlp_bias = false, classifier_bias = false;
  Activation hidden_act = Activation::kGeluErf;      // of the GeGLU's first half
  Activation classifier_act = Activation::kGeluErf;  // after head.dense
  bool mean_pool = false;           // classifier_pooling "mean" (else "cls")
  int cls_id = 50281, sep_id = 50282;  // bench inputs without a tokenizer
};

const Architecture& modernbert_architecture();

// The params of a ModernBERT config (throws Error when `c` is not one).
const ModernBertParams& modernbert_params(const ModelConfig& c);

// The forward pass over `ops` (modernbert_model.cc). last_layer_shortcut (cls pooling
// only): the last layer runs attention output, MLP and norms on each sequence's first row
// only (Q/K/V and rotary for every token), exact since only that row reaches the head.
std::unique_ptr<Model> build_modernbert_model(const ModelConfig& c, const TensorMap& t, Ops& ops,
                                              bool last_layer_shortcut = true);

}  // namespace crossrank
