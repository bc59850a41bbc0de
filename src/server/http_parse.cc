#include "server/http_parse.h"

#include <algorithm>
#include <boost/beast/http/error.hpp>
#include <cctype>

namespace crossrank {

namespace http = boost::beast::http;

std::string_view HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return {};
}

std::optional<std::string> HttpRequest::query_param(std::string_view key) const {
  std::string_view q = query;
  while (!q.empty()) {
    const std::size_t amp = q.find('&');
    const std::string_view kv = q.substr(0, amp);
    const std::size_t eq = kv.find('=');
    if (kv.substr(0, eq) == key) return std::string(eq == std::string_view::npos ? "" : kv.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

void configure_parser(RequestParser& p, const HttpLimits& limits) {
  p.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(limits.header_limit, UINT32_MAX)));
  p.body_limit(limits.body_limit);
}

namespace {
std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace

bool iequals_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

std::optional<std::pair<int, std::string>> validate_head(const RequestParser& p) {
  const auto& m = p.get();
  // Transfer-Encoding on a request: only a final "chunked" frames a body; anything else
  // leaves the length unknown (RFC 9112 6.3: respond 400 and close).
  const auto te = m.find(http::field::transfer_encoding);
  if (te != m.end() && !p.chunked())
    return std::make_pair(400, std::string("Transfer-Encoding other than a final \"chunked\" is not supported"));
  // A header present with a value other than `ok` (trimmed, any case).
  auto other_than = [&m](http::field f, std::string_view ok) {
    const auto it = m.find(f);
    return it != m.end() && !iequals_ascii(trim(std::string_view(it->value().data(), it->value().size())), ok);
  };
  // A coding before "chunked" (gzip, chunked) would hand the handler compressed bytes:
  // refused as unsupported, as a Content-Encoding is (RFC 9110 15.5.16: 415).
  if (other_than(http::field::transfer_encoding, "chunked"))
    return std::make_pair(501, std::string("Transfer-Encoding codings other than \"chunked\" are not supported"));
  if (other_than(http::field::content_encoding, "identity"))
    return std::make_pair(415, std::string("Content-Encoding is not supported: send the body uncompressed"));
  // Expect: only 100-continue is defined (RFC 9110 10.1.1: 417 for anything else).
  if (other_than(http::field::expect, "100-continue"))
    return std::make_pair(417, std::string("Expect: only \"100-continue\" is supported"));
  const std::string_view target(m.target().data(), m.target().size());
  if (target.empty() || (target.front() != '/' && target != "*"))
    return std::make_pair(400, std::string("request-target must start with '/' (origin-form)"));
  if (m.version() != 10 && m.version() != 11)
    return std::make_pair(505, std::string("HTTP version not supported (1.0 and 1.1 are)"));
  return std::nullopt;
}

HttpRequest to_request(const RequestParser& p, bool with_body) {
  const auto& m = p.get();
  HttpRequest r;
  r.method = std::string(m.method_string());
  r.target = std::string(m.target());
  const std::size_t q = r.target.find('?');
  r.path = r.target.substr(0, q);
  if (q != std::string::npos) r.query = r.target.substr(q + 1);
  r.version = static_cast<int>(m.version());
  for (const auto& f : m) {
    const auto n = f.name_string();
    const auto v = f.value();
    r.headers.emplace_back(lower(std::string_view(n.data(), n.size())), std::string(trim(std::string_view(v.data(), v.size()))));
  }
  if (with_body) r.body = m.body();
  return r;
}

std::pair<int, std::string> parse_error_status(const boost::system::error_code& ec) {
  if (ec == http::error::body_limit) return {413, "request body exceeds the payload limit"};
  if (ec == http::error::header_limit) return {431, "request header fields too large"};
  if (ec == http::error::bad_content_length) return {400, "bad Content-Length (negative, not a number, or conflicting values)"};
  if (ec == http::error::bad_transfer_encoding) return {400, "bad Transfer-Encoding (duplicate, or with Content-Length)"};
  if (ec == http::error::bad_method) return {400, "bad request method"};
  if (ec == http::error::bad_target) return {400, "bad request-target"};
  if (ec == http::error::bad_version) return {400, "bad HTTP version"};
  if (ec == http::error::bad_field || ec == http::error::bad_value) return {400, "bad header field"};
  if (ec == http::error::bad_line_ending) return {400, "bad line ending (CRLF expected)"};
  if (ec == http::error::bad_chunk || ec == http::error::bad_chunk_extension) return {400, "bad chunked encoding"};
  return {400, "malformed HTTP request: " + ec.message()};
}

const char* reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Entity";
    case 424: return "Failed Dependency";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

}  // namespace crossrank
