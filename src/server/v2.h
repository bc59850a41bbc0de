#pragma once
// Open Inference Protocol v2 (KServe v2 / Triton REST): the wire format, as pure
// functions (no engine, no sockets), unit-tested directly.
//
//   GET  /v2                                   server metadata {name, version, extensions}
//   GET  /v2/health/live, /v2/health/ready     200 {"live"|"ready": true}; ready 503 before warm-up
//   GET  /v2/models/{m}[/versions/{v}]          model metadata {name, versions, platform, inputs, outputs}
//   GET  /v2/models/{m}[/versions/{v}]/ready    200 {"name", "ready": true}
//   POST /v2/models/{m}[/versions/{v}]/infer    inputs  query     BYTES [1]
//                                                       documents BYTES [N]
//                                               output  scores    FP32  [N]  (input order)
// Request "parameters": normalize (bool, default false: raw logits), instruction (string),
// truncate (bool, default true), binary_data_output (bool, Triton). Tensor data is JSON
// (flat or nested arrays, row-major) or Triton's binary tensor extension: the JSON header
// is the first Inference-Header-Content-Length bytes of the body, each binary input has
// parameters.binary_data_size bytes after it, BYTES elements as <uint32 LE length><bytes>.
// Errors: {"error": "..."}: 400 for a bad request or tensor, 404 for an unknown model or
// version.
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/api.h"

namespace crossrank {

// The only model version: a served model has exactly one.
inline constexpr const char* kV2Version = "1";

// What a /v2 path asks for.
enum class V2Route { kServerMeta, kLive, kReady, kModelMeta, kModelReady, kInfer };

struct V2Path {
  V2Route route = V2Route::kServerMeta;
  std::string model;    // "" for the server routes
  std::string version;  // "" when the path has no /versions/{v}
};

// Parses a /v2 path (the rerank route /v2/rerank is not one: nullopt). Model and version
// segments are percent-decoded; nullopt for any other path under /v2 or outside it.
std::optional<V2Path> parse_v2_path(std::string_view path);

// The metrics route label of every infer path (one series, whatever the model name).
inline constexpr const char* kV2InferRoute = "/v2/models/{name}/infer";

// A decoded infer request: the rerank request (dialect kV2, raw_scores unless
// parameters.normalize) plus what the response must echo.
struct V2InferRequest {
  RerankRequest rerank;
  std::string id;              // the request's "id", echoed; "" when absent
  bool binary_output = false;  // scores as binary tensor data (Triton extension)
};

// Decodes an infer body for model `model`. `header_length` is the value of the
// Inference-Header-Content-Length header (nullopt: the whole body is JSON). Throws
// ApiError 400 naming the problem: not JSON, missing/unknown/duplicate input, wrong
// datatype or shape, data whose length does not match the shape, non-string or empty
// elements, binary sizes that do not add up, invalid UTF-8, more than
// limits.max_documents documents, an unknown requested output, a mistyped parameter.
V2InferRequest decode_v2_infer(std::string_view body, std::optional<std::size_t> header_length,
                               const std::string& model, const DecodeLimits& limits);

// The infer response: body, and the JSON header's length when the scores follow as binary
// data (nullopt for an all-JSON body).
struct V2Response {
  std::string body;
  std::optional<std::size_t> header_length;
};
// `id` is echoed when non-empty; `binary` sends the scores as binary tensor data.
V2Response encode_v2_infer(const std::string& id, bool binary, const std::string& model,
                           std::span<const double> scores);

// GET /v2: {"name": "crossrank", "version": `version`, "extensions"}.
std::string v2_server_metadata(const std::string& version);
// GET /v2/models/{m}: {name, versions ["1"], platform "crossrank", inputs, outputs}.
std::string v2_model_metadata(const std::string& model);

// {"error": message}, the protocol's error body.
std::string v2_error_body(const std::string& message);

}  // namespace crossrank
