// ModernBERT cross-encoder family: config (transformers 4 and 5 keys), tensor table, the
// [CLS] q [SEP] d [SEP] template with longest_first truncation, bench inputs, FLOPs.
#include "model/modernbert.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "batch/encode.h"
#include "tokenizer/builtin_tokenizers.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_json.h"
#include "util/error.h"

namespace crossrank {
namespace {

bool json_bool(const nlohmann::json& j, const char* key, const std::string& where, bool def) {
  if (!j.contains(key) || j[key].is_null()) return def;
  if (!j[key].is_boolean()) throw Error(where + ": field '" + key + "' must be true or false");
  return j[key].get<bool>();
}

std::string json_string(const nlohmann::json& j, const char* key, const std::string& where, const std::string& def) {
  if (!j.contains(key) || j[key].is_null()) return def;
  if (!j[key].is_string()) throw Error(where + ": field '" + key + "' must be a string");
  return j[key].get<std::string>();
}

// The rope_theta of one transformers 5 rope_parameters entry (only the default rotary
// embedding); `def` when the entry names none.
float rope_entry_theta(const nlohmann::json& r, const std::string& where, float def) {
  if (!r.is_object()) throw Error(where + " must be an object");
  const std::string type = json_string(r, "rope_type", where, json_string(r, "type", where, "default"));
  if (type != "default")
    throw Error(ErrorCode::kUnsupported,
                where + ": rope_type '" + type + "' is not supported (only the default rotary embedding)");
  return config_float(r, "rope_theta", where, 1.f, 1e12f, def);
}

class ModernBertArchitecture final : public Architecture {
 public:
  const char* family() const override { return "modernbert"; }
  std::vector<std::string> hf_classes() const override { return {"ModernBertForSequenceClassification"}; }

  ModelConfig parse_config(const nlohmann::json& j, const std::string& where) const override {
    ModelConfig c;
    auto p = std::make_shared<ModernBertParams>();
    int labels = 1;
    if (j.contains("id2label") && j["id2label"].is_object()) labels = static_cast<int>(j["id2label"].size());
    if (j.contains("num_labels")) labels = config_int(j, "num_labels", where, 0, 1 << 20);
    if (labels != 1)
      throw Error(where + ": num_labels is " + std::to_string(labels) +
                  "; a reranker has exactly one label (one logit per pair)");
    // Bounds: far above any published ModernBERT, low enough that no product overflows.
    c.vocab_size = config_int(j, "vocab_size", where, 1, 4'000'000, 50368);
    c.hidden = config_int(j, "hidden_size", where, 1, 65536, 768);
    c.layers = config_int(j, "num_hidden_layers", where, 1, 1024, 22);
    c.heads = config_int(j, "num_attention_heads", where, 1, 1024, 12);
    c.intermediate = config_int(j, "intermediate_size", where, 1, 1 << 18, 1152);
    c.max_position_embeddings = config_int(j, "max_position_embeddings", where, 2, 1 << 20, 8192);
    if (c.hidden % c.heads != 0)
      throw Error(where + ": hidden_size " + std::to_string(c.hidden) + " is not a multiple of num_attention_heads " +
                  std::to_string(c.heads));
    if ((c.hidden / c.heads) % 2 != 0)
      throw Error(where + ": hidden_size / num_attention_heads = " + std::to_string(c.hidden / c.heads) +
                  " must be even (rotary embedding)");
    c.norm_eps = config_float(j, "norm_eps", where, 0.f, 1.f, 1e-5f);
    if (!(c.norm_eps > 0.f)) throw Error(where + ": field 'norm_eps' must be > 0");
    c.pad_token_id = config_int(j, "pad_token_id", where, 0, c.vocab_size - 1, std::min(50283, c.vocab_size - 1));
    p->cls_id = config_int(j, "cls_token_id", where, 0, c.vocab_size - 1, std::min(50281, c.vocab_size - 1));
    p->sep_id = config_int(j, "sep_token_id", where, 0, c.vocab_size - 1, std::min(50282, c.vocab_size - 1));
    p->norm_bias = json_bool(j, "norm_bias", where, false);
    p->attention_bias = json_bool(j, "attention_bias", where, false);
    p->mlp_bias = json_bool(j, "mlp_bias", where, false);
    p->classifier_bias = json_bool(j, "classifier_bias", where, false);
    p->hidden_act = activation_from_hf(json_string(j, "hidden_activation", where, "gelu"), where + ": hidden_activation");
    p->classifier_act =
        activation_from_hf(json_string(j, "classifier_activation", where, "gelu"), where + ": classifier_activation");
    const std::string pool = json_string(j, "classifier_pooling", where, "cls");
    if (pool != "cls" && pool != "mean")
      throw Error(ErrorCode::kUnsupported, where + ": classifier_pooling '" + pool + "' is not supported ('cls' or 'mean')");
    p->mean_pool = pool == "mean";

    // Which layers are local: transformers 5 lists them (layer_types), transformers 4 says
    // every n-th layer (from layer 0) is global.
    if (j.contains("layer_types") && !j["layer_types"].is_null()) {
      const auto& t = j["layer_types"];
      if (!t.is_array() || t.size() != static_cast<std::size_t>(c.layers))
        throw Error(where + ": field 'layer_types' must be a list of num_hidden_layers (" + std::to_string(c.layers) +
                    ") strings");
      for (const auto& e : t) {
        const std::string s = e.is_string() ? e.get<std::string>() : std::string();
        if (s != "full_attention" && s != "sliding_attention")
          throw Error(where + ": field 'layer_types' holds '" + (e.is_string() ? s : e.dump()) +
                      "' (each must be 'full_attention' or 'sliding_attention')");
        p->local.push_back(s == "sliding_attention");
      }
    } else {
      const int every = config_int(j, "global_attn_every_n_layers", where, 1, 1 << 20, 3);
      for (int l = 0; l < c.layers; ++l) p->local.push_back(l % every != 0);
    }
    const bool any_local = std::find(p->local.begin(), p->local.end(), true) != p->local.end();
    const int local_attention = config_int(j, "local_attention", where, any_local ? 2 : 0, 1 << 21, 128);
    p->window = local_attention / 2;

    // Thetas: global_rope_theta / local_rope_theta (4.x; a null local one is the global
    // one, as 4.x does) or rope_parameters per layer type (5.x).
    p->global_theta = config_float(j, "global_rope_theta", where, 1.f, 1e12f, 160000.f);
    const bool local_null = j.contains("local_rope_theta") && j["local_rope_theta"].is_null();
    p->local_theta = local_null ? p->global_theta : config_float(j, "local_rope_theta", where, 1.f, 1e12f, 10000.f);
    if (j.contains("rope_parameters") && !j["rope_parameters"].is_null()) {
      const auto& r = j["rope_parameters"];
      const std::string w = where + ": rope_parameters";
      if (!r.is_object()) throw Error(w + " must be an object or null");
      if (r.contains("full_attention") || r.contains("sliding_attention")) {
        if (r.contains("full_attention"))
          p->global_theta = rope_entry_theta(r["full_attention"], w + ".full_attention", p->global_theta);
        if (r.contains("sliding_attention"))
          p->local_theta = rope_entry_theta(r["sliding_attention"], w + ".sliding_attention", p->local_theta);
      } else {  // one entry for every layer
        p->global_theta = p->local_theta = rope_entry_theta(r, w, p->global_theta);
      }
    }
    if (j.contains("rope_scaling") && !j["rope_scaling"].is_null())
      rope_entry_theta(j["rope_scaling"], where + ": rope_scaling", 1.f);  // only "default" passes

    finish(c, p);
    return c;
  }

  std::vector<std::pair<std::string, ModelConfig>> synthetic_shapes() const override {
    std::vector<std::pair<std::string, ModelConfig>> r;
    auto add = [&](const char* name, int layers, int hidden, int heads, int inter, int vocab, int maxpos, int every,
                   int local_attention, bool mean, int cls, int sep, int pad) {
      ModelConfig c;
      auto p = std::make_shared<ModernBertParams>();
      c.layers = layers;
      c.hidden = hidden;
      c.heads = heads;
      c.intermediate = inter;
      c.vocab_size = vocab;
      c.max_position_embeddings = maxpos;
      c.norm_eps = 1e-5f;
      c.pad_token_id = pad;
      for (int l = 0; l < layers; ++l) p->local.push_back(l % every != 0);
      p->window = local_attention / 2;
      p->mean_pool = mean;
      p->cls_id = cls;
      p->sep_id = sep;
      finish(c, p);
      r.emplace_back(name, c);
    };
    // The published shape (Alibaba-NLP/gte-reranker-modernbert-base: ModernBERT-base with
    // mean pooling) and a tiny one with the built-in tokenizer's special ids.
    add("gte-reranker-modernbert-base", 22, 768, 12, 1152, 50368, 8192, 3, 128, true, 50281, 50282, 50283);
    add("tiny-modernbert", 4, 32, 4, 48, 2048, 1024, 3, 16, false, 2001, 2002, 2003);
    return r;
  }

  std::vector<TensorSpec> tensors(const ModelConfig& c) const override {
    const ModernBertParams& p = modernbert_params(c);
    const std::int64_t H = c.hidden, I = c.intermediate;
    std::vector<TensorSpec> s;
    auto add = [&](std::string name, std::vector<std::int64_t> shape) {
      TensorSpec t;
      // ModernBertModel checkpoints name the base model without "model.".
      if (name.rfind("model.", 0) == 0) t.aliases.push_back(name.substr(6));
      t.name = std::move(name);
      t.shape = std::move(shape);
      s.push_back(std::move(t));
    };
    auto norm = [&](const std::string& n) {
      add(n + ".weight", {H});
      if (p.norm_bias) add(n + ".bias", {H});
    };
    auto lin = [&](const std::string& n, std::int64_t out, std::int64_t in, bool bias) {
      add(n + ".weight", {out, in});
      if (bias) add(n + ".bias", {out});
    };
    add("model.embeddings.tok_embeddings.weight", {c.vocab_size, H});
    norm("model.embeddings.norm");
    for (int l = 0; l < c.layers; ++l) {
      const std::string q = "model.layers." + std::to_string(l) + ".";
      if (l > 0) norm(q + "attn_norm");  // identity in layer 0
      lin(q + "attn.Wqkv", 3 * H, H, p.attention_bias);
      lin(q + "attn.Wo", H, H, p.attention_bias);
      norm(q + "mlp_norm");
      lin(q + "mlp.Wi", 2 * I, H, p.mlp_bias);
      lin(q + "mlp.Wo", H, I, p.mlp_bias);
    }
    norm("model.final_norm");
    lin("head.dense", H, H, p.classifier_bias);
    norm("head.norm");
    lin("classifier", 1, H, true);
    return s;
  }

  void check_tokenizer(const Tokenizer& tok, const ModelConfig& c) const override {
    if (tok.special().cls < 0 || tok.special().sep < 0)
      throw Error("the tokenizer has no [CLS]/[SEP] tokens (tokenizer.json's post_processor names none), which the "
                  "ModernBERT pair template needs");
    if (tok.vocab_size() > c.vocab_size)
      throw Error("tokenizer has " + std::to_string(tok.vocab_size()) + " ids but the model's vocab_size is " +
                  std::to_string(c.vocab_size));
  }

  int template_tokens(const Tokenizer*, const ModelConfig&, const ScoreOptions&) const override { return 3; }

  EncodedPair encode(const Tokenizer& tok, const ModelConfig& c, std::string_view query, std::string_view document,
                     const ScoreOptions& o) const override {
    return encode_template_pair(tok, pair_template(tok), c, query, document, longest_first(o));
  }

  std::vector<EncodedPair> encode_chunks(const Tokenizer& tok, const ModelConfig& c, std::string_view query,
                                         std::string_view document, const ScoreOptions& o) const override {
    return encode_template_chunks(tok, pair_template(tok), c, query, document, o);
  }

  // Rotary positions 0, 1, ... of each sequence.
  void positions(const int32_t*, int n, int start, const ModelConfig&, std::vector<int32_t>& out) const override {
    for (int i = 0; i < n; ++i) out.push_back(start + i);
  }

  int type_vocab(const ModelConfig&) const override { return 1; }
  bool ffn_gated() const override { return true; }

  std::unique_ptr<Model> build(const ModelConfig& c, const TensorMap& t, Ops& ops,
                               const BuildOptions& o) const override {
    return build_modernbert_model(c, t, ops, o.last_layer_shortcut);
  }

  // The built-in tokenizer of the synthetic shapes: the byte-level BPE of
  // tests/data/models/tiny-modernbert-bpe (ModernBERT's tokenizer layout on a 2k vocabulary).
  std::unique_ptr<Tokenizer> synthetic_tokenizer(const ModelConfig&) const override {
    return load_tokenizer_json_text(builtin_tokenizer_json("modernbert-bpe"), "<built-in modernbert-bpe tokenizer>");
  }

  EncodedPair fixed_len_pair(const ModelConfig& c, const Tokenizer* tok, int len, std::uint64_t seed) const override {
    const ModernBertParams& p = modernbert_params(c);
    int32_t cls = p.cls_id, sep = p.sep_id;
    if (tok && tok->special().cls >= 0 && tok->special().sep >= 0) {
      cls = tok->special().cls;
      sep = tok->special().sep;
    }
    // Content ids below the special tokens (ModernBERT's sit after the ordinary vocabulary).
    const int32_t hi = std::max<int32_t>(2, std::min({c.vocab_size, cls, sep}));
    return fixed_len_from_template({cls}, {sep}, {sep}, len, c.max_length, std::min(100, hi / 2), hi, 0, seed);
  }

  // Per layer: Q/K/V/O projections, the GeGLU FFN, and attention over min(L, 2 window + 1)
  // keys on local layers (L on global ones); head: dense + classifier.
  double pair_flops(const ModelConfig& c, double L) const override {
    const ModernBertParams& p = modernbert_params(c);
    const double H = c.hidden, I = c.intermediate;
    double f = 0;
    for (int l = 0; l < c.layers; ++l) {
      const double keys = p.local[static_cast<std::size_t>(l)] ? std::min(L, 2.0 * p.window + 1) : L;
      f += 2.0 * L * (4.0 * H * H + 3.0 * H * I) + 4.0 * L * keys * H;
    }
    return f + 2.0 * (H * H + H);
  }
  std::string flops_formula() const override {
    return "FLOPs per pair of L tokens = sum over layers of (2*L*(4*H^2 + 3*H*I) + 4*L*K*H), K = L on global "
           "layers and min(L, local_attention + 1) on sliding-window layers, plus 2*(H^2 + H) for the head (H "
           "hidden, I intermediate; embeddings, norms, softmax and activations not counted)";
  }

 private:
  static PairTemplate pair_template(const Tokenizer& tok) {
    PairTemplate t;
    t.cls = tok.special().cls;
    t.sep = tok.special().sep;
    return t;  // [CLS] q [SEP] d [SEP], all token types 0 (ModernBERT has none)
  }
  // Why: sentence-transformers' CrossEncoder (and TEI) cut ModernBERT pairs longest_first;
  // FlagEmbedding's rule (crossrank's default) belongs to BGE models, so this family uses
  // longest_first whatever o.truncation says.
  static ScoreOptions longest_first(ScoreOptions o) {
    o.truncation = Truncation::kLongestFirst;
    return o;
  }
  static void finish(ModelConfig& c, const std::shared_ptr<ModernBertParams>& p) {
    c.arch = &modernbert_architecture();
    c.architecture = "ModernBertForSequenceClassification";
    c.kv_heads = c.heads;
    c.head_dim = c.hidden / c.heads;
    c.type_vocab_size = 1;
    c.rope_theta = p->global_theta;
    c.max_length = c.max_position_embeddings;
    c.family_params = p;
  }
};

}  // namespace

const Architecture& modernbert_architecture() {
  static const ModernBertArchitecture a;
  return a;
}

const ModernBertParams& modernbert_params(const ModelConfig& c) {
  const auto* p = dynamic_cast<const ModernBertParams*>(c.family_params.get());
  check(p != nullptr, "internal: not a ModernBERT config");
  return *p;
}

}  // namespace crossrank
