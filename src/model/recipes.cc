// The published decoder rerankers, as data (one Recipe each), and the one Architecture
// that reads any of them: prompt, truncation, score tokens, synthetic shapes.
#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "backend/ops.h"
#include "batch/encode.h"
#include "model/decoder.h"
#include "model/qwen3.h"
#include "tokenizer/builtin_tokenizers.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_json.h"
#include "util/error.h"
#include "util/paths.h"

namespace crossrank {

namespace {

std::vector<Recipe> make_recipes() {
  std::vector<Recipe> all;
  // Qwen/Qwen3-Reranker-0.6B / 4B / 8B: the model card's prompt, logit("yes") - logit("no").
  Recipe q;
  q.name = "qwen3-reranker";
  q.family = "qwen3";
  q.hf_classes = {"Qwen3ForCausalLM"};
  q.patterns = {"qwen3-reranker"};
  q.dialect = Dialect::kQwen3;
  q.score = ScoreKind::kTokenDiff;
  q.pos_text = "yes", q.neg_text = "no", q.pos_id = qwen3::kYesId, q.neg_id = qwen3::kNoId;
  q.rule = PromptRule::kQwen3Card;
  q.prefix = qwen3::kPrefix, q.suffix = qwen3::kSuffix, q.default_instruction = qwen3::kDefaultInstruction;
  // vocab 151669: the real vocabulary, so the real tokenizer fits every shape.
  q.shapes = {{"qwen3-reranker-0.6b", 28, 1024, 16, 8, 128, 3072, true, 151669, 40960, 1e6f},
              {"qwen3-reranker-4b", 36, 2560, 32, 8, 128, 9728, true, 151669, 40960, 1e6f},
              {"qwen3-reranker-8b", 36, 4096, 32, 8, 128, 12288, false, 151669, 40960, 1e6f},
              // Test shapes: grouped-query heads, head_dim != hidden / heads, tied and untied heads.
              {"tiny-qwen3", 2, 64, 4, 2, 32, 128, true, 151669, 40960, 1e6f},
              {"tiny-qwen3-untied", 3, 96, 4, 1, 16, 160, false, 151669, 40960, 1e6f}};
  all.push_back(q);

  // Sequence-classification conversions of Qwen3-Reranker (e.g. tomaarsen/Qwen3-Reranker-0.6B-seq-cls:
  // score.weight = lm_head[yes] - lm_head[no]): the same prompt, the `score` head on the last
  // token. The default for any Qwen3/Qwen2 seq-cls model (it has a trained head).
  Recipe s = q;
  s.name = "qwen3-reranker-seq-cls";
  s.family = "qwen3-seq-cls";
  s.hf_classes = {"Qwen3ForSequenceClassification", "Qwen2ForSequenceClassification"};
  s.class_default = true;
  s.score = ScoreKind::kClassifier;
  s.shapes = {{"qwen3-reranker-0.6b-seq-cls", 28, 1024, 16, 8, 128, 3072, true, 151669, 40960, 1e6f},
              {"tiny-qwen3-seq-cls", 2, 64, 4, 2, 32, 128, false, 151669, 40960, 1e6f}};
  all.push_back(s);

  // mixedbread-ai/mxbai-rerank-base-v2 / large-v2 (the mxbai-rerank package, MxbaiRerankV2).
  Recipe m;
  m.name = "mxbai-rerank-v2";
  m.family = "mxbai-rerank-v2";
  m.hf_classes = {"Qwen2ForCausalLM"};
  m.patterns = {"mxbai-rerank"};
  m.dialect = Dialect::kQwen2;
  m.score = ScoreKind::kTokenDiff;
  m.pos_text = "1", m.neg_text = "0", m.pos_id = 16, m.neg_id = 15;  // Qwen byte-level ids of "1" / "0"
  m.rule = PromptRule::kQueryCap;
  m.prefix = "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
             "<|im_start|>user\n";
  m.suffix = "<|im_end|>\n<|im_start|>assistant\n";
  m.query_format = "query: {query}";
  m.query_instruction_format = "instruction: {instruction}\nquery: {query}";
  m.doc_format = "document: {document}";
  m.sep = "\n";
  m.task = "You are a search relevance expert who evaluates how well documents match search queries. For each "
           "query-document pair, carefully analyze the semantic relationship between them, then provide your "
           "binary relevance judgment (0 for not relevant, 1 for relevant).\nRelevance:";
  m.ref_max = RefMaxLength::kExcludesTemplate;
  // Qwen2.5-0.5B / 1.5B shapes (the published configs); tiny: q/k/v biases, GQA, head_dim 16.
  m.shapes = {{"mxbai-rerank-base-v2", 24, 896, 14, 2, 64, 4864, true, 151936, 32768, 1e6f},
              {"mxbai-rerank-large-v2", 28, 1536, 12, 2, 128, 8960, true, 151936, 32768, 1e6f},
              {"tiny-mxbai-rerank-v2", 2, 64, 4, 2, 16, 128, true, 151936, 32768, 1e6f}};
  all.push_back(m);

  // A sequence-classification conversion of mxbai-rerank-v2 (score = lm_head[1] - lm_head[0]).
  Recipe ms = m;
  ms.name = "mxbai-rerank-v2-seq-cls";
  ms.family = "mxbai-rerank-v2-seq-cls";
  ms.hf_classes = {"Qwen2ForSequenceClassification"};
  ms.score = ScoreKind::kClassifier;
  ms.shapes.clear();
  all.push_back(ms);

  // BAAI/bge-reranker-v2-gemma (FlagEmbedding's FlagLLMReranker): <bos> "A: " q "\n" "B: " d
  // "\n" prompt, logit("Yes") at the last token.
  Recipe g;
  g.name = "bge-reranker-v2-gemma";
  g.family = "bge-reranker-v2-gemma";
  g.hf_classes = {"GemmaForCausalLM"};
  g.patterns = {"bge-reranker-v2-gemma"};
  g.dialect = Dialect::kGemma;
  g.score = ScoreKind::kTokenLogit;
  g.pos_text = "Yes";
  g.rule = PromptRule::kQueryCap;
  g.bos = true;
  g.query_format = "A: {query}";
  g.doc_format = "B: {document}";
  g.sep = "\n";
  g.task = "{instruction}";
  g.default_instruction = "Given a query A and a passage B, determine whether the passage contains an answer to the "
                          "query by providing a prediction of either 'Yes' or 'No'.";
  g.ref_max = RefMaxLength::kFlagLlm;
  // The published shape (gemma-2b), and a scaled-down one for tests (head_dim != hidden/heads, MQA).
  g.shapes = {{"bge-reranker-v2-gemma", 18, 2048, 8, 1, 256, 16384, true, 256000, 8192, 1e4f},
              {"tiny-bge-reranker-v2-gemma", 2, 64, 4, 1, 32, 128, true, 512, 8192, 1e4f}};
  all.push_back(g);
  return all;
}

std::string substitute(std::string s, std::string_view key, std::string_view value) {
  for (std::size_t p = 0; (p = s.find(key, p)) != std::string::npos; p += value.size()) s.replace(p, key.size(), value);
  return s;
}

Dialect dialect_of(const std::string& cls, Dialect def) {
  if (cls.rfind("Qwen3", 0) == 0) return Dialect::kQwen3;
  if (cls.rfind("Qwen2", 0) == 0) return Dialect::kQwen2;
  if (cls.rfind("Gemma", 0) == 0) return Dialect::kGemma;
  return def;
}

class DecoderArchitecture final : public Architecture {
 public:
  explicit DecoderArchitecture(Recipe r) : r_(std::move(r)) {}
  const Recipe& recipe_data() const { return r_; }

  const char* family() const override { return r_.family.c_str(); }
  std::vector<std::string> hf_classes() const override { return r_.hf_classes; }
  const char* recipe() const override { return r_.name.c_str(); }
  std::vector<std::string> name_patterns() const override { return r_.patterns; }
  bool class_default() const override { return r_.class_default; }

  ModelConfig parse_config(const nlohmann::json& j, const std::string& where) const override {
    std::string cls;
    if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
        j["architectures"][0].is_string())
      cls = j["architectures"][0].get<std::string>();
    ModelConfig c;
    parse_decoder_config(dialect_of(cls, r_.dialect), j, where, c);
    if (r_.score == ScoreKind::kClassifier) {
      int n = 0;
      if (j.contains("id2label") && j["id2label"].is_object()) n = static_cast<int>(j["id2label"].size());
      n = config_int(j, "num_labels", where, 1, 1 << 20, n > 0 ? n : 1);
      if (n != 1)
        throw Error(ErrorCode::kUnsupported,
                    where + ": num_labels is " + std::to_string(n) + "; a reranker's score head has 1 label");
      c.dec.num_labels = 1;
    }
    const std::int32_t top = std::max(r_.pos_id, r_.neg_id);
    if (r_.score != ScoreKind::kClassifier && top >= c.vocab_size)
      throw Error(where + ": field 'vocab_size' is " + std::to_string(c.vocab_size) + "; the " + r_.name +
                  " score reads token id " + std::to_string(top));
    set_score_tokens(c);
    return c;
  }

  std::vector<std::pair<std::string, ModelConfig>> synthetic_shapes() const override {
    std::vector<std::pair<std::string, ModelConfig>> out;
    for (const Recipe::Shape& s : r_.shapes) {
      ModelConfig c;
      c.arch = this;
      c.architecture = r_.hf_classes.front();
      c.layers = s.layers, c.hidden = s.hidden, c.heads = s.heads, c.kv_heads = s.kv, c.head_dim = s.head_dim;
      c.intermediate = s.inter, c.vocab_size = s.vocab, c.max_position_embeddings = s.max_pos;
      c.type_vocab_size = 1, c.pad_token_id = 0, c.norm_eps = 1e-6f, c.rope_theta = s.theta;
      c.tie_word_embeddings = s.tied, c.max_length = s.max_pos;
      const Dialect d = dialect_of(c.architecture, r_.dialect);
      c.dec.qk_norm = d == Dialect::kQwen3, c.dec.qkv_bias = d == Dialect::kQwen2;
      c.dec.norm_offset = d == Dialect::kGemma ? 1.f : 0.f, c.dec.embed_scale = d == Dialect::kGemma;
      c.dec.act = static_cast<std::uint8_t>(d == Dialect::kGemma ? Activation::kGeluTanh : Activation::kSilu);
      c.dec.num_labels = r_.score == ScoreKind::kClassifier ? 1 : 0;
      set_score_tokens(c);
      out.emplace_back(s.name, c);
    }
    return out;
  }

  std::vector<TensorSpec> tensors(const ModelConfig& c) const override {
    return decoder_tensors(dialect_of(c.architecture, r_.dialect), c);
  }

  void check_tokenizer(const Tokenizer& tok, const ModelConfig& c) const override {
    if (tok.vocab_size() > c.vocab_size)
      throw Error("tokenizer has " + std::to_string(tok.vocab_size()) + " ids but the model's vocab_size is " +
                  std::to_string(c.vocab_size));
    if (r_.score != ScoreKind::kClassifier && r_.pos_id >= 0 &&
        (tok.id_to_token(r_.pos_id) != r_.pos_text || (r_.neg_id >= 0 && tok.id_to_token(r_.neg_id) != r_.neg_text)))
      throw Error("the tokenizer is not the one " + r_.name + " was published with: ids " + std::to_string(r_.pos_id) +
                  " / " + std::to_string(r_.neg_id) + " are '" + tok.id_to_token(r_.pos_id) + "' / '" +
                  tok.id_to_token(r_.neg_id) + "', the " + r_.name + " reranker scores with the tokens '" + r_.pos_text +
                  "' / '" + r_.neg_text + "' there");
    // Chat markers must be single added tokens, not text.
    for (const std::string* part : {&r_.prefix, &r_.suffix}) {
      if (part->rfind("<|", 0) != 0) continue;
      const std::string marker = part->substr(0, part->find("|>") + 2);
      const std::vector<int32_t> ids = tok.encode(*part);
      if (ids.empty() || tok.id_to_token(ids.front()) != marker)
        throw Error("the tokenizer does not know the chat token " + marker + " the " + r_.name + " prompt needs");
    }
    if (r_.bos && tok.token_to_id("<bos>") < 0)
      throw Error("the tokenizer has no <bos> token, which the " + r_.name + " prompt starts with");
  }

  void bind_tokenizer(const Tokenizer& tok, ModelConfig& c) const override {
    if (r_.score == ScoreKind::kClassifier || r_.pos_id >= 0) return;
    // As the reference: tokenizer(text, add_special_tokens=False)["input_ids"][0].
    auto one = [&](const std::string& text) {
      const std::vector<int32_t> ids = tok.encode(text);
      if (ids.size() != 1)
        throw Error("the " + r_.name + " score reads the logit of the token '" + text + "', which this tokenizer splits into " +
                    std::to_string(ids.size()) + " tokens");
      return ids.front();
    };
    c.dec.score_tokens = r_.neg_text.empty() ? std::vector<int32_t>{one(r_.pos_text)}
                                              : std::vector<int32_t>{one(r_.neg_text), one(r_.pos_text)};
  }

  int template_tokens(const Tokenizer* tok, const ModelConfig&, const ScoreOptions& o) const override {
    if (r_.rule == PromptRule::kQwen3Card) {
      // With the Qwen tokenizer: prefix 39 and suffix 9 tokens, plus the head's markers and
      // the instruction. Without one, a lower bound: prefix and suffix.
      if (!tok) return 48;
      return static_cast<int>(tok->encode(r_.prefix).size() + tok->encode(r_.suffix).size() +
                              tok->encode(qwen3::body_head(instruction(o), "")).size());
    }
    if (!tok) return 8;
    const Parts p = query_cap_parts(*tok, o);
    return static_cast<int>(p.pre.size() + p.mid.size() + p.post.size());
  }

  EncodedPair encode(const Tokenizer& tok, const ModelConfig& c, std::string_view query, std::string_view document,
                     const ScoreOptions& o) const override {
    if (r_.rule == PromptRule::kQwen3Card) {
      const Parts p = card_parts(tok, c, query, document, o);
      return qwen3::build_prompt(p.pre, tok.encode(qwen3::body_head(instruction(o), query)),
                                 tok.encode(qwen3::document_part(document)), p.post, o);
    }
    const Parts p = checked_query_cap_parts(tok, c, query, document, o);
    return build_query_cap_prompt(p.pre, tok.encode(query_text(query, o)), p.mid, tok.encode(doc_text(document)),
                                  p.post, r_.ref_max, o);
  }

  std::vector<EncodedPair> encode_chunks(const Tokenizer& tok, const ModelConfig& c, std::string_view query,
                                         std::string_view document, const ScoreOptions& o) const override {
    const bool card = r_.rule == PromptRule::kQwen3Card;
    const Parts p = card ? card_parts(tok, c, query, document, o) : checked_query_cap_parts(tok, c, query, document, o);
    std::vector<int32_t> doc = tok.encode(card ? qwen3::document_part(document) : doc_text(document));
    if (o.max_doc_tokens > 0) keep_tokens(doc, static_cast<std::size_t>(o.max_doc_tokens), o.truncation_side);
    const int fixed = static_cast<int>(p.pre.size() + p.mid.size() + p.post.size());
    std::vector<EncodedPair> out;
    ScoreOptions w = o;
    w.max_doc_tokens = 0;
    const std::vector<int32_t> head = tok.encode(card ? qwen3::body_head(instruction(o), query) : query_text(query, o));
    chunk_windows(head, doc, o, fixed, [&](const std::vector<int32_t>& h, const std::vector<int32_t>& part) {
      out.push_back(card ? qwen3::build_prompt(p.pre, h, part, p.post, w)
                         : build_query_cap_prompt(p.pre, h, p.mid, part, p.post, r_.ref_max, w));
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

  // Qwen's byte-level BPE (every Qwen recipe): the built-in tokenizer.json skeleton over the
  // real ranks, qwen.tiktoken, from the shared data folder.
  std::unique_ptr<Tokenizer> synthetic_tokenizer(const ModelConfig&) const override {
    if (r_.dialect == Dialect::kGemma)
      throw Error("synthetic " + r_.name + " model: no built-in Gemma tokenizer; set CROSSRANK_TOKENIZER_DIR to a "
                  "tokenizer folder");
    const std::string root = shared_data_root();
    const std::string ranks = root + "/models/qwen3-reranker/qwen.tiktoken";
    if (!root.empty() && std::ifstream(ranks).good())
      return load_bpe_tiktoken_text(ranks, builtin_tokenizer_json("qwen3-skeleton"),
                                    "<built-in qwen3 tokenizer skeleton>");
    throw Error("synthetic " + r_.name + " model: no Qwen vocabulary (" +
                (root.empty() ? std::string("no shared data folder") : ranks + " not found") +
                "; set CROSSRANK_SHARED_DIR to the shared/ folder or CROSSRANK_TOKENIZER_DIR to a Qwen tokenizer folder)");
  }

  // The prompt around random ids of the ordinary vocabulary (Qwen: below the special
  // tokens, which start at 151643).
  EncodedPair fixed_len_pair(const ModelConfig& c, const Tokenizer* tok, int len, std::uint64_t seed) const override {
    check(tok != nullptr, r_.name + " bench inputs need the tokenizer");
    const std::int32_t hi = r_.dialect == Dialect::kGemma ? tok->vocab_size() : std::min(c.vocab_size, 151643);
    const std::int32_t lo = std::min<std::int32_t>(1000, hi / 4);
    EncodedPair e;
    if (r_.rule == PromptRule::kQwen3Card) {
      std::vector<int32_t> head = tok->encode(r_.prefix);
      const std::string h = qwen3::body_head(r_.default_instruction, "");
      const std::size_t cut = h.find("\n<Document>:");
      const std::vector<int32_t> a = tok->encode(h.substr(0, cut)), mid = tok->encode(h.substr(cut));
      head.insert(head.end(), a.begin(), a.end());
      e = fixed_len_from_template(head, mid, tok->encode(r_.suffix), len, c.max_length, lo, hi, 0, seed);
    } else {
      const Parts p = query_cap_parts(*tok, ScoreOptions{});
      e = fixed_len_from_template(p.pre, p.mid, p.post, len, c.max_length, lo, hi, 0, seed);
    }
    e.shared_prefix = 0;
    return e;
  }

  std::unique_ptr<Model> build(const ModelConfig& c, const TensorMap& t, Ops& ops,
                               const BuildOptions& o) const override {
    if (r_.score != ScoreKind::kClassifier && c.dec.score_tokens.empty())
      throw Error("the " + r_.name + " model needs its tokenizer to find the score token '" + r_.pos_text + "'");
    return build_decoder_model(c, t, ops, o.last_layer_shortcut);
  }

 private:
  struct Parts {
    std::vector<int32_t> pre, mid, post;
  };

  void set_score_tokens(ModelConfig& c) const {
    c.dec.score_tokens.clear();
    if (r_.score == ScoreKind::kClassifier || r_.pos_id < 0) return;
    c.dec.score_tokens = r_.neg_id >= 0 ? std::vector<int32_t>{r_.neg_id, r_.pos_id} : std::vector<int32_t>{r_.pos_id};
  }
  std::string_view instruction(const ScoreOptions& o) const {
    return o.instruction.empty() ? std::string_view(r_.default_instruction) : std::string_view(o.instruction);
  }
  std::string query_text(std::string_view query, const ScoreOptions& o) const {
    const bool in_query = !o.instruction.empty() && !r_.query_instruction_format.empty();
    std::string s = substitute(in_query ? r_.query_instruction_format : r_.query_format, "{query}", query);
    return in_query ? substitute(s, "{instruction}", o.instruction) : s;
  }
  std::string doc_text(std::string_view document) const { return substitute(r_.doc_format, "{document}", document); }

  // kQueryCap: pre = [<bos>] + prefix, mid = sep, post = sep + task + suffix (each tokenized alone).
  Parts query_cap_parts(const Tokenizer& tok, const ScoreOptions& o) const {
    Parts p;
    if (r_.bos) {
      const int32_t bos = tok.token_to_id("<bos>");
      if (bos >= 0) p.pre.push_back(bos);
    }
    auto append = [&](std::vector<int32_t>& v, const std::string& text) {
      if (text.empty()) return;
      const std::vector<int32_t> ids = tok.encode(text);
      v.insert(v.end(), ids.begin(), ids.end());
    };
    append(p.pre, r_.prefix);
    append(p.mid, r_.sep);
    append(p.post, r_.sep);
    const bool to_task = r_.query_instruction_format.empty();
    append(p.post, substitute(r_.task, "{instruction}", to_task ? instruction(o) : std::string_view()));
    append(p.post, r_.suffix);
    return p;
  }
  // Validates the inputs; the fixed parts of the prompt.
  Parts checked_query_cap_parts(const Tokenizer& tok, const ModelConfig& c, std::string_view query,
                                std::string_view document, const ScoreOptions& o) const {
    check_utf8(o.instruction, "instruction");
    Parts p = query_cap_parts(tok, o);
    // At least a few tokens of the reference's max_length beyond the template.
    const std::size_t fixed = r_.ref_max == RefMaxLength::kFlagLlm ? 2 * p.post.size() : p.pre.size() + p.post.size();
    check_pair_inputs(c, query, document, o.max_length, static_cast<int>(std::max(fixed, p.pre.size() + p.mid.size() + p.post.size())) + 4);
    return p;
  }
  // kQwen3Card: validates the inputs; prefix and suffix (their chat markers are single added tokens).
  Parts card_parts(const Tokenizer& tok, const ModelConfig& c, std::string_view query, std::string_view document,
                   const ScoreOptions& o) const {
    check_utf8(o.instruction, "instruction");
    Parts p{tok.encode(r_.prefix), {}, tok.encode(r_.suffix)};
    // Room for the instruction's head and at least one token each of query and document.
    // Why: with only prefix + suffix + 1 (max_length 49), the instruction filled the body
    // and every pair got the same score, as the card's own code gives there (2026-12-08).
    const int head = static_cast<int>(tok.encode(qwen3::body_head(instruction(o), "")).size());
    const int lo = static_cast<int>(p.pre.size() + p.post.size()) + head + 2;
    check(o.max_length >= lo || o.max_length > c.max_length,
          "max_length " + std::to_string(o.max_length) + " leaves no room for the query and the document: the " +
              r_.name + " prompt and its instruction take " + std::to_string(lo - 2) + " tokens (max_length >= " +
              std::to_string(lo) + ")");
    check_pair_inputs(c, query, document, o.max_length, static_cast<int>(p.pre.size() + p.post.size()) + 1);
    return p;
  }

  Recipe r_;
};

const std::vector<std::unique_ptr<DecoderArchitecture>>& registry() {
  static const std::vector<std::unique_ptr<DecoderArchitecture>> all = [] {
    std::vector<std::unique_ptr<DecoderArchitecture>> v;
    for (Recipe& r : make_recipes()) v.push_back(std::make_unique<DecoderArchitecture>(std::move(r)));
    return v;
  }();
  return all;
}

}  // namespace

const std::vector<const Architecture*>& decoder_architectures() {
  static const std::vector<const Architecture*> all = [] {
    std::vector<const Architecture*> v;
    for (const auto& a : registry()) v.push_back(a.get());
    return v;
  }();
  return all;
}

const Recipe* recipe_of(const Architecture& a) {
  for (const auto& d : registry())
    if (d.get() == &a) return &d->recipe_data();
  return nullptr;
}

const Architecture& qwen3_architecture() { return *decoder_architectures().front(); }

}  // namespace crossrank
