#pragma once
// What a model family *is*, in one object per family (instead of branches on an enum all
// over the code): config parsing, the tensor table, the pair/prompt template and its
// truncation, position ids, and the forward pass written once over the op interface
// (src/backend/ops.h). Families register in architecture.cc; adding one is one file pair
// under src/model/ plus its line there.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "batch/packed_batch.h"
#include "crossrank/crossrank.h"
#include "model/config.h"
#include "model/tensors.h"

namespace crossrank {

class Ops;
class Tokenizer;

// One tensor a family needs: canonical HF name, shape, other spellings files use.
struct TensorSpec {
  std::string name;
  std::vector<std::int64_t> shape;
  std::vector<std::string> aliases;  // e.g. without the "roberta." prefix, LayerNorm gamma/beta
  bool optional = false;             // absent in some files (e.g. a tied lm_head.weight)
};

// A model bound to one backend: its parameters prepared by that backend's Ops.
class Model {
 public:
  virtual ~Model() = default;
  // One raw fp32 logit per sequence of `batch` (prefix-only sequences included; the
  // runner drops them), computed with `ops` inside a pass (or a dry run).
  virtual std::vector<float> forward(Ops& ops, const PackedBatch& batch) const = 0;
};

// Model-level choices a runner may make (tests compare both settings).
struct BuildOptions {
  // Encoders: the last layer runs its attention output, FFN and norms on the pooled rows
  // only (exact; see build_encoder_model). Decoders: the same for the last rows.
  bool last_layer_shortcut = true;
};

class Architecture {
 public:
  virtual ~Architecture() = default;

  // Family name: "xlm-roberta", "bert", "qwen3".
  virtual const char* family() const = 0;
  // config.json "architectures"[0] values this family reads.
  virtual std::vector<std::string> hf_classes() const = 0;
  // Fills every field but arch/architecture from config.json; throws Error naming the
  // field for missing, mistyped or absurd values.
  virtual ModelConfig parse_config(const nlohmann::json& j, const std::string& where) const = 0;
  // Built-in synthetic shapes: (name, config).
  virtual std::vector<std::pair<std::string, ModelConfig>> synthetic_shapes() const = 0;
  // Every tensor of the model, in file order.
  virtual std::vector<TensorSpec> tensors(const ModelConfig& c) const = 0;

  // Throws Error when `tok` lacks what the template needs (special tokens, vocab size).
  virtual void check_tokenizer(const Tokenizer& tok, const ModelConfig& c) const = 0;
  // Tokens the template adds around the two texts under `o` (e.g. 4 for XLM-R); with no
  // tokenizer, a lower bound.
  virtual int template_tokens(const Tokenizer* tok, const ModelConfig& c, const ScoreOptions& o) const = 0;
  // Tokenizes one pair with the template and o's truncation rules. Throws Error for
  // empty or invalid-UTF-8 texts, a max_length outside the model's range, and
  // Error(kTooLong) when o.truncate is false and the pair is too long.
  virtual EncodedPair encode(const Tokenizer& tok, const ModelConfig& c, std::string_view query,
                             std::string_view document, const ScoreOptions& o) const = 0;
  // Long-document windows: the passage split into overlapping windows that each fit
  // with the query (o.max_length, o.chunk_overlap, o.max_chunks); one pair per window.
  virtual std::vector<EncodedPair> encode_chunks(const Tokenizer& tok, const ModelConfig& c, std::string_view query,
                                                 std::string_view document, const ScoreOptions& o) const = 0;
  // Position ids of one sequence's tokens ids[0..n), whose first token sits `start`
  // tokens into the logical sequence (after a shared prefix); appended to `out`.
  virtual void positions(const int32_t* ids, int n, int start, const ModelConfig& c,
                         std::vector<int32_t>& out) const = 0;
  // Whether pairs with equal EncodedPair::shared_prefix tokens may share them in a pass
  // (causal attention only).
  virtual bool shares_prefix() const { return false; }
  // Token type ids are used (BERT) or all zero.
  virtual int type_vocab(const ModelConfig& c) const { return c.type_vocab_size; }

  // Prepares the parameters on `ops` and returns the forward pass over them.
  virtual std::unique_ptr<Model> build(const ModelConfig& c, const TensorMap& t, Ops& ops,
                                       const BuildOptions& o = {}) const = 0;

  // ---- what the rest of crossrank asks a family (no family names outside src/model/) ----
  // The tokenizer of this family's synthetic shapes (which have no files): compiled into
  // the binary, or built from the shared data folder (src/util/paths.h). Throws Error
  // saying what is missing.
  virtual std::unique_ptr<Tokenizer> synthetic_tokenizer(const ModelConfig& c) const;
  // A bench input of exactly `len` tokens (--inputs len:N): the family's template around
  // content ids drawn from `seed` (13 % query, the rest document, as the seed-like
  // inputs). `tok` (may be null) supplies the special tokens. Throws Error when len is
  // outside [template minimum, c.max_length].
  virtual EncodedPair fixed_len_pair(const ModelConfig& c, const Tokenizer* tok, int len, std::uint64_t seed) const;
  // Forward FLOPs of one pair of L tokens (2 per multiply-add; GEMMs, attention and the
  // head), and that formula in words for the bench report. Default: a transformer layer
  // from the config (Q/K/V/O projections with grouped-query K/V, an FFN that is gated
  // when ffn_gated(), attention 4 L^2 Dq) plus a dense head.
  virtual double pair_flops(const ModelConfig& c, double L) const;
  virtual std::string flops_formula() const;
  virtual bool ffn_gated() const { return false; }
  // The real-weight quality gates this family passed per low precision (bench only
  // recommends a gated configuration). Empty string: gated; else why not.
  virtual std::string int8_gate_gap() const { return "no real-weight int8 gate for this family"; }

  // ---- recipes: published rerankers that share an HF class (decoders; model/decoder.h) ----
  // The name --reranker selects this family by ("" for a family that is not a recipe).
  virtual const char* recipe() const { return ""; }
  // Lowercase substrings of a model's name (folder or hub id) that select this family.
  virtual std::vector<std::string> name_patterns() const { return {}; }
  // Whether any model of hf_classes() gets this family whatever its name (false: a name
  // pattern or --reranker must select it, e.g. a *ForCausalLM reranker).
  virtual bool class_default() const { return true; }
  // After the tokenizer is loaded (and checked): fills what the model needs from it into
  // `c` (e.g. the ids of the score tokens). Throws Error when the tokenizer lacks them.
  virtual void bind_tokenizer(const Tokenizer& tok, ModelConfig& c) const { (void)tok, (void)c; }
};

// A pair/prompt of `len` tokens for bench inputs: `head` + n_q random ids + `mid` + n_d
// random ids + `tail` with n_q = round(13 % of the content), ids in [lo, vocab); type ids 0
// on the first text, `second_type` on the rest. Shared by the families' fixed_len_pair.
EncodedPair fixed_len_from_template(const std::vector<std::int32_t>& head, const std::vector<std::int32_t>& mid,
                                    const std::vector<std::int32_t>& tail, int len, int max_length, std::int32_t lo,
                                    std::int32_t vocab, int second_type, std::uint64_t seed);

// The first family reading HF class `hf_class`, or nullptr.
const Architecture* find_architecture(std::string_view hf_class);
// The family reading a model of HF class `hf_class` named by `hint` (config.h): the recipe
// hint.reranker names, else the first family of the class whose name pattern matches
// hint.name (its last path component, or the repository of a hub cache snapshot), else
// the class's default family, else (hint.name empty: a config parsed without a model
// name) the first family of the class. Throws Error listing the recipes when --reranker
// names none of this class, and when a named model matches no recipe of a class without a
// default (a *ForCausalLM that is no known reranker: never scored as one).
const Architecture* resolve_architecture(std::string_view hf_class, const ModelHint& hint, const std::string& where);
// Every recipe, "name (HFClass, ...)" comma-separated, for messages.
std::string recipe_list();
// Every registered family.
const std::vector<const Architecture*>& architectures();
// "XLMRobertaForSequenceClassification, ..." for error messages.
std::string supported_architectures();

// Tokenizer + template helpers shared by families (src/model/template_util.cc):
// validates max_length against [lo, c.max_length], non-empty valid-UTF-8 texts.
void check_pair_inputs(const ModelConfig& c, std::string_view query, std::string_view document, int max_length,
                       int lo);

struct PairTemplate;
// A text pair in template t (encoder cross-encoders: [CLS] q [SEP] d [SEP] and the like):
// inputs checked (check_pair_inputs), both texts tokenized, truncated by o (truncate_for).
EncodedPair encode_template_pair(const Tokenizer& tok, const PairTemplate& t, const ModelConfig& c,
                                 std::string_view query, std::string_view document, const ScoreOptions& o);
// Its long-document windows, one pair per window (chunk_windows).
std::vector<EncodedPair> encode_template_chunks(const Tokenizer& tok, const PairTemplate& t, const ModelConfig& c,
                                                std::string_view query, std::string_view document,
                                                const ScoreOptions& o);

}  // namespace crossrank
