#include "server/errors.h"

#include <cstdio>

#include <nlohmann/json.hpp>

namespace crossrank {

using nlohmann::json;

ApiError to_api_error(const Error& e, Dialect d, const std::string& prefix) {
  const std::string msg = prefix + e.what();
  switch (e.code()) {
    case ErrorCode::kInvalidInput:
    case ErrorCode::kTooLong: return ApiError(d == Dialect::kV2 ? 400 : 422, "Validation", msg);
    case ErrorCode::kNotFound:
      return ApiError(d == Dialect::kJina ? 422 : d == Dialect::kInfinity ? 400 : 404, "NotFound", msg);
    case ErrorCode::kUnsupported: return ApiError(d == Dialect::kV2 ? 400 : 422, "Unsupported", msg);
    case ErrorCode::kOutOfMemory: return ApiError(424, "Backend", msg);
    case ErrorCode::kOverloaded: return ApiError(429, "Overloaded", msg);
    case ErrorCode::kUnavailable: return ApiError(503, "Unhealthy", msg);
    case ErrorCode::kInternal: return ApiError(500, "Internal", msg);
  }
  return ApiError(500, "Internal", msg);
}

namespace {
// OpenAI-style `type` of the Cohere/Jina/Infinity error object (as vLLM and llama.cpp).
const char* openai_type(int status) {
  switch (status) {
    case 400: case 405: case 408: case 413: case 422: case 431: return "invalid_request_error";
    case 401: return "authentication_error";
    case 404: return "not_found_error";
    case 429: return "overloaded_error";
    case 503: return "unavailable_error";
    default: return "server_error";
  }
}
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }
}  // namespace

std::string encode_error(Dialect d, const ApiError& e) {
  if (d == Dialect::kV2) return dump(json{{"error", e.what()}});
  if (d == Dialect::kTei) return dump(json{{"error", e.what()}, {"error_type", e.type}});
  json j = {{"message", e.what()},
            {"error", {{"message", e.what()}, {"type", openai_type(e.status)}, {"code", e.status}}}};
  // Jina's API (and FastAPI servers such as Infinity) put the message in "detail"; the
  // llama-index and langchain Jina clients read it (KeyError: 'detail' otherwise).
  if (d == Dialect::kJina || d == Dialect::kInfinity) j["detail"] = e.what();
  return dump(j);
}

std::vector<std::pair<std::string, std::string>> error_headers(int status) {
  if (status == 429 || status == 503) return {{"Retry-After", "1"}};
  if (status == 401) return {{"WWW-Authenticate", "Bearer"}};
  return {};
}

const char* outcome_of(int status) {
  switch (status) {
    case 400: return "empty";
    case 401: return "unauthorized";
    case 404: return "not_found";
    case 405: case 408: case 431: case 505: return "bad_request";
    case 413: return "too_large";
    case 422: return "validation";
    case 424: return "backend";
    case 429: return "overloaded";
    case 499: return "dropped";
    case 503: return "unhealthy";
    default: return status < 400 ? "success" : "internal";
  }
}

std::string printable_name(std::string_view name) {
  std::string out;
  for (std::size_t i = 0; i < name.size() && out.size() < 200; ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c >= 0x20 && c != 0x7f) {
      out += static_cast<char>(c);
      continue;
    }
    char b[8];
    std::snprintf(b, sizeof b, "\\x%02x", c);
    out += b;
  }
  return out;
}

}  // namespace crossrank
