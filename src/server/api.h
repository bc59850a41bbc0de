#pragma once
// Wire formats of the rerank routes: request decoding/validation and response/error
// encoding for the three dialects. Pure functions (no engine, no sockets), so they are
// unit-tested directly and fuzzed by tests/fuzz/request_fuzz.cc.
//
//   TEI      POST /rerank, /, /invocations   {query, texts, raw_scores, return_text,
//            truncate, truncation_direction, top_n?} -> [{index, score, text?}]
//            errors: {"error": msg, "error_type": "Validation"|"Empty"|...}
//   Cohere   POST /v2/rerank                  {model, query, documents, top_n,
//            max_tokens_per_doc, return_documents?} -> {id, results, meta}
//   Jina     POST /v1/rerank (and /rerank with a "documents" body; Cohere v1 bodies too)
//            {model, query, documents, top_n, return_documents} -> {id, model, usage,
//            results, meta}
//            errors (Cohere and Jina): {"message": msg, "error": {message, type, code}}
#include <cstddef>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace crossrank {

enum class Dialect { kTei, kCohere, kJina };
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
  std::string model;                  // "" when absent (any value is accepted)
  std::string query;
  std::vector<std::string> documents;
  std::size_t top_n = 0;              // 0 = all
  bool raw_scores = false;            // TEI only: raw logits instead of sigmoid
  bool return_documents = false;      // TEI return_text / Cohere+Jina return_documents
  std::optional<bool> truncate;       // TEI; nullopt = server default (on)
  bool truncate_left = false;         // TEI truncation_direction "left"
  int max_tokens_per_doc = 0;         // Cohere; 0 = no cap
};

struct DecodeLimits {
  std::size_t max_documents = 1000;  // --max-client-batch-size
};

// Parses a request body; throws ApiError 422 naming the problem (invalid UTF-8 or not
// JSON, with the byte offset).
nlohmann::json parse_body(std::string_view body);

// Dialect of a body posted to /rerank (or / and /invocations): Jina when it has
// "documents" and no "texts" (as llama.cpp decides), else TEI.
Dialect detect_dialect(const nlohmann::json& body);

// Validates and decodes a parsed body for dialect `d`. Throws ApiError: 400 Empty for an
// empty document list, 422 Validation for anything else (missing/mistyped field, named,
// e.g. "`texts[3]` must be a string"; more than limits.max_documents documents; empty
// query or document).
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
};

// The success body of `req`'s dialect (see the file comment).
std::string encode_rerank_response(const RerankRequest& req, std::span<const RankedResult> ranked,
                                   const ResponseInfo& info);

// The error body of dialect `d` for `e`.
std::string encode_error(Dialect d, const ApiError& e);

// Sigmoid in double precision: 1 / (1 + exp(-z)).
double sigmoid(double z);

}  // namespace crossrank
