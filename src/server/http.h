#pragma once
// Event-driven HTTP/1.1 server on Boost.Asio + Boost.Beast (Debian libboost-dev): a few
// I/O threads multiplex every connection; no thread is ever tied to a client. Per
// connection: an idle (keep-alive) deadline, a deadline for the whole request head and
// one for the whole body (slow clients are cut off with 408, not waited for), strict
// framing (src/server/http_parse.h), a connection cap, Expect: 100-continue, pipelining,
// and half-closed clients (shutdown(SHUT_WR) after the request) still get their response.
// Requests are answered through a Responder that any thread may complete later (the
// batcher's completion callback), so nothing polls.
#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "server/http_parse.h"

namespace boost::asio {
class io_context;
}

namespace crossrank {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                 // 0 = ephemeral
  HttpLimits limits;
  double idle_timeout_s = 5;       // keep-alive: no byte of a next request for this long -> close
  double header_timeout_s = 10;    // the whole head must arrive within this (408 after)
  double body_timeout_s = 30;      // the whole body must arrive within this (408 after)
  double write_timeout_s = 30;     // a response must be taken by the client within this
  int max_connections = 4096;      // open connections; above it new ones get 503 and are closed
  int io_threads = 2;              // threads running the event loop
};

class HttpConnection;
struct PendingResponse;

// Completes one request. Copyable; call once (later calls are ignored), from any thread.
// If every copy is dropped uncalled, the client gets a 500.
class Responder {
 public:
  explicit Responder(std::shared_ptr<PendingResponse> p) : p_(std::move(p)) {}
  void operator()(HttpResponse r) const;
  // Runs `f` once if the client disconnects before the response is sent (a half-closed
  // client is not a disconnect). Runs at once if that already happened. Any thread.
  void on_abort(std::function<void()> f) const;
  // True once the client is known to be gone.
  bool aborted() const;

 private:
  std::shared_ptr<PendingResponse> p_;
};

class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  // On an I/O thread, once a request head is in and before its body is read. Must be
  // cheap and must not throw: returns a response to send without reading (or parsing) the
  // body (unknown route, method, auth, size or overload refusals), or nullopt to go on.
  virtual std::optional<HttpResponse> on_head(const HttpRequest& head) = 0;
  // On an I/O thread, with the complete request; answer through `respond`, now or later.
  // Must not throw.
  virtual void on_request(HttpRequest req, Responder respond) = 0;
  // The response for a framing error or timeout (status 400/408/413/431/505...) of a
  // request to `path` ("" when the request line was unreadable). Must not throw.
  virtual HttpResponse on_error(int status, const std::string& message, const std::string& path) = 0;
};

class HttpServer {
 public:
  // `handler` must outlive the server.
  HttpServer(HttpServerOptions opts, HttpHandler& handler);
  // stop().
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens, starts the I/O threads; returns the bound port. Throws Error when
  // the address cannot be bound.
  int start();
  // Stops accepting, closes connections that have no request being handled, waits for
  // the requests being handled to be answered, then stops the I/O threads. Idempotent.
  void stop();

  // Open connections, and requests read and not yet answered.
  std::size_t connections() const;
  std::size_t requests_in_progress() const;
  // The event loop (for timers of the handler, e.g. delayed refusals).
  boost::asio::io_context& io();
  const HttpServerOptions& options() const { return opts_; }

  // The listener's state (src/server/http_internal.h; not part of the interface).
  struct Impl;

 private:
  friend class HttpConnection;
  HttpServerOptions opts_;
  HttpHandler* handler_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace crossrank
