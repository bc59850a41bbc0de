#pragma once
// The HTTP/1.1 request framing rules of the server, shared by the live connections
// (src/server/http.cc) and the fuzz target (tests/fuzz/http_fuzz.cc), so the fuzzer
// exercises exactly what a client reaches. Parsing is Boost.Beast's (RFC 9112: it refuses
// differing duplicate Content-Length values, Content-Length with Transfer-Encoding, a
// negative or non-decimal Content-Length, oversized headers); validate_head adds what
// Beast leaves to the application.
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace crossrank {

// A parsed request as the handlers see it (header names lower-cased).
struct HttpRequest {
  std::string method;   // as sent, e.g. "POST"
  std::string target;   // request-target as sent, e.g. "/rerank?x=1"
  std::string path;     // target up to '?'
  std::string query;    // after '?', "" when none
  int version = 11;     // 10 or 11
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Value of header `name` (lower-case), "" when absent.
  std::string_view header(std::string_view name) const;
  // Value of query parameter `key` (no percent-decoding), nullopt when absent.
  std::optional<std::string> query_param(std::string_view key) const;
};

// A response; Content-Length, Date-less minimal headers and Connection are added by the
// connection.
struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool close = false;  // close the connection after this response
  int delay_ms = 0;    // hold the response this long before writing it (a throttle for
                       // clients that retry a refusal at once; costs a timer, no thread)
};

using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

struct HttpLimits {
  std::size_t header_limit = 16 * 1024;  // request line + headers (431 above)
  std::size_t body_limit = 2000000;      // request body (413 above)
};

// Sets the parser's header and body limits. Call before reading.
void configure_parser(RequestParser& p, const HttpLimits& limits);

// Checks a complete request head beyond what Beast enforces: a Transfer-Encoding other
// than a final "chunked" (RFC 9112 6.1: 400), a request-target that is not origin-form.
// Returns the error status and message, or nullopt when the head is acceptable.
std::optional<std::pair<int, std::string>> validate_head(const RequestParser& p);

// Copies the head (and the body, when `with_body`) of a parsed message.
HttpRequest to_request(const RequestParser& p, bool with_body);

// Status and message for a Beast parse error (400, 413 body too large, 431 header too
// large).
std::pair<int, std::string> parse_error_status(const boost::system::error_code& ec);

// Reason phrase of a status code ("OK", "Too Many Requests", ...).
const char* reason_phrase(int status);
// ASCII case-insensitive equality (header values such as "100-continue", "chunked").
bool iequals_ascii(std::string_view a, std::string_view b);

}  // namespace crossrank
