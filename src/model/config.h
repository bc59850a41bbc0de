#pragma once
// Model configuration read from a Hugging Face config.json (or built in for
// "synthetic:NAME"). Only single-logit sequence-classification encoders are accepted.
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace crossrank {

enum class Arch { kXlmRoberta, kBert };

struct ModelConfig {
  Arch arch = Arch::kXlmRoberta;
  std::string architecture;  // as in config.json, e.g. "XLMRobertaForSequenceClassification"
  int vocab_size = 0;
  int hidden = 0;
  int layers = 0;
  int heads = 0;
  int intermediate = 0;
  int max_position_embeddings = 0;
  int type_vocab_size = 1;
  int pad_token_id = 1;
  float layer_norm_eps = 1e-5f;

  int head_dim() const { return hidden / heads; }
  // First position id: padding_idx + 1 for (XLM-)RoBERTa, 0 for BERT.
  int position_offset() const { return arch == Arch::kXlmRoberta ? pad_token_id + 1 : 0; }
  // Longest sequence (tokens incl. specials) the position table allows, e.g. 8192.
  int max_length() const { return max_position_embeddings - position_offset(); }
  // Parameter count (embeddings included).
  long long parameters() const;
};

// Parses config.json contents; `where` names the file in error messages. Throws Error for
// an unknown architecture, num_labels != 1, unsupported activation, or bad/missing fields.
ModelConfig parse_config(const nlohmann::json& j, const std::string& where);
// Reads and parses `path` (config.json).
ModelConfig load_config(const std::string& path);
// Built-in shapes: bge-reranker-v2-m3, bge-reranker-base, ms-marco-MiniLM-L-6-v2,
// tiny-xlmr, tiny-bert. Throws Error listing the known names otherwise.
ModelConfig synthetic_config(const std::string& name);

}  // namespace crossrank
