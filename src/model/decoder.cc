// Decoder config dialects (Qwen3, Qwen2, Gemma; transformers 4 and 5 key styles) and the
// tensor table of the parameterised decoder.
#include "model/decoder.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "backend/ops.h"
#include "batch/encode.h"
#include "util/error.h"

namespace crossrank {

namespace {

std::string json_string(const nlohmann::json& j, const char* key, const std::string& where, const std::string& def) {
  if (!j.contains(key) || j[key].is_null()) return def;
  if (!j[key].is_string()) throw Error(where + ": field '" + key + "' must be a string");
  return j[key].get<std::string>();
}

bool json_bool(const nlohmann::json& j, const char* key, const std::string& where, bool def) {
  if (!j.contains(key) || j[key].is_null()) return def;
  if (!j[key].is_boolean()) throw Error(where + ": field '" + key + "' must be true or false");
  return j[key].get<bool>();
}

// rope_theta: top level (transformers 4) or in rope_parameters (transformers 5); only the
// plain ("default") rotary embedding.
float parse_rope(const nlohmann::json& j, const std::string& where, float def) {
  float theta = config_float(j, "rope_theta", where, 1.f, 1e12f, def);
  for (const char* key : {"rope_scaling", "rope_parameters"}) {
    if (!j.contains(key) || j[key].is_null()) continue;
    const auto& r = j[key];
    if (!r.is_object()) throw Error(where + ": field '" + key + "' must be an object or null");
    const std::string type = json_string(r, "rope_type", where + ": " + key, json_string(r, "type", where + ": " + key, "default"));
    if (type != "default")
      throw Error(ErrorCode::kUnsupported,
                  where + ": " + key + " type '" + type + "' is not supported (only the default rotary embedding)");
    if (r.contains("rope_theta")) theta = config_float(r, "rope_theta", where + ": " + key, 1.f, 1e12f, theta);
  }
  return theta;
}

}  // namespace

void parse_decoder_config(Dialect d, const nlohmann::json& j, const std::string& where, ModelConfig& c) {
  // Bounds: far above any published model (vocab <= 256000, hidden <= 5120, 64 layers,
  // 64 heads, head_dim 256, FFN 25600, 40960 positions), low enough that no product
  // overflows or allocates absurdly before the tensors are checked against the file.
  c.vocab_size = config_int(j, "vocab_size", where, 2, 4'000'000);
  c.hidden = config_int(j, "hidden_size", where, 1, 65536);
  c.layers = config_int(j, "num_hidden_layers", where, 1, 1024);
  c.heads = config_int(j, "num_attention_heads", where, 1, 1024);
  c.kv_heads = config_int(j, "num_key_value_heads", where, 1, c.heads, c.heads);
  if (c.heads % c.kv_heads != 0)
    throw Error(where + ": num_attention_heads " + std::to_string(c.heads) +
                " is not a multiple of num_key_value_heads " + std::to_string(c.kv_heads));
  // Qwen2 has no head_dim key (hidden / heads); Gemma's defaults to 256.
  const int def_head_dim = d == Dialect::kGemma ? 256 : c.hidden / c.heads;
  c.head_dim = d == Dialect::kQwen2 ? def_head_dim : config_int(j, "head_dim", where, 2, 1024, def_head_dim);
  if (c.head_dim % 2 != 0 || c.head_dim < 2)
    throw Error(where + ": head_dim " + std::to_string(c.head_dim) + " must be even (rotary embedding)");
  c.intermediate = config_int(j, "intermediate_size", where, 1, 1 << 18);
  c.max_position_embeddings = config_int(j, "max_position_embeddings", where, 2, 1 << 20);
  c.norm_eps = config_float(j, "rms_norm_eps", where, 0.f, 1.f, 1e-6f);
  if (!(c.norm_eps > 0.f)) throw Error(where + ": field 'rms_norm_eps' must be > 0");
  c.rope_theta = parse_rope(j, where, 10000.f);
  // Gemma ties its head always (GemmaForCausalLM's default); the others say so.
  c.tie_word_embeddings = json_bool(j, "tie_word_embeddings", where, d == Dialect::kGemma);
  // The MLP activation. transformers 4.57's Gemma reads hidden_act (hidden_activation
  // is documented but not read), so does crossrank; Qwen: silu.
  const std::string act = json_string(j, "hidden_act", where, d == Dialect::kGemma ? "gelu_pytorch_tanh" : "silu");
  const Activation a = activation_from_hf(act, where + ": hidden_act");
  const bool ok = d == Dialect::kGemma ? (a == Activation::kGeluErf || a == Activation::kGeluTanh) : a == Activation::kSilu;
  if (!ok)
    throw Error(ErrorCode::kUnsupported, where + ": hidden_act '" + act + "' is not supported (" +
                                             (d == Dialect::kGemma ? "gelu or gelu_pytorch_tanh" : "only 'silu'") + ")");
  c.dec.act = static_cast<std::uint8_t>(a);
  if (d != Dialect::kQwen2 && json_bool(j, "attention_bias", where, false))
    throw Error(ErrorCode::kUnsupported, where + ": attention_bias true is not supported");
  if (json_bool(j, "use_sliding_window", where, false))
    throw Error(ErrorCode::kUnsupported, where + ": use_sliding_window true is not supported");
  c.dec.qk_norm = d == Dialect::kQwen3;
  c.dec.qkv_bias = d == Dialect::kQwen2;
  c.dec.norm_offset = d == Dialect::kGemma ? 1.f : 0.f;
  c.dec.embed_scale = d == Dialect::kGemma;
  c.type_vocab_size = 1;
  c.pad_token_id = 0;
  if (j.contains("pad_token_id") && j["pad_token_id"].is_number_integer())
    c.pad_token_id = config_int(j, "pad_token_id", where, 0, c.vocab_size - 1, 0);
  c.max_length = c.max_position_embeddings;
}

std::vector<TensorSpec> decoder_tensors(Dialect d, const ModelConfig& c) {
  const std::int64_t H = c.hidden, I = c.intermediate, Dq = std::int64_t(c.heads) * c.head_dim,
                     Dkv = std::int64_t(c.kv_heads) * c.head_dim, D = c.head_dim;
  std::vector<TensorSpec> s;
  auto add = [&](std::string name, std::vector<std::int64_t> shape, bool optional = false) {
    TensorSpec t;
    // Checkpoints of the bare model (no "model." prefix) load too.
    if (name.rfind("model.", 0) == 0) t.aliases.push_back(name.substr(6));
    t.name = std::move(name);
    t.shape = std::move(shape);
    t.optional = optional;
    s.push_back(std::move(t));
  };
  add("model.embed_tokens.weight", {c.vocab_size, H});
  for (int l = 0; l < c.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {H});
    add(p + "self_attn.q_proj.weight", {Dq, H});
    if (d == Dialect::kQwen2) add(p + "self_attn.q_proj.bias", {Dq});
    add(p + "self_attn.k_proj.weight", {Dkv, H});
    if (d == Dialect::kQwen2) add(p + "self_attn.k_proj.bias", {Dkv});
    add(p + "self_attn.v_proj.weight", {Dkv, H});
    if (d == Dialect::kQwen2) add(p + "self_attn.v_proj.bias", {Dkv});
    add(p + "self_attn.o_proj.weight", {H, Dq});
    if (d == Dialect::kQwen3) {
      add(p + "self_attn.q_norm.weight", {D});
      add(p + "self_attn.k_norm.weight", {D});
    }
    add(p + "post_attention_layernorm.weight", {H});
    add(p + "mlp.gate_proj.weight", {I, H});
    add(p + "mlp.up_proj.weight", {I, H});
    add(p + "mlp.down_proj.weight", {H, I});
  }
  add("model.norm.weight", {H});
  // A seq-cls head (no bias), or the LM head unless tied (a file may still hold a copy of
  // a tied head, which is not read).
  if (c.dec.num_labels > 0) add("score.weight", {c.dec.num_labels, H});
  else if (!c.tie_word_embeddings) add("lm_head.weight", {c.vocab_size, H});
  return s;
}

EncodedPair build_query_cap_prompt(const std::vector<std::int32_t>& pre, std::vector<std::int32_t> q,
                                   const std::vector<std::int32_t>& mid, std::vector<std::int32_t> d,
                                   const std::vector<std::int32_t>& post, RefMaxLength ref, const ScoreOptions& o) {
  check(o.max_doc_tokens >= 0, "max_doc_tokens must be >= 0");
  if (o.max_doc_tokens > 0) keep_tokens(d, static_cast<std::size_t>(o.max_doc_tokens), o.truncation_side);
  const std::size_t L = static_cast<std::size_t>(o.max_length);
  const std::size_t n = pre.size() + q.size() + mid.size() + d.size() + post.size();
  if (!o.truncate) {
    if (n > L)
      throw Error(ErrorCode::kTooLong, "the prompt has " + std::to_string(n) + " tokens, more than max_length " +
                                           std::to_string(o.max_length) + ", and truncation is off");
  } else {
    // The references apply their caps whether or not the prompt would fit.
    const std::size_t fixed = ref == RefMaxLength::kFlagLlm ? 2 * post.size() : pre.size() + post.size();
    const std::size_t M = L > fixed ? L - fixed : 0;
    // The query from its end (the references' tokenizers truncate on the right), the
    // document to M, then only the document until everything fits.
    if (q.size() > M * 3 / 4) q.resize(M * 3 / 4);
    keep_tokens(d, std::min(d.size(), M), o.truncation_side);
    const std::size_t budget = L - post.size(), head = pre.size() + q.size() + mid.size();
    keep_tokens(d, head < budget ? std::min(d.size(), budget - head) : 0, o.truncation_side);
  }
  EncodedPair e;
  e.ids.reserve(pre.size() + q.size() + mid.size() + d.size() + post.size());
  for (const std::vector<std::int32_t>* part : {&pre, static_cast<const std::vector<std::int32_t>*>(&q), &mid,
                                                static_cast<const std::vector<std::int32_t>*>(&d), &post})
    e.ids.insert(e.ids.end(), part->begin(), part->end());
  e.type_ids.assign(e.ids.size(), 0);
  e.shared_prefix = static_cast<std::int32_t>(pre.size() + q.size() + mid.size());
  return e;
}

}  // namespace crossrank
