#pragma once
// The one place that turns failures into HTTP: crossrank::ErrorCode -> status and error
// type, and an ApiError -> the error body of each dialect. Handlers throw Error or
// ApiError; only the server's top-level catch (src/server/server.cc) calls these.
#include <string>
#include <string_view>

#include "crossrank/crossrank.h"
#include "server/api.h"

namespace crossrank {

// Status and TEI error_type of an engine error for a request of dialect `d`:
//   kInvalidInput 422 Validation   kTooLong 422 Validation   kNotFound 404 NotFound
//   (Jina 422, Infinity 400, as those servers answer an unknown model; V2: 400 for
//   kInvalidInput, kTooLong and kUnsupported, as the Open Inference Protocol answers a
//   bad request)
//   kUnsupported 422 Unsupported   kOutOfMemory 424 Backend  kOverloaded 429 Overloaded
//   kUnavailable 503 Unhealthy     kInternal 500 Internal
ApiError to_api_error(const Error& e, Dialect d, const std::string& prefix = "");

// `name` as it may appear inside an error message: control bytes (NUL included, which cut
// messages short once they passed through what()) as \xNN, at most 200 bytes.
std::string printable_name(std::string_view name);

// The error body of dialect `d` (see src/server/api.h for the shapes).
std::string encode_error(Dialect d, const ApiError& e);

// Extra response headers an error status carries (Retry-After on 429/503,
// WWW-Authenticate on 401, Allow on 405 is added by the router).
std::vector<std::pair<std::string, std::string>> error_headers(int status);

// Metrics outcome label of a status: success, empty, unauthorized, not_found, too_large,
// validation, backend, overloaded, dropped, unhealthy, internal, bad_request.
const char* outcome_of(int status);

}  // namespace crossrank
