// libFuzzer target: the Open Inference Protocol v2 wire format (src/server/v2.cc): infer
// bodies with JSON or binary tensor data, and /v2 paths. Input byte 0: bit 0 set = the
// body has a JSON header of length (byte 1 | byte 2 << 8) mod (body size + 1), as the
// Inference-Header-Content-Length header gives it; the rest is the body (and, as a path,
// its first line). Any failure other than a crossrank::ApiError of status 400 (a crash, a
// sanitizer report, another exception, a 2xx decode that breaks an invariant) is a bug.
// Build and run: scripts/fuzz.sh v2.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/api.h"
#include "server/errors.h"
#include "server/v2.h"

using namespace crossrank;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const bool binary = data[0] & 1;
  const std::string_view body(reinterpret_cast<const char*>(data + 3), size - 3);
  std::optional<std::size_t> header;
  if (binary) header = (static_cast<std::size_t>(data[1]) | static_cast<std::size_t>(data[2]) << 8) % (body.size() + 1);
  (void)parse_v2_path(body.substr(0, body.find('\n')));
  try {
    DecodeLimits lim;
    lim.max_documents = 64;
    lim.max_query_bytes = 4096;
    const V2InferRequest r = decode_v2_infer(body, header, "m", lim);
    if (r.rerank.query.empty() || r.rerank.query.size() > lim.max_query_bytes) __builtin_trap();
    if (r.rerank.documents.empty() || r.rerank.documents.size() > lim.max_documents) __builtin_trap();
    for (const auto& d : r.rerank.documents)
      if (d.empty() || utf8_error_offset(d) != std::string_view::npos) __builtin_trap();
    std::vector<double> scores(r.rerank.documents.size());
    for (size_t i = 0; i < scores.size(); ++i) scores[i] = static_cast<double>(i) - 1.5;
    const V2Response out = encode_v2_infer(r.id, r.binary_output, "m", scores);
    const std::size_t json_len = out.header_length.value_or(out.body.size());
    if (json_len > out.body.size()) __builtin_trap();
    (void)nlohmann::json::parse(out.body.substr(0, json_len));  // the JSON part is valid JSON
    if (out.header_length && out.body.size() - json_len != 4 * scores.size()) __builtin_trap();
  } catch (const ApiError& e) {
    if (e.status != 400) __builtin_trap();
    (void)nlohmann::json::parse(encode_error(Dialect::kV2, e));  // {"error": ...}, whatever the message
  }
  return 0;
}
