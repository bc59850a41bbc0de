#pragma once
// Decoder rerankers as data. One decoder forward pass (decoder_model.cc) parameterised by
// ModelConfig::dec (q/k norm, q/k/v biases, (1+w) RMSNorm, embedding scale, GLU activation,
// tied or untied head, head_dim, sliding window, soft-cap), three config dialects (Qwen3,
// Qwen2, Gemma; decoder.cc), and one Recipe per published reranker (recipes.cc): its HF
// classes, the names it is recognised by, its prompt, truncation rule and score. Several
// recipes may share one HF class (architecture.h resolve_architecture picks by name or
// --reranker). Adding a reranker is one Recipe entry; a new dialect is one parse function.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model/architecture.h"

namespace crossrank {

// Which config.json keys and tensor names a decoder uses.
enum class Dialect : std::uint8_t {
  kQwen3,  // Qwen3ForCausalLM / Qwen3ForSequenceClassification: q/k norm, head_dim key
  kQwen2,  // Qwen2ForCausalLM / Qwen2ForSequenceClassification: q/k/v biases
  kGemma,  // GemmaForCausalLM: (1+w) RMSNorm, embeddings x sqrt(hidden), GeGLU, tied head
};

// How a recipe turns the last token's hidden state into the score.
enum class ScoreKind : std::uint8_t {
  kTokenDiff,   // logit(pos) - logit(neg) of the LM head (Qwen3-Reranker, mxbai-rerank-v2)
  kTokenLogit,  // logit(pos) (bge-reranker-v2-gemma: "Yes")
  kClassifier,  // the `score` head of a *ForSequenceClassification (num_labels 1)
};

// Prompt layouts and their truncation rules.
enum class PromptRule : std::uint8_t {
  // The Qwen3-Reranker model card: prefix + "<Instruct>: I\n<Query>: q\n<Document>:" +
  // " " d + suffix; the body is cut from the right to max_length - prefix - suffix
  // (qwen3::build_prompt).
  kQwen3Card,
  // pre + Q + sep + D + post with pre = [<bos>] + prefix, post = sep + task + suffix (each
  // part tokenized on its own, as the reference code does): the reference's max_length M
  // is derived from crossrank's max_length L (RefMaxLength); Q is cut to M*3/4 tokens,
  // D to M, then only D is cut until the whole prompt fits L (transformers'
  // prepare_for_model 'only_second'): mxbai-rerank, FlagEmbedding's FlagLLMReranker.
  kQueryCap,
};

// For kQueryCap: the reference library's max_length M for a crossrank max_length L (which
// always bounds the whole prompt).
enum class RefMaxLength : std::uint8_t {
  kExcludesTemplate,  // M = L - |pre| - |post| (mxbai-rerank: its max_length excludes the template)
  kFlagLlm,           // M = L - 2 |post| (FlagLLMReranker caps q + sep + d at M + |sep + prompt|,
                      //  then appends sep + prompt once more)
};

// One published reranker, as data.
struct Recipe {
  std::string name;    // --reranker NAME
  std::string family;  // ModelInfo::family
  std::vector<std::string> hf_classes;
  std::vector<std::string> patterns;  // lowercase substrings of the model name that select it
  bool class_default = false;         // reads any model of its classes (seq-cls heads)
  Dialect dialect = Dialect::kQwen3;
  ScoreKind score = ScoreKind::kTokenDiff;
  std::string pos_text, neg_text;     // the score tokens as text ("yes" / "no")
  // Their ids in the published vocabulary (checked against the tokenizer); empty: looked
  // up in the tokenizer (each text must be one token).
  std::int32_t pos_id = -1, neg_id = -1;
  PromptRule rule = PromptRule::kQwen3Card;
  // kQueryCap prompt parts ("{query}", "{instruction}", "{document}" are substituted).
  bool bos = false;                   // the tokenizer's <bos> first
  std::string prefix, suffix;         // chat template around everything
  std::string query_format;           // without an instruction
  std::string query_instruction_format;  // with one ("" : the instruction goes to the task)
  std::string doc_format;
  std::string sep;
  std::string task;                   // after the second sep (may hold "{instruction}")
  std::string default_instruction;    // kQwen3Card body / "{instruction}" in task
  RefMaxLength ref_max = RefMaxLength::kExcludesTemplate;
  // Built-in synthetic shapes: name, layers, hidden, heads, kv heads, head_dim,
  // intermediate, tied, vocab, max positions, rope theta.
  struct Shape {
    std::string name;
    int layers, hidden, heads, kv, head_dim, inter;
    bool tied;
    int vocab, max_pos;
    float theta;
  };
  std::vector<Shape> shapes;
};

// Every decoder recipe's family, in registry order (architecture.cc lists them).
const std::vector<const Architecture*>& decoder_architectures();
// The recipe of a decoder family, or nullptr for other families.
const Recipe* recipe_of(const Architecture& a);

// Parses a decoder config.json of dialect `d` into `c` (ModelConfig::dec included); throws
// Error naming the field for missing, mistyped, absurd or unsupported values (decoder.cc).
void parse_decoder_config(Dialect d, const nlohmann::json& j, const std::string& where, ModelConfig& c);
// Tensors of a decoder of dialect `d`, in file order (decoder.cc).
std::vector<TensorSpec> decoder_tensors(Dialect d, const ModelConfig& c);

// The kQueryCap prompt from tokenized parts: pre + q + mid + d + post under o (see
// PromptRule::kQueryCap; M from `ref`). shared_prefix = pre + q + mid. Throws
// Error(kTooLong) when o.truncate is false and the prompt is longer than o.max_length.
EncodedPair build_query_cap_prompt(const std::vector<std::int32_t>& pre, std::vector<std::int32_t> q,
                                   const std::vector<std::int32_t>& mid, std::vector<std::int32_t> d,
                                   const std::vector<std::int32_t>& post, RefMaxLength ref, const ScoreOptions& o);

// The forward pass over `ops` (decoder_model.cc). last_layer_shortcut: the last layer runs
// attention output, MLP and norms on each sequence's last row only (K/V for every token).
std::unique_ptr<Model> build_decoder_model(const ModelConfig& c, const TensorMap& t, Ops& ops,
                                           bool last_layer_shortcut = true);

}  // namespace crossrank
