#pragma once
// crossrank public API: load a cross-encoder reranker (a Hugging Face model folder, a Hub
// id "ORG/NAME[@REVISION]" or a "synthetic:NAME" model with seeded random weights) and
// score (query, passage) pairs.
// The surface is deliberately narrow: Engine, its options, and Error.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace crossrank {

// What kind of failure an Error is; front ends map it (the server to an HTTP status, in
// one place: src/server/errors.cc).
enum class ErrorCode {
  kInvalidInput,  // bad text, option, request field or file contents (the default)
  kTooLong,       // a pair exceeds max_length where truncation was turned off
  kNotFound,      // a file, model name or route that does not exist
  kUnsupported,   // a valid request this build/model/CPU cannot serve (dtype, architecture)
  kOutOfMemory,   // even a single pair does not fit in memory
  kOverloaded,    // admission refused (queue full); retry later
  kUnavailable,   // not ready / shutting down
  kInternal,      // a bug: please report
};

// Every user-facing failure (missing file, corrupt weights, bad input text, bad option)
// is thrown as Error with a one-line message naming the file/field and the problem.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg, ErrorCode code = ErrorCode::kInvalidInput)
      : std::runtime_error(msg), code_(code) {}
  Error(ErrorCode code, const std::string& msg) : std::runtime_error(msg), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// Compute precision of the forward pass. Logits and sigmoid are always fp32 or better.
enum class DType { kFp32, kBf16, kInt8, kFp16 };

// How a pair longer than max_length is cut.
//  kFlagEmbedding: query capped at max_length*3/4 tokens, then only the passage is cut
//                  (FlagEmbedding FlagReranker.compute_score, the default).
//  kLongestFirst:  HF tokenizers LongestFirst over the pair (TEI, sentence-transformers).
enum class Truncation { kFlagEmbedding, kLongestFirst };

// Which end of a text truncation removes tokens from (TEI's truncation_direction).
enum class TruncationSide { kRight, kLeft };

// Which backend runs the forward pass. kAuto picks CUDA when a GPU is usable, else the
// optimised CPU backend. kReference is the naive fp32 oracle used by tests.
enum class BackendKind { kAuto, kReference, kCpu, kCuda };

// What to do with a passage longer than the pair budget.
//  kTruncate: cut it (per Truncation); the default, as every peer does.
//  kChunk:    split it into overlapping windows, score each against the query, and give
//             the passage the max (Cohere's documented practice for long documents).
enum class LongDoc { kTruncate, kChunk };

// Parses "fp32|bf16|int8|fp16" / "auto|ref|cpu|cuda" / "flagembedding|longest_first";
// throw Error on anything else.
DType parse_dtype(std::string_view s);
BackendKind parse_backend(std::string_view s);
Truncation parse_truncation(std::string_view s);
LongDoc parse_long_doc(std::string_view s);  // "truncate" | "chunk"
const char* to_string(DType d);
const char* to_string(BackendKind b);
const char* to_string(Truncation t);

struct EngineOptions {
  BackendKind backend = BackendKind::kAuto;
  DType dtype = DType::kFp32;
  int threads = 0;                   // 0: all cores
  std::size_t memory_budget_mb = 0;  // activation budget per forward pass; 0: auto
  int device = 0;                    // CUDA device (backend cuda / auto); one engine per GPU
  // Batch-invariant scores: a pair's score is bit-identical whatever the batch size, the
  // other pairs, its position, the thread count and the token budget (same binary and
  // ISA level; README "Deterministic scores"). Backends without invariant kernels (cuda)
  // refuse it at open() with Error(kUnsupported).
  bool deterministic = false;
  // Decoder rerankers: the recipe (prompt, truncation, score) by name, e.g. "mxbai-rerank-v2",
  // for a model whose folder or hub name is not recognised; "": by name (docs/models.md).
  std::string reranker;
};

struct ScoreOptions {
  int max_length = 512;  // tokens per pair incl. special tokens; <= model limit
  Truncation truncation = Truncation::kFlagEmbedding;
  int batch_size = 32;         // pairs per forward pass (FlagEmbedding meaning)
  int max_batch_tokens = 0;    // extra cap on tokens per forward pass; 0: none
  bool normalize = false;      // sigmoid of the logit (computed in double)
  TruncationSide truncation_side = TruncationSide::kRight;  // which end of a text is cut
  bool truncate = true;        // false: a pair over max_length throws Error(kTooLong)
  int max_doc_tokens = 0;      // cap on passage tokens before pair truncation (Cohere
                               // max_tokens_per_doc); 0: none
  std::string instruction;     // decoder rerankers' task instruction; "": the model's default
  LongDoc long_doc = LongDoc::kTruncate;
  int chunk_overlap = 64;      // kChunk: tokens shared by neighbouring windows; < 0: a
                               // quarter of the window, at most 64
  int max_chunks = 256;        // kChunk: windows scored per passage (the rest is ignored)
};

struct Pair {
  std::string_view query;
  std::string_view document;
};

// A tokenized pair, ready for the model: ids with special tokens and token type ids.
// shared_prefix: leading tokens that depend only on the query and instruction (decoder
// rerankers: system prompt + instruction + query), identical for every passage of one
// query; 0 for encoders. Pairs with equal prefixes may share their K/V in one pass.
struct EncodedPair {
  std::vector<int32_t> ids;
  std::vector<int32_t> type_ids;
  int32_t shared_prefix = 0;
};

struct ModelInfo {
  std::string name;          // as given to Engine::open: folder path, hub id or "synthetic:NAME"
  std::string architecture;  // as config.json, e.g. "XLMRobertaForSequenceClassification"
  std::string family;        // "xlm-roberta" | "bert" | "modernbert" | "qwen3" | a decoder recipe's family
  int layers = 0, hidden = 0, heads = 0, kv_heads = 0, head_dim = 0, intermediate = 0, vocab_size = 0;
  int max_length = 0;        // longest pair the model accepts (positions), e.g. 8192
  std::int64_t parameters = 0;
};

class Engine {
 public:
  virtual ~Engine() = default;

  // Opens a model: a Hugging Face folder (config.json, model.safetensors, tokenizer files),
  // a Hub id "ORG/NAME[@REVISION]" (its snapshot folder in the Hugging Face cache, fetched
  // as huggingface_hub does unless HF_HUB_OFFLINE=1; docs/hub.md), or
  // "synthetic:bge-reranker-v2-m3|bge-reranker-base|ms-marco-MiniLM-L-6-v2|tiny-xlmr|tiny-bert".
  // Throws Error naming the file and problem on any failure.
  static std::unique_ptr<Engine> open(const std::string& model, const EngineOptions& opts = {});

  // Scores pairs; result[i] belongs to pairs[i] (raw logit, or sigmoid if normalize).
  // Sorts by length internally, packs without padding, and shrinks the batch (x3/4) if a
  // pass would not fit the memory budget. Throws Error for invalid UTF-8 or empty texts.
  virtual std::vector<double> score(std::span<const Pair> pairs, const ScoreOptions& opts = {}) = 0;

  // Tokenizes one pair with the model's template and truncation. Throws Error on bad text.
  virtual EncodedPair encode(std::string_view query, std::string_view document,
                             const ScoreOptions& opts) const = 0;

  // Long-document windows of one pair (ScoreOptions max_length, chunk_overlap, max_chunks):
  // the passage split into overlapping windows that each fit with the query; the pair's
  // score is the max over its windows. Throws Error as encode(). (Default, for test
  // doubles: the one window encode() gives.)
  virtual std::vector<EncodedPair> encode_chunks(std::string_view query, std::string_view document,
                                                 const ScoreOptions& opts) const {
    return {encode(query, document, opts)};
  }

  // Runs one forward pass over already-encoded pairs (no further batching); returns
  // raw fp32 logits in order. Used by the server's dynamic batcher and by tests.
  virtual std::vector<float> forward(std::span<const EncodedPair* const> batch) = 0;

  // Estimated peak activation bytes of one forward pass over `num_seqs` sequences of
  // `total_tokens` tokens, the longest `max_seqlen` (what the batch policy compares with
  // memory_budget()).
  // (Defaults, for test doubles: 0, unlimited, 2048.)
  virtual std::size_t activation_bytes(int total_tokens, int max_seqlen, int num_seqs) const { return 0; }
  // Activation memory one forward pass may use (EngineOptions::memory_budget_mb or auto).
  virtual std::size_t memory_budget() const { return SIZE_MAX; }
  // Tokens per forward pass the backend runs best at (CPU: a few thousand, so a pass stays
  // in cache; GPU: 16384 as TEI). Servers use it as their default token budget.
  virtual int preferred_batch_tokens() const { return 2048; }

  virtual const ModelInfo& info() const = 0;
  virtual DType dtype() const = 0;
  virtual BackendKind backend() const = 0;
  // One line on how it computes: backend, ISA, GEMM implementation, precision choices
  // (e.g. "cpu int8: kernels avx512_bf16, ..., SmoothQuant alpha 0.5 (calibrated), ...").
  virtual std::string describe() const { return ""; }
};

// Library version string, e.g. "0.1.0".
const char* version();

}  // namespace crossrank
