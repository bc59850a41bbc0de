#pragma once
// Internals of the HTTP layer shared by http.cc (the listener: accept, start, stop) and
// http_connection.cc (one connection's state machine, the Responder plumbing).
#include <atomic>
#include <utility>

#include <boost/asio.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "server/http.h"

namespace crossrank {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct HttpServer::Impl {
  explicit Impl(HttpServer& o) : owner(o), acceptor(io) {}
  // Declaration order matters: io (and the handlers it still holds, which own
  // connections) is destroyed before the registry those connections unregister from.
  HttpServer& owner;
  std::mutex mu;  // guards conns; cv signals in_progress/conns changes
  std::condition_variable cv;
  std::unordered_map<std::uint64_t, std::weak_ptr<HttpConnection>> conns;
  std::uint64_t next_id = 0;
  std::atomic<std::size_t> nconns{0}, in_progress{0};
  std::atomic<bool> stopping{false};
  bool started = false, stopped = false;
  std::vector<std::thread> threads;
  asio::io_context io;
  tcp::acceptor acceptor;

  void accept();
  void remove(std::uint64_t id) {
    std::lock_guard<std::mutex> lock(mu);
    conns.erase(id);
    nconns = conns.size();
    cv.notify_all();
  }
};

struct PendingResponse {
  explicit PendingResponse(std::shared_ptr<HttpConnection> c) : conn(std::move(c)) {}
  ~PendingResponse();
  std::shared_ptr<HttpConnection> conn;
  std::atomic<bool> done{false};
  std::mutex mu;
  std::function<void()> abort_hook;
  bool aborted = false;
  void abort();
};

// A connection for the accepted socket `s`, registered by the caller under `id`; it
// unregisters itself (Impl::remove) when destroyed.
std::shared_ptr<HttpConnection> make_connection(HttpServer::Impl& srv, HttpHandler& h, const HttpServerOptions& o,
                                                tcp::socket s, std::uint64_t id);
// Starts reading requests on the connection's strand.
void start_connection(const std::shared_ptr<HttpConnection>& c);
// From any thread (stop()): closes the connection unless a request is being handled or
// answered.
void close_connection_if_idle(const std::shared_ptr<HttpConnection>& c);

}  // namespace crossrank
