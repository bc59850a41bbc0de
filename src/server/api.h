#pragma once
// Wire formats of the rerank routes: request decoding/validation and response encoding
// for the dialects. Pure functions (no engine, no sockets), unit-tested directly and
// fuzzed by tests/fuzz/request_fuzz.cc. The request fields are declared once
// (request_fields()); the decoder validates against that table and the OpenAPI document
// (src/server/openapi.cc) is generated from it, so the two cannot drift.
//
//   TEI       POST /rerank, /, /invocations  {query, texts, raw_scores, return_text,
//             truncate, truncation_direction, instruction, top_n?} -> [{index, score, text?}]
//             errors: {"error": msg, "error_type": "Validation"|"Empty"|...}
//   Infinity  POST /rerank (and / , /invocations) with a "documents" body: {model, query,
//             documents, top_n, return_documents, raw_scores, instruction} -> {object:
//             "rerank", id, created, model, usage, results: [{index, relevance_score,
//             document?: string}]} (Infinity's shape; litellm's infinity provider reads it)
//   Cohere    POST /v2/rerank  {model, query, documents, top_n, max_tokens_per_doc,
//             return_documents?, max_chunks_per_doc?, instruction} -> {id, results, meta}
//   Jina      POST /v1/rerank (Jina; Cohere v1 bodies too) {model, query, documents,
//             top_n, return_documents, max_chunks_per_doc?, instruction} -> {id, model,
//             usage, results: [{index, relevance_score, document?: {text}}], meta}
//   errors of Cohere/Jina/Infinity: {"message", "error": {message, type, code}} plus
//   "detail" (Jina, Infinity). See src/server/errors.h.
//   V2        POST /v2/models/{name}/infer (Open Inference Protocol, KServe/Triton): its
//             own decoder and encoder, src/server/v2.h; errors {"error": msg}, 400/404.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace crossrank {

enum class Dialect { kTei, kCohere, kJina, kInfinity, kV2 };
const char* to_string(Dialect d);

// A request failure with its HTTP status and TEI error_type (PascalCase):
// Validation 422, Empty 400, PayloadTooLarge 413, Unauthorized 401, NotFound 404,
// Overloaded 429, Backend 424, Unhealthy 503, Internal 500.
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string type, const std::string& message)
      : std::runtime_error(message), status(status), type(std::move(type)) {}
  int status;
  std::string type;
};

struct RerankRequest {
  Dialect dialect = Dialect::kTei;
  std::string model;                  // "" when absent
  std::string query;
  std::vector<std::string> documents;
  std::size_t top_n = 0;              // 0 = all
  bool raw_scores = false;            // TEI, Infinity: raw logits instead of sigmoid
  bool return_documents = false;      // TEI return_text / return_documents
  std::optional<bool> truncate;       // TEI; nullopt = server default (on)
  bool truncate_left = false;         // TEI truncation_direction "left"
  int max_tokens_per_doc = 0;         // Cohere; 0 = no cap
  int max_chunks_per_doc = 0;         // Cohere v1 / OVMS: > 0 turns on chunking; 0 = off
  std::string instruction;            // decoder rerankers (vLLM, SGLang); "" = default
};

struct DecodeLimits {
  std::size_t max_documents = 1000;   // --max-client-batch-size
  std::size_t max_query_bytes = 0;    // 0 = no limit (the server: 250 x --max-length)
};

// How one request field is typed and checked; the decoder and the OpenAPI generator read
// the same table.
enum class FieldType { kString, kBool, kInteger, kDocuments, kEnum };
struct FieldSpec {
  const char* name;
  FieldType type;
  unsigned dialects;          // bit (1 << Dialect) for each dialect that reads it
  bool required = false;      // required fields are never nullable; optional ones accept null
  std::int64_t min = 0;       // kInteger: smallest value; kString: min length
  std::int64_t max = 0;       // kInteger: largest value (0 = none); kString: max length (0 = none)
  std::vector<const char*> values;  // kEnum: accepted spellings
  const char* default_json = nullptr;  // JSON text of the default, for the document
  const char* description = "";
};
// Every request field of the rerank routes.
const std::vector<FieldSpec>& request_fields();
// Largest accepted value of the integer fields (top_n, max_tokens_per_doc, ...).
constexpr std::int64_t kMaxIntField = 2147483647;
// Largest accepted max_chunks_per_doc (windows scored per document).
constexpr std::int64_t kMaxChunksPerDoc = 256;

// Offset of the first malformed UTF-8 sequence in `s` (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF), or std::string_view::npos when it is all valid.
std::size_t utf8_error_offset(std::string_view s);

// Parses a request body; throws ApiError 422 naming the problem (invalid UTF-8 or not
// JSON, with the byte offset).
nlohmann::json parse_body(std::string_view body);

// Dialect of a body posted to /rerank (or / and /invocations): Infinity when it has
// "documents" and no "texts", else TEI.
Dialect detect_dialect(const nlohmann::json& body);

// Validates and decodes a parsed body for dialect `d`. Throws ApiError: 400 Empty for an
// empty document list, 422 Validation for anything else (missing/mistyped field, named,
// e.g. "`texts[3]` must be a string"; more than limits.max_documents documents; empty
// query or document; an integer above its maximum).
RerankRequest decode_rerank(const nlohmann::json& body, Dialect d, const DecodeLimits& limits);

// One ranked document: position in the request and its score (sigmoid or raw logit).
struct RankedResult {
  std::size_t index = 0;
  double score = 0;
};

// Sorts by score descending (ties: lower index first) and keeps the first top_n (0 = all).
std::vector<RankedResult> rank_scores(std::span<const double> scores, std::size_t top_n);

// Everything a response carries besides the ranking.
struct ResponseInfo {
  std::string id;            // request id, e.g. "rerank-<hex>"
  std::string model;         // served model name
  std::size_t tokens = 0;    // Σ tokens of the encoded pairs (usage / billed tokens)
  std::int64_t created = 0;  // unix seconds (Infinity)
};

// The success body of `req`'s dialect (see the file comment).
std::string encode_rerank_response(const RerankRequest& req, std::span<const RankedResult> ranked,
                                   const ResponseInfo& info);

// Sigmoid in double precision: 1 / (1 + exp(-z)).
double sigmoid(double z);

}  // namespace crossrank
