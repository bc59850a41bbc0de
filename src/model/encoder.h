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

const Architecture& xlm_roberta_architecture();
const Architecture& bert_architecture();

// The encoder forward pass over `ops` (encoder_model.cc). last_layer_shortcut: the last
// layer computes attention output, FFN and norms for each sequence's first token only
// (K and V for all tokens): exact, since only that row reaches the head.
std::unique_ptr<Model> build_encoder_model(const EncoderStyle& s, const ModelConfig& c, const TensorMap& t, Ops& ops,
                                           bool last_layer_shortcut = true);

}  // namespace crossrank
