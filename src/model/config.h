#pragma once
// Model hyperparameters read from a Hugging Face config.json (or built in for
// "synthetic:NAME"). The architecture (src/model/architecture.h) decides which fields
// matter and validates them; this struct only carries them.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace crossrank {

class Architecture;

// Settings only one family reads (e.g. ModernBERT's per-layer attention kinds), filled by
// that family's parse_config / synthetic_shapes and read back by its own code; opaque to
// the rest of crossrank.
struct FamilyParams {
  virtual ~FamilyParams() = default;
};

struct ModelConfig {
  const Architecture* arch = nullptr;  // the family that reads this model (never null after parsing)
  std::string architecture;            // as in config.json, e.g. "XLMRobertaForSequenceClassification"
  int vocab_size = 0;
  int hidden = 0;
  int layers = 0;
  int heads = 0;
  int kv_heads = 0;        // = heads unless grouped-query attention
  int head_dim = 0;        // = hidden / heads unless the config says otherwise
  int intermediate = 0;
  int max_position_embeddings = 0;
  int type_vocab_size = 1;
  int pad_token_id = 1;
  float norm_eps = 1e-5f;  // LayerNorm / RMSNorm epsilon
  float rope_theta = 0.f;  // rotary models
  bool tie_word_embeddings = false;
  int max_length = 0;      // longest sequence (tokens incl. template) the model accepts
  std::shared_ptr<const FamilyParams> family_params;  // the family's own settings, or null

  // Decoder rerankers (src/model/decoder.h): the parameterised decoder, as data.
  struct Decoder {
    bool qk_norm = false;          // RMSNorm per head on q and k (Qwen3)
    bool qkv_bias = false;         // biases on q/k/v projections (Qwen2)
    float norm_offset = 0.f;       // RMSNorm multiplies by (offset + w) (Gemma: 1)
    bool embed_scale = false;      // embeddings times sqrt(hidden) (Gemma)
    std::uint8_t act = 0;          // the MLP's GLU activation (an ops.h Activation)
    int window = 0;                // causal sliding window (ops.h AttnDesc::window), 0: none
    float softcap = 0.f;           // attention logit soft-cap, 0: none
    int num_labels = 0;            // > 0: a sequence-classification `score` head
    // Rows of the LM head the score reads ({neg, pos}: pos - neg; {pos}: its logit); ids of
    // the published vocabulary until the tokenizer binds them (Architecture::bind_tokenizer).
    std::vector<std::int32_t> score_tokens;
  } dec;

  // Family name of the architecture ("xlm-roberta", "bert", "qwen3", "mxbai-rerank-v2", ...).
  const char* family() const;
  // Parameter count (every tensor the architecture lists).
  long long parameters() const;
};

// Parses config.json contents; `where` names the file in error messages. Throws Error for
// an unknown architecture (listing the supported ones) and for missing, mistyped or
// absurd fields (naming the field).
// `hint` names the model (folder or hub id) and an explicit recipe (--reranker) for the
// families that several published rerankers share (src/model/architecture.h
// resolve_architecture).
struct ModelHint {
  std::string name;      // as given to Engine::open ("" when unknown)
  std::string reranker;  // EngineOptions::reranker ("" for none)
};
ModelConfig parse_config(const nlohmann::json& j, const std::string& where, const ModelHint& hint = {});
// Reads and parses `path` (config.json).
ModelConfig load_config(const std::string& path, const ModelHint& hint = {});
// Built-in shapes of synthetic:NAME (see synthetic_model_names()). Throws Error listing
// the known names otherwise.
ModelConfig synthetic_config(const std::string& name);
// The names synthetic_config() knows, comma-separated.
std::string synthetic_model_names();

// Reads integer field `key` of config `j`: required unless `def` >= 0 is given, within
// [lo, hi]; throws Error naming the field and the allowed range.
int config_int(const nlohmann::json& j, const char* key, const std::string& where, int lo, int hi, int def = -1);
// Reads number field `key` (def when absent), within [lo, hi].
float config_float(const nlohmann::json& j, const char* key, const std::string& where, float lo, float hi, float def);

}  // namespace crossrank
