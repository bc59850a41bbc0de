// libFuzzer target: the HTTP request path up to the engine. Bytes are fed to the server's
// request parser (Beast, configured by configure_parser, in pieces as a socket would
// deliver them), the head is checked by validate_head and copied by to_request, and a
// rerank body goes through parse_body / detect_dialect / decode_rerank, errors through
// encode_error - the same calls src/server/http.cc and server.cc make. Anything escaping
// other than ApiError, and any sanitizer report, is a bug.
#include <boost/beast/core/buffers_prefix.hpp>
#include <boost/asio/buffer.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "server/api.h"
#include "server/errors.h"
#include "server/http_parse.h"

using namespace crossrank;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // Byte 0: size of the pieces the stream is cut into (1..256).
  const std::size_t piece = static_cast<std::size_t>(data[0]) + 1;
  const char* p = reinterpret_cast<const char*>(data + 1);
  std::size_t left = size - 1;
  HttpLimits limits;
  limits.header_limit = 4096;
  limits.body_limit = 65536;
  std::string pending;  // bytes received and not consumed by the parser yet
  while (true) {
    RequestParser parser;
    configure_parser(parser, limits);
    parser.eager(true);
    boost::system::error_code ec;
    bool head_checked = false;
    while (!parser.is_done()) {
      if (pending.empty()) {
        if (left == 0) return 0;  // the stream ended mid-request
        const std::size_t n = std::min(piece, left);
        pending.append(p, n);
        p += n;
        left -= n;
      }
      const std::size_t used = parser.put(boost::asio::buffer(pending), ec);
      if (ec == boost::beast::http::error::need_more) {
        ec = {};
        if (left == 0) return 0;
        const std::size_t n = std::min(piece, left);
        pending.append(p, n);
        p += n;
        left -= n;
        continue;
      }
      if (ec) {
        const auto [status, msg] = parse_error_status(ec);
        if (status < 400 || status > 599) __builtin_trap();
        (void)nlohmann::json::parse(encode_error(Dialect::kTei, ApiError(status, "Validation", msg)));
        return 0;  // the connection answers and closes
      }
      pending.erase(0, used);
      if (parser.is_header_done() && !head_checked) {
        head_checked = true;
        if (auto bad = validate_head(parser)) {
          if (bad->first < 400) __builtin_trap();
          return 0;
        }
        const HttpRequest head = to_request(parser, false);
        if (head.path.empty() || head.path.find('?') != std::string::npos) __builtin_trap();
        (void)head.query_param("model");
      }
    }
    HttpRequest req = to_request(parser, true);
    if (req.body.size() > limits.body_limit) __builtin_trap();
    if (req.method == "POST") {
      Dialect d = req.path == "/v2/rerank" ? Dialect::kCohere : req.path == "/v1/rerank" ? Dialect::kJina : Dialect::kTei;
      try {
        const nlohmann::json j = parse_body(req.body);
        if (req.path != "/v2/rerank" && req.path != "/v1/rerank") d = detect_dialect(j);
        DecodeLimits dl;
        dl.max_documents = 64;
        dl.max_query_bytes = 4096;
        const RerankRequest r = decode_rerank(j, d, dl);
        if (r.documents.empty() || r.query.empty()) __builtin_trap();
      } catch (const ApiError& e) {
        (void)nlohmann::json::parse(encode_error(d, e));
      }
    }
    if (!parser.get().keep_alive()) return 0;
  }
}
