#pragma once
// The BERT-style cross-encoder families (XLM-RoBERTa and BERT): one Architecture class
// with the few differences as data (EncoderStyle), and the forward pass written once over
// the op interface (encoder_model.cc).
#include <memory>

#include "model/architecture.h"

namespace crossrank {

// What differs between XLM-R and BERT cross-encoders.
struct EncoderStyle {
  const char* family;                  // "xlm-roberta" | "bert"
  std::vector<std::string> hf_classes;
  const char* prefix;                  // base-model tensor prefix: "roberta." | "bert."
  bool roberta_positions;              // positions from padding_idx + 1, <pad> ids skipped (HF)
  bool double_sep;                     // <s> q </s></s> d </s>
  bool second_type_one;                // token type 1 for the second text (BERT)
  bool pooler_head;                    // bert.pooler.dense + classifier (BERT) vs classifier.dense/out_proj
  float default_eps;
  int default_pad;
  int default_type_vocab;
  const char* builtin_tokenizer;       // synthetic shapes' tokenizer (tokenizer/builtin_tokenizers.h)
  int cls_id, sep_id;                  // the usual special ids (bench inputs without a tokenizer)
  int content_lo;                      // bench inputs draw content ids from [content_lo, vocab)
};

// Where a checkpoint keeps the encoder's tensors (below the base-model prefix): the HF
// transformers layout, or jinaai's XLM-R "flash" layout (jinaai/xlm-roberta-flash-
// implementation, used by jina-reranker-v2-base-multilingual: emb_ln, encoder.layers.N.
// mixer.Wqkv / out_proj, norm1, mlp.fc1 / fc2, norm2). Same math, other names.
struct EncoderLayout {
  const char* name;      // "hf" | "flash"
  const char* emb_norm;  // the embeddings' LayerNorm
  const char* layer;     // the prefix of layer N: layer + N + "."
  const char* qkv;       // one stacked [3H, H] projection (q; k; v), or null: q, k, v apart
  const char* q;
  const char* k;
  const char* v;
  const char* attn_out, *norm1, *ffn_in, *ffn_out, *norm2;
};
const EncoderLayout& hf_encoder_layout();
const EncoderLayout& flash_encoder_layout();

// The layout of an encoder config (ModelConfig::family_params; HF when it sets none).
struct EncoderParams final : FamilyParams {
  const EncoderLayout* layout = nullptr;
};
const EncoderLayout& encoder_layout(const ModelConfig& c);

const Architecture& xlm_roberta_architecture();
const Architecture& bert_architecture();

// The encoder forward pass over `ops` (encoder_model.cc). last_layer_shortcut: the last
// layer computes attention output, FFN and norms for each sequence's first token only
// (K and V for all tokens): exact, since only that row reaches the head.
std::unique_ptr<Model> build_encoder_model(const EncoderStyle& s, const ModelConfig& c, const TensorMap& t, Ops& ops,
                                           bool last_layer_shortcut = true);

}  // namespace crossrank
