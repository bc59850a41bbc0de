// XLM-RoBERTa and BERT cross-encoder families: config, tensor table, pair template.
#include "model/encoder.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "batch/encode.h"
#include "tokenizer/builtin_tokenizers.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_json.h"
#include "util/error.h"

namespace crossrank {
namespace {

bool ends_with(const std::string& s, const char* suf) {
  const std::size_t n = std::strlen(suf);
  return s.size() >= n && s.compare(s.size() - n, n, suf) == 0;
}

// Other spellings of a canonical name: without the base-model prefix, LayerNorm gamma/beta.
std::vector<std::string> aliases_of(const std::string& name, const char* prefix) {
  std::vector<std::string> out;
  std::vector<std::string> base{name};
  if (name.rfind(prefix, 0) == 0) base.push_back(name.substr(std::strlen(prefix)));
  for (const auto& b : base) {
    if (b != name) out.push_back(b);
    if (ends_with(b, "LayerNorm.weight")) out.push_back(b.substr(0, b.size() - 6) + "gamma");
    if (ends_with(b, "LayerNorm.bias")) out.push_back(b.substr(0, b.size() - 4) + "beta");
  }
  return out;
}

// jinaai's remote code names its config class XLMRobertaFlashConfig (config.json auto_map).
bool flash_layout_config(const nlohmann::json& j) {
  if (!j.contains("auto_map") || !j["auto_map"].is_object()) return false;
  for (const auto& [k, v] : j["auto_map"].items())
    if (v.is_string() && v.get<std::string>().find("XLMRobertaFlashConfig") != std::string::npos) return true;
  return false;
}

std::shared_ptr<const FamilyParams> layout_params(const EncoderLayout& l) {
  auto p = std::make_shared<EncoderParams>();
  p->layout = &l;
  return p;
}

class EncoderArchitecture final : public Architecture {
 public:
  explicit EncoderArchitecture(EncoderStyle s) : s_(std::move(s)) {}

  const char* family() const override { return s_.family; }
  std::vector<std::string> hf_classes() const override { return s_.hf_classes; }

  ModelConfig parse_config(const nlohmann::json& j, const std::string& where) const override {
    ModelConfig c;
    int labels = 1;
    if (j.contains("id2label") && j["id2label"].is_object()) labels = static_cast<int>(j["id2label"].size());
    if (j.contains("num_labels")) labels = config_int(j, "num_labels", where, 0, 1 << 20);
    if (labels != 1)
      throw Error(where + ": num_labels is " + std::to_string(labels) +
                  "; a reranker has exactly one label (one logit per pair)");
    // Bounds: far above any published encoder, low enough that no product overflows or
    // allocates absurdly before the tensors are checked against the file.
    c.vocab_size = config_int(j, "vocab_size", where, 1, 4'000'000);
    c.hidden = config_int(j, "hidden_size", where, 1, 65536);
    c.layers = config_int(j, "num_hidden_layers", where, 1, 1024);
    c.heads = config_int(j, "num_attention_heads", where, 1, 1024);
    c.intermediate = config_int(j, "intermediate_size", where, 1, 1 << 18);
    c.max_position_embeddings = config_int(j, "max_position_embeddings", where, 1, 1 << 20);
    c.type_vocab_size = config_int(j, "type_vocab_size", where, 1, 1024, 2);
    c.pad_token_id = config_int(j, "pad_token_id", where, 0, c.vocab_size - 1, s_.default_pad);
    c.norm_eps = config_float(j, "layer_norm_eps", where, 0.f, 1.f, s_.default_eps);
    const std::string act = j.contains("hidden_act") && j["hidden_act"].is_string()
                                ? j["hidden_act"].get<std::string>()
                                : std::string("gelu");
    if (act != "gelu")
      throw Error(ErrorCode::kUnsupported, where + ": hidden_act '" + act + "' is not supported (only exact erf 'gelu')");
    const std::string pet = j.contains("position_embedding_type") && j["position_embedding_type"].is_string()
                                ? j["position_embedding_type"].get<std::string>()
                                : std::string("absolute");
    if (pet != "absolute")
      throw Error(ErrorCode::kUnsupported,
                  where + ": position_embedding_type '" + pet + "' is not supported (only 'absolute')");
    if (c.hidden % c.heads != 0)
      throw Error(where + ": hidden_size " + std::to_string(c.hidden) + " is not a multiple of num_attention_heads " +
                  std::to_string(c.heads));
    finish(c);
    if (c.max_length < 2) throw Error(where + ": max_position_embeddings too small");
    if (s_.roberta_positions && flash_layout_config(j)) c.family_params = layout_params(flash_encoder_layout());
    return c;
  }

  std::vector<std::pair<std::string, ModelConfig>> synthetic_shapes() const override {
    std::vector<std::pair<std::string, ModelConfig>> r;
    auto add = [&](const char* name, int layers, int hidden, int heads, int inter, int vocab, int maxpos,
                   bool flash = false) {
      ModelConfig c;
      c.arch = this;
      c.architecture = s_.hf_classes.front();
      c.layers = layers;
      c.hidden = hidden;
      c.heads = heads;
      c.intermediate = inter;
      c.vocab_size = vocab;
      c.max_position_embeddings = maxpos;
      c.type_vocab_size = s_.default_type_vocab;
      c.pad_token_id = s_.default_pad;
      c.norm_eps = s_.default_eps;
      finish(c);
      if (flash) c.family_params = layout_params(flash_encoder_layout());
      r.emplace_back(name, c);
    };
    if (s_.roberta_positions) {
      add("bge-reranker-v2-m3", 24, 1024, 16, 4096, 250002, 8194);
      add("bge-reranker-base", 12, 768, 12, 3072, 250002, 514);
      add("tiny-xlmr", 2, 32, 4, 64, 8002, 1026);
      // jinaai/jina-reranker-v2-base-multilingual's shape in its flash layout, and a tiny one.
      add("jina-reranker-v2-base-multilingual", 12, 768, 12, 3072, 250002, 1026, true);
      add("tiny-jina-xlmr", 2, 32, 4, 64, 8002, 1026, true);
    } else {
      add("ms-marco-MiniLM-L-6-v2", 6, 384, 12, 1536, 30522, 512);
      add("tiny-bert", 2, 32, 4, 64, 30522, 512);
    }
    return r;
  }

  std::vector<TensorSpec> tensors(const ModelConfig& c) const override {
    const std::string p = s_.prefix;
    const EncoderLayout& y = encoder_layout(c);
    const std::int64_t H = c.hidden, I = c.intermediate;
    std::vector<TensorSpec> s;
    auto add = [&](std::string name, std::vector<std::int64_t> shape) {
      TensorSpec t;
      t.aliases = aliases_of(name, s_.prefix);
      t.name = std::move(name);
      t.shape = std::move(shape);
      s.push_back(std::move(t));
    };
    auto lin = [&](const std::string& n, std::int64_t out, std::int64_t in) {
      add(n + ".weight", {out, in});
      add(n + ".bias", {out});
    };
    add(p + "embeddings.word_embeddings.weight", {c.vocab_size, H});
    add(p + "embeddings.position_embeddings.weight", {c.max_position_embeddings, H});
    add(p + "embeddings.token_type_embeddings.weight", {c.type_vocab_size, H});
    add(p + y.emb_norm + ".weight", {H});
    add(p + y.emb_norm + ".bias", {H});
    for (int l = 0; l < c.layers; ++l) {
      const std::string q = p + y.layer + std::to_string(l) + ".";
      if (y.qkv) {
        lin(q + y.qkv, 3 * H, H);
      } else {
        for (const char* m : {y.q, y.k, y.v}) lin(q + m, H, H);
      }
      lin(q + y.attn_out, H, H);
      add(q + y.norm1 + ".weight", {H});
      add(q + y.norm1 + ".bias", {H});
      lin(q + y.ffn_in, I, H);
      lin(q + y.ffn_out, H, I);
      add(q + y.norm2 + ".weight", {H});
      add(q + y.norm2 + ".bias", {H});
    }
    if (s_.pooler_head) {
      add(p + "pooler.dense.weight", {H, H});
      add(p + "pooler.dense.bias", {H});
      add("classifier.weight", {1, H});
      add("classifier.bias", {1});
    } else {
      add("classifier.dense.weight", {H, H});
      add("classifier.dense.bias", {H});
      add("classifier.out_proj.weight", {1, H});
      add("classifier.out_proj.bias", {1});
    }
    return s;
  }

  void check_tokenizer(const Tokenizer& tok, const ModelConfig& c) const override {
    const SpecialTokens& sp = tok.special();
    if (sp.cls < 0 || sp.sep < 0)
      throw Error(std::string("the tokenizer has no ") + (s_.double_sep ? "<s>/</s>" : "[CLS]/[SEP]") +
                  " tokens, which the " + s_.family + " pair template needs");
    if (tok.vocab_size() > c.vocab_size)
      throw Error("tokenizer has " + std::to_string(tok.vocab_size()) + " ids but the model's vocab_size is " +
                  std::to_string(c.vocab_size));
  }

  int template_tokens(const Tokenizer*, const ModelConfig&, const ScoreOptions&) const override {
    return s_.double_sep ? 4 : 3;
  }

  EncodedPair encode(const Tokenizer& tok, const ModelConfig& c, std::string_view query, std::string_view document,
                     const ScoreOptions& o) const override {
    return encode_template_pair(tok, pair_template(tok), c, query, document, layout_truncation(c, o));
  }

  std::vector<EncodedPair> encode_chunks(const Tokenizer& tok, const ModelConfig& c, std::string_view query,
                                         std::string_view document, const ScoreOptions& o) const override {
    return encode_template_chunks(tok, pair_template(tok), c, query, document, o);
  }

  void positions(const int32_t* ids, int n, int start, const ModelConfig& c, std::vector<int32_t>& out) const override {
    if (s_.roberta_positions) {
      // As HF create_position_ids_from_input_ids: positions from padding_idx + 1, and a
      // <pad> id anywhere keeps position padding_idx and is not counted by later tokens.
      int counted = start;
      for (int i = 0; i < n; ++i)
        out.push_back(ids[i] == c.pad_token_id ? c.pad_token_id : c.pad_token_id + 1 + counted++);
    } else {
      for (int i = 0; i < n; ++i) out.push_back(start + i);
    }
  }

  std::unique_ptr<Model> build(const ModelConfig& c, const TensorMap& t, Ops& ops,
                               const BuildOptions& o) const override {
    return build_encoder_model(s_, c, t, ops, o.last_layer_shortcut);
  }

  const EncoderStyle& style() const { return s_; }

 private:
  // Why: jina-reranker-v2's own compute_score tokenizes pairs with truncation=True
  // (longest_first); FlagEmbedding's rule (crossrank's default) belongs to BGE models.
  static ScoreOptions layout_truncation(const ModelConfig& c, ScoreOptions o) {
    if (&encoder_layout(c) == &flash_encoder_layout()) o.truncation = Truncation::kLongestFirst;
    return o;
  }
  PairTemplate pair_template(const Tokenizer& tok) const {
    PairTemplate t;
    t.cls = tok.special().cls;
    t.sep = tok.special().sep;
    t.double_sep = s_.double_sep;
    t.second_type_one = s_.second_type_one;
    return t;
  }
  void finish(ModelConfig& c) const {
    c.kv_heads = c.heads;
    c.head_dim = c.hidden / c.heads;
    c.max_length = c.max_position_embeddings - (s_.roberta_positions ? c.pad_token_id + 1 : 0);
  }

  std::unique_ptr<Tokenizer> synthetic_tokenizer(const ModelConfig&) const override {
    return load_tokenizer_json_text(builtin_tokenizer_json(s_.builtin_tokenizer),
                                    std::string("<built-in ") + s_.builtin_tokenizer + " tokenizer>");
  }

  EncodedPair fixed_len_pair(const ModelConfig& c, const Tokenizer* tok, int len, std::uint64_t seed) const override {
    int32_t cls = s_.cls_id, sep = s_.sep_id;
    if (tok && tok->special().cls >= 0 && tok->special().sep >= 0) {
      cls = tok->special().cls;
      sep = tok->special().sep;
    }
    const std::vector<int32_t> mid = s_.double_sep ? std::vector<int32_t>{sep, sep} : std::vector<int32_t>{sep};
    return fixed_len_from_template({cls}, mid, {sep}, len, c.max_length, std::min(s_.content_lo, c.vocab_size / 2),
                                   c.vocab_size, s_.second_type_one ? 1 : 0, seed);
  }

  // int8 passed the real-weight gates on a BERT cross-encoder (all-MiniLM-L6-v2 weights,
  // docs/quality.md); XLM-R shares every op and the calibration.
  std::string int8_gate_gap() const override { return ""; }

  EncoderStyle s_;
};

}  // namespace

const EncoderLayout& hf_encoder_layout() {
  static const EncoderLayout l{"hf",
                               "embeddings.LayerNorm",
                               "encoder.layer.",
                               nullptr,
                               "attention.self.query",
                               "attention.self.key",
                               "attention.self.value",
                               "attention.output.dense",
                               "attention.output.LayerNorm",
                               "intermediate.dense",
                               "output.dense",
                               "output.LayerNorm"};
  return l;
}

const EncoderLayout& flash_encoder_layout() {
  static const EncoderLayout l{"flash",   "emb_ln",   "encoder.layers.", "mixer.Wqkv", nullptr,    nullptr,
                               nullptr,   "mixer.out_proj", "norm1",     "mlp.fc1",    "mlp.fc2", "norm2"};
  return l;
}

const EncoderLayout& encoder_layout(const ModelConfig& c) {
  const auto* p = dynamic_cast<const EncoderParams*>(c.family_params.get());
  return p && p->layout ? *p->layout : hf_encoder_layout();
}

const Architecture& xlm_roberta_architecture() {
  static const EncoderArchitecture a(EncoderStyle{"xlm-roberta",
                                                  {"XLMRobertaForSequenceClassification", "RobertaForSequenceClassification"},
                                                  "roberta.", true, true, false, false, 1e-5f, 1, 1, "xlmr-unigram", 0, 2, 5});
  return a;
}

const Architecture& bert_architecture() {
  static const EncoderArchitecture a(
      EncoderStyle{"bert", {"BertForSequenceClassification"}, "bert.", false, false, true, true, 1e-12f, 0, 2,
                   "bert-wordpiece", 101, 102, 1000});
  return a;
}

}  // namespace crossrank
