// The HTTP listener: accepts connections (capped; over the cap a short 503), runs the I/O
// threads, and stops gracefully (requests being handled are answered first). Each
// connection's state machine is in http_connection.cc.
#include <sys/resource.h>
#include <sys/socket.h>

#include <chrono>
#include <future>
#include <system_error>

#include "server/http_internal.h"
#include "util/error.h"
#include "util/log.h"

namespace crossrank {

// ---- HttpServer ----

HttpServer::HttpServer(HttpServerOptions opts, HttpHandler& handler)
    : opts_(std::move(opts)), handler_(&handler), impl_(new Impl(*this)) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::Impl::accept() {
  acceptor.async_accept(asio::make_strand(io), [this](const boost::system::error_code& ec, tcp::socket s) {
    if (stopping) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      // EMFILE and friends: back off a little instead of spinning.
      log_warn(std::string("accept failed: ") + ec.message());
      auto t = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(50));
      t->async_wait([this, t](const boost::system::error_code&) { accept(); });
      return;
    }
    if (nconns.load() >= static_cast<std::size_t>(owner.opts_.max_connections)) {
      // Over the cap: a short 503 without reading anything, then close.
      static const char kBusy[] =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 64\r\n"
          "Connection: close\r\nRetry-After: 1\r\n\r\n"
          "{\"error\":\"too many open connections\",\"error_type\":\"Overloaded\"}";
      ::send(s.native_handle(), kBusy, sizeof kBusy - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
      boost::system::error_code ignored;
      s.shutdown(tcp::socket::shutdown_send, ignored);
      s.close(ignored);
    } else {
      boost::system::error_code ignored;
      s.set_option(tcp::no_delay(true), ignored);
      std::shared_ptr<HttpConnection> c;
      {
        std::lock_guard<std::mutex> lock(mu);
        const std::uint64_t id = next_id++;
        c = make_connection(*this, *owner.handler_, owner.opts_, std::move(s), id);
        conns.emplace(id, c);
        nconns = conns.size();
      }
      start_connection(c);
    }
    accept();
  });
}

int HttpServer::start() {
  Impl& m = *impl_;
  check(!m.started, "HTTP server already started");
  check(opts_.port >= 0 && opts_.port <= 65535,
        "cannot listen on port " + std::to_string(opts_.port) + ": a port is in [0, 65535] (0: any free port)");
  // Every connection is a descriptor: make sure the cap is reachable.
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  boost::system::error_code ec;
  const auto addr = asio::ip::make_address(opts_.host, ec);
  if (ec) throw Error("cannot listen on " + opts_.host + ": not an IP address");
  const tcp::endpoint ep(addr, static_cast<unsigned short>(opts_.port));
  m.acceptor.open(ep.protocol(), ec);
  // SO_REUSEADDR only (not SO_REUSEPORT): a second server on the same port must fail.
  if (!ec) m.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) m.acceptor.bind(ep, ec);
  if (!ec) m.acceptor.listen(1024, ec);
  if (ec)
    throw Error("cannot listen on " + opts_.host + ":" + std::to_string(opts_.port) + " (" + ec.message() + ")");
  // Started (so stop() has a loop to wait for) only once listening: a start that threw
  // left stop() waiting for I/O threads that never ran (serve --host 999.1.1.1 printed its
  // error and hung, 2026-12-08).
  m.started = true;
  const int port = m.acceptor.local_endpoint().port();
  m.accept();
  const int n = std::max(1, opts_.io_threads);
  try {
    for (int i = 0; i < n; ++i) m.threads.emplace_back([&m] { m.io.run(); });
  } catch (const std::system_error& e) {  // e.g. the process limit (ulimit -u) reached
    const std::size_t got = m.threads.size();
    m.io.stop();
    for (auto& t : m.threads) t.join();
    m.threads.clear();
    m.started = false;  // nothing for stop() to wait for
    throw Error("cannot start " + std::to_string(n) + " HTTP threads (started " + std::to_string(got) +
                "): " + e.what());
  }
  return port;
}

void HttpServer::stop() {
  Impl& m = *impl_;
  if (!m.started || m.stopped) return;
  m.stopped = true;
  m.stopping = true;
  // Close the listening socket on the loop (the acceptor is not thread-safe) and wait for
  // it, so that no connection is accepted once stop() is past this point.
  auto closed = std::make_shared<std::promise<void>>();
  std::future<void> acceptor_closed = closed->get_future();
  asio::post(m.io, [&m, closed] {
    boost::system::error_code ignored;
    m.acceptor.close(ignored);
    closed->set_value();
  });
  acceptor_closed.wait_for(std::chrono::seconds(10));
  std::vector<std::shared_ptr<HttpConnection>> live;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    for (auto& [id, w] : m.conns)
      if (auto c = w.lock()) live.push_back(std::move(c));
  }
  for (auto& c : live) close_connection_if_idle(c);
  live.clear();
  {
    // Requests being handled are answered (the batcher still runs); their connections
    // then close (stopping). Bounded: a handler that never answers is a bug.
    std::unique_lock<std::mutex> lock(m.mu);
    m.cv.wait_for(lock, std::chrono::seconds(120), [&m] { return m.in_progress.load() == 0; });
    // Then let the connections close themselves (answered ones send FIN and drain for at
    // most 1 s; idle ones were told to close above).
    m.cv.wait_for(lock, std::chrono::seconds(2), [&m] { return m.conns.empty(); });
  }
  m.io.stop();
  for (auto& t : m.threads)
    if (t.joinable()) t.join();
  m.threads.clear();
}

std::size_t HttpServer::connections() const { return impl_->nconns.load(); }
std::size_t HttpServer::requests_in_progress() const { return impl_->in_progress.load(); }
boost::asio::io_context& HttpServer::io() { return impl_->io; }

}  // namespace crossrank
