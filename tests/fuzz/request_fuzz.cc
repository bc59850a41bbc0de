// libFuzzer target: request decoding and response/error encoding of the rerank routes
// (src/server/api.cc). Input byte 0 picks the route's dialect (TEI / Cohere / Jina /
// auto-detect as on /rerank); the rest is the HTTP body. Any failure other than
// crossrank::ApiError (a crash, a sanitizer report, another exception escaping) is a bug.
// Build and run: scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "server/api.h"
#include "server/errors.h"

using namespace crossrank;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int mode = data[0] % 4;
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  Dialect d = mode == 1 ? Dialect::kCohere : mode == 2 ? Dialect::kJina : Dialect::kTei;  // 3: detected
  try {
    const nlohmann::json j = parse_body(body);
    if (mode == 3) d = detect_dialect(j);
    DecodeLimits lim;
    lim.max_documents = 64;
    const RerankRequest r = decode_rerank(j, d, lim);
    // Invariants of a decoded request.
    if (r.query.empty() || r.documents.empty() || r.documents.size() > lim.max_documents) __builtin_trap();
    for (const auto& doc : r.documents)
      if (doc.empty()) __builtin_trap();
    // Encode a response with deterministic fake scores (ties included).
    std::vector<double> scores(r.documents.size());
    for (size_t i = 0; i < scores.size(); ++i) scores[i] = static_cast<double>((i * 7919) % 5) / 4.0;
    const auto ranked = rank_scores(scores, r.top_n);
    if (ranked.size() > scores.size() || (r.top_n && ranked.size() > r.top_n)) __builtin_trap();
    for (size_t i = 1; i < ranked.size(); ++i)
      if (ranked[i - 1].score < ranked[i].score) __builtin_trap();
    ResponseInfo info;
    info.id = "rerank-fuzz";
    info.model = r.model;
    info.tokens = r.documents.size();
    const std::string out = encode_rerank_response(r, ranked, info);
    (void)nlohmann::json::parse(out);  // the response is valid JSON
  } catch (const ApiError& e) {
    if (e.status < 400 || e.status > 599) __builtin_trap();
    const std::string err = encode_error(d, e);
    (void)nlohmann::json::parse(err);  // error bodies are valid JSON, whatever the message
  }
  return 0;
}
