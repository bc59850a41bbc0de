// Qwen3 decoder rerankers: config, tensor table, the model card's prompt, shared prefixes.
#include "model/qwen3.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "batch/encode.h"
#include "tokenizer/builtin_tokenizers.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_json.h"
#include "util/paths.h"
#include "util/error.h"

namespace crossrank {

namespace qwen3 {

std::string document_part(std::string_view document) {
  std::string s;
  s.reserve(document.size() + 1);
  s += ' ';
  s += document;
  return s;
}

std::string body_head(std::string_view instruction, std::string_view query) {
  std::string s;
  s.reserve(instruction.size() + query.size() + 40);
  s += "<Instruct>: ";
  s += instruction;
  s += "\n<Query>: ";
  s += query;
  s += "\n<Document>:";
  return s;
}

EncodedPair build_prompt(const std::vector<int32_t>& prefix, std::vector<int32_t> head, std::vector<int32_t> doc,
                         const std::vector<int32_t>& suffix, const ScoreOptions& o) {
  check(o.max_doc_tokens >= 0, "max_doc_tokens must be >= 0");
  if (o.max_doc_tokens > 0) keep_tokens(doc, static_cast<std::size_t>(o.max_doc_tokens), o.truncation_side);
  const std::size_t fixed = prefix.size() + suffix.size();
  const std::size_t n = fixed + head.size() + doc.size();
  if (n > static_cast<std::size_t>(o.max_length)) {
    if (!o.truncate)
      throw Error(ErrorCode::kTooLong, "the prompt has " + std::to_string(n) + " tokens, more than max_length " +
                                           std::to_string(o.max_length) + ", and truncation is off");
    // The card: tokenizer(body, truncation=..., max_length=max_length - prefix - suffix)
    // cuts the body's tokens from the right: the document's end, then the head's end.
    const std::size_t budget = static_cast<std::size_t>(o.max_length) - fixed;
    if (head.size() >= budget) {
      head.resize(budget);
      doc.clear();
    } else {
      keep_tokens(doc, budget - head.size(), o.truncation_side);
    }
  }
  EncodedPair e;
  e.ids.reserve(fixed + head.size() + doc.size());
  e.ids.insert(e.ids.end(), prefix.begin(), prefix.end());
  e.ids.insert(e.ids.end(), head.begin(), head.end());
  e.ids.insert(e.ids.end(), doc.begin(), doc.end());
  e.ids.insert(e.ids.end(), suffix.begin(), suffix.end());
  e.type_ids.assign(e.ids.size(), 0);
  e.shared_prefix = static_cast<int32_t>(prefix.size() + head.size());
  return e;
}

}  // namespace qwen3

namespace {

using namespace qwen3;

std::string json_string(const nlohmann::json& j, const char* key, const std::string& def) {
  if (!j.contains(key) || j[key].is_null()) return def;
  if (!j[key].is_string()) throw Error(std::string("field '") + key + "' must be a string");
  return j[key].get<std::string>();
}

bool json_bool(const nlohmann::json& j, const char* key, const std::string& where, bool def) {
  if (!j.contains(key) || j[key].is_null()) return def;
  if (!j[key].is_boolean()) throw Error(where + ": field '" + key + "' must be true or false");
  return j[key].get<bool>();
}

class Qwen3Architecture final : public Architecture {
 public:
  const char* family() const override { return "qwen3"; }
  std::vector<std::string> hf_classes() const override { return {"Qwen3ForCausalLM"}; }

  ModelConfig parse_config(const nlohmann::json& j, const std::string& where) const override {
    ModelConfig c;
    // Bounds: far above any published Qwen3 (vocab 151669, hidden <= 5120, 64 layers,
    // 64 heads, head_dim 128, FFN 25600, 40960 positions), low enough that no product
    // overflows or allocates absurdly before the tensors are checked against the file.
    c.vocab_size = config_int(j, "vocab_size", where, kYesId + 1, 4'000'000);
    c.hidden = config_int(j, "hidden_size", where, 1, 65536);
    c.layers = config_int(j, "num_hidden_layers", where, 1, 1024);
    c.heads = config_int(j, "num_attention_heads", where, 1, 1024);
    c.kv_heads = config_int(j, "num_key_value_heads", where, 1, c.heads, c.heads);
    if (c.heads % c.kv_heads != 0)
      throw Error(where + ": num_attention_heads " + std::to_string(c.heads) +
                  " is not a multiple of num_key_value_heads " + std::to_string(c.kv_heads));
    c.head_dim = config_int(j, "head_dim", where, 2, 1024, c.hidden / c.heads);
    if (c.head_dim % 2 != 0 || c.head_dim < 2)
      throw Error(where + ": head_dim " + std::to_string(c.head_dim) + " must be even (rotary embedding)");
    c.intermediate = config_int(j, "intermediate_size", where, 1, 1 << 18);
    c.max_position_embeddings = config_int(j, "max_position_embeddings", where, 2, 1 << 20);
    c.norm_eps = config_float(j, "rms_norm_eps", where, 0.f, 1.f, 1e-6f);
    if (!(c.norm_eps > 0.f)) throw Error(where + ": field 'rms_norm_eps' must be > 0");
    c.tie_word_embeddings = json_bool(j, "tie_word_embeddings", where, false);
    // rope_theta: top level (transformers 4) or rope_parameters (transformers 5); only the
    // plain ("default") rotary embedding.
    c.rope_theta = config_float(j, "rope_theta", where, 1.f, 1e12f, 10000.f);
    for (const char* key : {"rope_scaling", "rope_parameters"}) {
      if (!j.contains(key) || j[key].is_null()) continue;
      const auto& r = j[key];
      if (!r.is_object()) throw Error(where + ": field '" + key + "' must be an object or null");
      std::string type = "default";
      try {
        type = json_string(r, "rope_type", json_string(r, "type", "default"));
      } catch (const Error& e) {
        throw Error(where + ": " + key + ": " + e.what());
      }
      if (type != "default")
        throw Error(ErrorCode::kUnsupported,
                    where + ": " + key + " type '" + type + "' is not supported (only the default rotary embedding)");
      if (r.contains("rope_theta")) c.rope_theta = config_float(r, "rope_theta", where + ": " + key, 1.f, 1e12f, c.rope_theta);
    }
    std::string act;
    try {
      act = json_string(j, "hidden_act", "silu");
    } catch (const Error& e) {
      throw Error(where + ": " + e.what());
    }
    if (act != "silu")
      throw Error(ErrorCode::kUnsupported, where + ": hidden_act '" + act + "' is not supported (only 'silu')");
    if (json_bool(j, "attention_bias", where, false))
      throw Error(ErrorCode::kUnsupported, where + ": attention_bias true is not supported (Qwen3 has none)");
    if (json_bool(j, "use_sliding_window", where, false))
      throw Error(ErrorCode::kUnsupported, where + ": use_sliding_window true is not supported");
    c.type_vocab_size = 1;
    c.pad_token_id = 0;
    c.max_length = c.max_position_embeddings;
    return c;
  }

  std::vector<std::pair<std::string, ModelConfig>> synthetic_shapes() const override {
    std::vector<std::pair<std::string, ModelConfig>> r;
    auto add = [&](const char* name, int layers, int hidden, int heads, int kv, int head_dim, int inter, bool tied) {
      ModelConfig c;
      c.arch = this;
      c.architecture = "Qwen3ForCausalLM";
      c.layers = layers;
      c.hidden = hidden;
      c.heads = heads;
      c.kv_heads = kv;
      c.head_dim = head_dim;
      c.intermediate = inter;
      c.vocab_size = 151669;  // the real vocabulary, so the real tokenizer fits every shape
      c.max_position_embeddings = 40960;
      c.type_vocab_size = 1;
      c.pad_token_id = 0;
      c.norm_eps = 1e-6f;
      c.rope_theta = 1e6f;
      c.tie_word_embeddings = tied;
      c.max_length = c.max_position_embeddings;
      r.emplace_back(name, c);
    };
    // The published shapes (Qwen/Qwen3-Reranker-*/config.json).
    add("qwen3-reranker-0.6b", 28, 1024, 16, 8, 128, 3072, true);
    add("qwen3-reranker-4b", 36, 2560, 32, 8, 128, 9728, true);
    add("qwen3-reranker-8b", 36, 4096, 32, 8, 128, 12288, false);
    // Test shapes: grouped-query heads, head_dim != hidden / heads, tied and untied heads.
    add("tiny-qwen3", 2, 64, 4, 2, 32, 128, true);
    add("tiny-qwen3-untied", 3, 96, 4, 1, 16, 160, false);
    return r;
  }

  std::vector<TensorSpec> tensors(const ModelConfig& c) const override {
    const std::int64_t H = c.hidden, I = c.intermediate, Dq = std::int64_t(c.heads) * c.head_dim,
                       Dkv = std::int64_t(c.kv_heads) * c.head_dim, D = c.head_dim;
    std::vector<TensorSpec> s;
    auto add = [&](std::string name, std::vector<std::int64_t> shape, bool optional = false) {
      TensorSpec t;
      // Qwen3Model checkpoints (no "model." prefix) load too.
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
      add(p + "self_attn.k_proj.weight", {Dkv, H});
      add(p + "self_attn.v_proj.weight", {Dkv, H});
      add(p + "self_attn.o_proj.weight", {H, Dq});
      add(p + "self_attn.q_norm.weight", {D});
      add(p + "self_attn.k_norm.weight", {D});
      add(p + "post_attention_layernorm.weight", {H});
      add(p + "mlp.gate_proj.weight", {I, H});
      add(p + "mlp.up_proj.weight", {I, H});
      add(p + "mlp.down_proj.weight", {H, I});
    }
    add("model.norm.weight", {H});
    // Tied: the head is embed_tokens (a file may still hold a copy, which is not read).
    if (!c.tie_word_embeddings) add("lm_head.weight", {c.vocab_size, H});
    return s;
  }

  void check_tokenizer(const Tokenizer& tok, const ModelConfig& c) const override {
    if (tok.vocab_size() > c.vocab_size)
      throw Error("tokenizer has " + std::to_string(tok.vocab_size()) + " ids but the model's vocab_size is " +
                  std::to_string(c.vocab_size));
    if (tok.id_to_token(kYesId) != "yes" || tok.id_to_token(kNoId) != "no")
      throw Error("the tokenizer is not Qwen's: ids " + std::to_string(kYesId) + " / " + std::to_string(kNoId) +
                  " are '" + tok.id_to_token(kYesId) + "' / '" + tok.id_to_token(kNoId) +
                  "', the Qwen3 reranker scores with the tokens 'yes' / 'no' there");
    // The chat markers must be single added tokens, not text.
    const std::vector<int32_t> pre = tok.encode(kPrefix), suf = tok.encode(kSuffix);
    if (pre.empty() || tok.id_to_token(pre.front()) != "<|im_start|>" || suf.empty() ||
        tok.id_to_token(suf.front()) != "<|im_end|>")
      throw Error("the tokenizer does not know the chat tokens <|im_start|> / <|im_end|> the Qwen3 reranker prompt needs");
  }

  int template_tokens(const Tokenizer* tok, const ModelConfig&, const ScoreOptions& o) const override {
    // With the Qwen tokenizer: prefix 39 and suffix 9 tokens, plus the head's markers and
    // the instruction. Without one, a lower bound: prefix and suffix.
    if (!tok) return 48;
    return static_cast<int>(tok->encode(kPrefix).size() + tok->encode(kSuffix).size() +
                            tok->encode(body_head(instruction(o), "")).size());
  }

  EncodedPair encode(const Tokenizer& tok, const ModelConfig& c, std::string_view query, std::string_view document,
                     const ScoreOptions& o) const override {
    const Parts p = parts(tok, c, query, document, o);
    return build_prompt(p.prefix, tok.encode(body_head(instruction(o), query)), tok.encode(document_part(document)),
                        p.suffix, o);
  }

  std::vector<EncodedPair> encode_chunks(const Tokenizer& tok, const ModelConfig& c, std::string_view query,
                                         std::string_view document, const ScoreOptions& o) const override {
    const Parts p = parts(tok, c, query, document, o);
    std::vector<int32_t> doc = tok.encode(document_part(document));
    if (o.max_doc_tokens > 0) keep_tokens(doc, static_cast<std::size_t>(o.max_doc_tokens), o.truncation_side);
    const int fixed = static_cast<int>(p.prefix.size() + p.suffix.size());
    std::vector<EncodedPair> out;
    ScoreOptions w = o;
    w.max_doc_tokens = 0;
    chunk_windows(tok.encode(body_head(instruction(o), query)), doc, o, fixed,
                  [&](const std::vector<int32_t>& head, const std::vector<int32_t>& part) {
                    out.push_back(build_prompt(p.prefix, head, part, p.suffix, w));
                  });
    return out;
  }

  void positions(const int32_t*, int n, int start, const ModelConfig&, std::vector<int32_t>& out) const override {
    for (int i = 0; i < n; ++i) out.push_back(start + i);
  }

  bool shares_prefix() const override { return true; }
  int type_vocab(const ModelConfig&) const override { return 1; }
  bool ffn_gated() const override { return true; }
  std::string int8_gate_gap() const override {
    return "no real-weight int8 gate for decoder rerankers (gated on a BERT cross-encoder only)";
  }

  // Qwen's byte-level BPE: the built-in tokenizer.json skeleton over the real ranks,
  // qwen.tiktoken, from the shared data folder.
  std::unique_ptr<Tokenizer> synthetic_tokenizer(const ModelConfig&) const override {
    const std::string root = shared_data_root();
    const std::string ranks = root + "/models/qwen3-reranker/qwen.tiktoken";
    if (!root.empty() && std::ifstream(ranks).good())
      return load_bpe_tiktoken_text(ranks, builtin_tokenizer_json("qwen3-skeleton"),
                                    "<built-in qwen3 tokenizer skeleton>");
    throw Error("synthetic Qwen3 model: no Qwen vocabulary (" +
                (root.empty() ? std::string("no shared data folder") : ranks + " not found") +
                "; set CROSSRANK_SHARED_DIR to the shared/ folder or CROSSRANK_TOKENIZER_DIR to a Qwen tokenizer folder)");
  }

  // The card's prompt around random ids of the ordinary vocabulary (below the special
  // tokens, which start at 151643): prefix + "<Instruct>: ...\n<Query>: " q "\n<Document>:" d
  // + suffix.
  EncodedPair fixed_len_pair(const ModelConfig& c, const Tokenizer* tok, int len, std::uint64_t seed) const override {
    check(tok != nullptr, "Qwen3 bench inputs need the tokenizer");
    std::vector<int32_t> head = tok->encode(kPrefix);
    const std::string h = body_head(kDefaultInstruction, "");
    const std::size_t cut = h.find("\n<Document>:");
    const std::vector<int32_t> a = tok->encode(h.substr(0, cut)), mid = tok->encode(h.substr(cut));
    head.insert(head.end(), a.begin(), a.end());
    EncodedPair e = fixed_len_from_template(head, mid, tok->encode(kSuffix), len, c.max_length, 1000,
                                            std::min(c.vocab_size, 151643), 0, seed);
    e.shared_prefix = 0;
    return e;
  }

  std::unique_ptr<Model> build(const ModelConfig& c, const TensorMap& t, Ops& ops,
                               const BuildOptions& o) const override {
    return build_qwen3_model(c, t, ops, o.last_layer_shortcut);
  }

 private:
  struct Parts {
    std::vector<int32_t> prefix, suffix;
  };
  static std::string_view instruction(const ScoreOptions& o) {
    return o.instruction.empty() ? kDefaultInstruction : std::string_view(o.instruction);
  }
  // Validates the inputs and tokenizes the fixed parts (prefix and suffix: the Qwen
  // tokenizer maps their chat markers to single added tokens).
  Parts parts(const Tokenizer& tok, const ModelConfig& c, std::string_view query, std::string_view document,
              const ScoreOptions& o) const {
    check_utf8(o.instruction, "instruction");
    Parts p{tok.encode(kPrefix), tok.encode(kSuffix)};
    // At least one token of the body beyond prefix and suffix.
    check_pair_inputs(c, query, document, o.max_length, static_cast<int>(p.prefix.size() + p.suffix.size()) + 1);
    return p;
  }
};

}  // namespace

const Architecture& qwen3_architecture() {
  static const Qwen3Architecture a;
  return a;
}

}  // namespace crossrank
