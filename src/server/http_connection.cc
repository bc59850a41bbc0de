// One HttpConnection per TCP connection, all its handlers on one strand. Phases:
//   idle    waiting for the first byte of a request (idle_timeout_s; also the read that
//           notices a client going away while its request is handled)
//   head    reading the request head (header_timeout_s from its first byte)
//   body    reading the body (body_timeout_s), or draining it after a refusal
//   handle  the handler has the request; no deadline (the batcher answers)
//   write   writing the response (write_timeout_s)
//   closing FIN sent; discarding what the client still sends (1 s)
// A deadline that passes in head/body answers 408 and closes; otherwise it closes.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <chrono>
#include <future>

#include "server/http_internal.h"
#include "util/error.h"
#include "util/log.h"

namespace crossrank {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  HttpConnection(HttpServer::Impl& srv, HttpHandler& h, const HttpServerOptions& o, tcp::socket s, std::uint64_t id)
      : srv_(srv), handler_(h), opts_(o), sock_(std::move(s)), timer_(sock_.get_executor()), id_(id) {}
  ~HttpConnection() { srv_.remove(id_); }

  void start() { asio::dispatch(sock_.get_executor(), [self = shared_from_this()] { self->wait_request(); }); }

  // From any thread: answer the request being handled.
  void respond(HttpResponse r) {
    asio::dispatch(sock_.get_executor(), [self = shared_from_this(), r = std::move(r)]() mutable {
      self->send_handled(std::move(r));
    });
  }

  // From any thread (stop()): close unless a request is being handled or answered.
  void close_if_idle() {
    asio::dispatch(sock_.get_executor(), [self = shared_from_this()] {
      if (self->phase_ != Phase::kHandle && self->phase_ != Phase::kWrite) self->close();
    });
  }

 private:
  enum class Phase { kIdle, kHead, kBody, kHandle, kWrite, kClosing, kClosed };

  using Clock = std::chrono::steady_clock;
  static Clock::duration secs(double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  }

  void arm(double seconds) {
    const std::uint64_t gen = ++timer_gen_;
    timer_.expires_after(secs(seconds));
    timer_.async_wait([self = shared_from_this(), gen](const boost::system::error_code& ec) {
      if (ec || gen != self->timer_gen_) return;
      self->on_deadline();
    });
  }
  void disarm() {
    ++timer_gen_;
    timer_.cancel();
  }

  void on_deadline() {
    switch (phase_) {
      case Phase::kHead:
      case Phase::kBody:
        // Cancel the read; its handler answers 408 (timed_out_).
        timed_out_ = true;
        sock_.cancel();
        break;
      case Phase::kIdle:
      case Phase::kWrite:
      case Phase::kClosing:
        close();
        break;
      default:
        break;
    }
  }

  // Waits for the first byte of the next request (the buffer may already hold it).
  void wait_request() {
    if (phase_ == Phase::kClosed) return;
    if (srv_.stopping) return close();
    phase_ = Phase::kIdle;
    if (buf_.size() > 0) return read_head();
    if (peer_eof_) return close();
    arm(opts_.idle_timeout_s);
    if (!reading_) start_idle_read();
  }

  // The read used both to wait for the next request and, while a request is handled, to
  // notice that the client went away.
  void start_idle_read() {
    reading_ = true;
    sock_.async_read_some(buf_.prepare(4096), [self = shared_from_this()](const boost::system::error_code& ec,
                                                                          std::size_t n) {
      self->reading_ = false;
      self->buf_.commit(n);
      self->on_idle_read(ec, n);
    });
  }

  void on_idle_read(const boost::system::error_code& ec, std::size_t n) {
    if (phase_ == Phase::kClosed) return;
    if (phase_ == Phase::kClosing) {  // after our FIN: discard until the client's
      buf_.consume(buf_.size());
      if (ec) return close();
      return drain();
    }
    if (phase_ == Phase::kHandle || phase_ == Phase::kWrite) {
      if (!ec) return;  // pipelined bytes: kept for the next request
      if (ec == asio::error::eof) {
        peer_eof_ = true;
        if (phase_ == Phase::kHandle) probe_peer();
        return;
      }
      // Reset or another error: the client is gone.
      if (pending_) pending_->abort();
      if (phase_ == Phase::kHandle) close();
      return;
    }
    // kIdle
    if (ec) {
      if (ec == asio::error::eof) peer_eof_ = true;
      return close();
    }
    (void)n;
    read_head();
  }

  // A peer that sent EOF while its request is handled either half-closed (it still reads)
  // or closed. An interim "100 Continue" tells them apart (RFC 9110 15.2: clients must
  // accept unexpected 1xx): a closed socket answers it with RST, seen as an error on the
  // socket a moment later. HTTP/1.0 clients cannot be sent a 1xx; they are not probed.
  void probe_peer() {
    if (version_ != 11 || probed_) return;
    probed_ = true;
    static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    writing_probe_ = true;
    asio::async_write(sock_, asio::buffer(kContinue), [self = shared_from_this()](const boost::system::error_code& ec,
                                                                                  std::size_t) {
      self->writing_probe_ = false;
      if (self->phase_ == Phase::kClosed) return self->finish_request();
      if (self->pending_write_) self->flush_pending_write();
      if (ec) return self->peer_gone();
      auto t = std::make_shared<asio::steady_timer>(self->sock_.get_executor(), std::chrono::milliseconds(50));
      t->async_wait([self, t](const boost::system::error_code&) {
        if (self->phase_ != Phase::kHandle) return;
        int err = 0;
        socklen_t len = sizeof err;
        tcp_info ti{};
        socklen_t tl = sizeof ti;
        const int fd = self->sock_.native_handle();
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        const bool closed = getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0 && ti.tcpi_state == TCP_CLOSE;
        if (err != 0 || closed) self->peer_gone();
      });
    });
  }

  void peer_gone() {
    if (pending_) pending_->abort();
    if (phase_ == Phase::kHandle) close();
  }

  void read_head() {
    phase_ = Phase::kHead;
    timed_out_ = false;
    parser_.emplace();
    configure_parser(*parser_, opts_.limits);
    arm(opts_.header_timeout_s);
    bhttp::async_read_header(sock_, buf_, *parser_,
                             [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                               self->on_head(ec);
                             });
  }

  std::string current_path() const {
    if (!parser_) return "";
    const auto t = parser_->get().target();
    const std::string s(t.data(), t.size());
    return s.substr(0, s.find('?'));
  }

  void on_head(const boost::system::error_code& ec) {
    if (phase_ == Phase::kClosed) return;
    if (timed_out_) return fail(408, "request head not received within " + fmt(opts_.header_timeout_s) + " s");
    if (ec == bhttp::error::end_of_stream || ec == asio::error::eof) {
      // EOF before a complete head: nothing to answer (a partial head is dropped).
      return close();
    }
    if (ec == asio::error::operation_aborted) return close();
    if (ec) {
      if (&ec.category() != &bhttp::make_error_code(bhttp::error::body_limit).category())
        return close();  // a socket error, not a framing one
      auto [status, msg] = parse_error_status(ec);
      return fail(status, msg);
    }
    if (auto bad = validate_head(*parser_)) return fail(bad->first, bad->second);
    head_ = to_request(*parser_, false);
    version_ = head_.version;
    keep_alive_ = parser_->get().keep_alive();
    const bool expect_continue = head_.version == 11 && iequals_ascii(head_.header("expect"), "100-continue");
    std::optional<HttpResponse> refusal = handler_.on_head(head_);
    if (refusal) {
      if (parser_->is_done()) return send(std::move(*refusal));
      if (expect_continue || parser_->chunked()) {
        // The body was not sent yet (or its size is unknown): refuse and close.
        refusal->close = true;
        return send(std::move(*refusal));
      }
      // A body of a known size within the limit: read and discard it, keep the connection.
      refusal_ = std::move(refusal);
      return read_body();
    }
    if (expect_continue && !parser_->is_done()) {
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(sock_, asio::buffer(kContinue),
                        [self = shared_from_this()](const boost::system::error_code& e, std::size_t) {
                          if (e) return self->close();
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    phase_ = Phase::kBody;
    if (parser_->is_done()) return on_body({});
    arm(opts_.body_timeout_s);
    bhttp::async_read(sock_, buf_, *parser_, [self = shared_from_this()](const boost::system::error_code& ec,
                                                                         std::size_t) { self->on_body(ec); });
  }

  void on_body(const boost::system::error_code& ec) {
    if (phase_ == Phase::kClosed) return;
    if (timed_out_) return fail(408, "request body not received within " + fmt(opts_.body_timeout_s) + " s");
    if (ec == bhttp::error::partial_message || ec == bhttp::error::end_of_stream) return close();
    if (ec && &ec.category() != &bhttp::make_error_code(bhttp::error::body_limit).category()) return close();
    if (ec) {
      auto [status, msg] = parse_error_status(ec);
      return fail(status, msg);
    }
    disarm();
    if (refusal_) {
      HttpResponse r = std::move(*refusal_);
      refusal_.reset();
      return send(std::move(r));
    }
    HttpRequest req = std::move(head_);
    req.body = std::move(parser_->get().body());
    parser_.reset();
    phase_ = Phase::kHandle;
    ++srv_.in_progress;
    counted_ = true;
    pending_ = std::make_shared<PendingResponse>(shared_from_this());
    Responder responder(pending_);
    // Watch the socket while the request is handled (EOF, reset, or pipelined bytes).
    if (!reading_ && !peer_eof_) start_idle_read();
    handler_.on_request(std::move(req), responder);
  }

  // The handler's response (on the strand).
  void send_handled(HttpResponse r) {
    pending_.reset();  // also when closed meanwhile: it holds this connection (see close())
    if (phase_ != Phase::kHandle) return;
    send(std::move(r));
  }

  // Answers a framing error or timeout and closes.
  void fail(int status, const std::string& msg) {
    HttpResponse r = handler_.on_error(status, msg, current_path());
    r.close = true;
    send(std::move(r));
  }

  void send(HttpResponse r) {
    if (phase_ == Phase::kClosed) return finish_request();
    const bool close_after = r.close || !keep_alive_ || srv_.stopping || peer_eof_;
    close_after_ = close_after;
    const bool head_only = head_.method == "HEAD";
    std::string& out = out_;
    out.clear();
    out += "HTTP/1.1 ";
    out += std::to_string(r.status);
    out += ' ';
    out += reason_phrase(r.status);
    out += "\r\nServer: crossrank\r\n";
    if (!r.body.empty() || r.status != 200) {
      out += "Content-Type: ";
      out += r.content_type;
      out += "\r\n";
    }
    out += "Content-Length: ";
    out += std::to_string(r.body.size());
    out += "\r\n";
    for (const auto& [k, v] : r.headers) {
      out += k;
      out += ": ";
      out += v;
      out += "\r\n";
    }
    out += close_after ? "Connection: close\r\n\r\n" : (version_ == 10 ? "Connection: keep-alive\r\n\r\n" : "\r\n");
    body_ = head_only ? std::string() : std::move(r.body);
    phase_ = Phase::kWrite;
    if (r.delay_ms > 0) {
      auto t = std::make_shared<asio::steady_timer>(sock_.get_executor(), std::chrono::milliseconds(r.delay_ms));
      t->async_wait([self = shared_from_this(), t](const boost::system::error_code&) { self->write_out(); });
      return;
    }
    write_out();
  }

  void write_out() {
    if (phase_ == Phase::kClosed) return finish_request();
    if (writing_probe_) {
      pending_write_ = true;  // one write at a time: after the probe
      return;
    }
    arm(opts_.write_timeout_s);
    std::array<asio::const_buffer, 2> bufs = {asio::buffer(out_), asio::buffer(body_)};
    asio::async_write(sock_, bufs, [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
      self->on_written(ec);
    });
  }
  void flush_pending_write() {
    pending_write_ = false;
    write_out();
  }

  void on_written(const boost::system::error_code& ec) {
    finish_request();
    if (phase_ == Phase::kClosed) return;
    disarm();
    body_.clear();
    head_ = HttpRequest();
    if (ec || close_after_) return graceful_close();
    wait_request();
  }

  void finish_request() {
    if (counted_) {
      counted_ = false;
      if (--srv_.in_progress == 0) {
        std::lock_guard<std::mutex> lock(srv_.mu);
        srv_.cv.notify_all();
      }
    }
  }

  // Sends FIN, then reads and discards what the client still sends (up to 1 s), so that
  // unread request bytes do not turn the close into an RST that destroys the response.
  void graceful_close() {
    if (phase_ == Phase::kClosed) return;
    boost::system::error_code ignored;
    sock_.shutdown(tcp::socket::shutdown_send, ignored);
    phase_ = Phase::kClosing;
    peer_eof_ = true;
    arm(1.0);
    if (!reading_) drain();
  }
  void drain() {
    reading_ = true;
    auto scratch = std::make_shared<std::array<char, 4096>>();
    sock_.async_read_some(asio::buffer(*scratch), [self = shared_from_this(), scratch](
                                                       const boost::system::error_code& ec, std::size_t) {
      self->reading_ = false;
      if (ec || self->phase_ == Phase::kClosed) return self->close();
      self->drain();
    });
  }

  void close() {
    if (phase_ == Phase::kClosed) return;
    if (pending_ && phase_ == Phase::kHandle) pending_->abort();
    // PendingResponse holds this connection and pending_ holds it: a cycle. Dropping our
    // side lets the connection go (and free its slot) once the handler lets go of its
    // Responder. Why: connections reset while their request was handled were never
    // destroyed, so the connection count grew until every request got 503 (2026-12-08).
    pending_.reset();
    phase_ = Phase::kClosed;
    disarm();
    boost::system::error_code ignored;
    sock_.shutdown(tcp::socket::shutdown_both, ignored);
    sock_.close(ignored);
    finish_request();
  }

  static std::string fmt(double s) {
    char b[32];
    std::snprintf(b, sizeof b, "%g", s);
    return b;
  }

  HttpServer::Impl& srv_;
  HttpHandler& handler_;
  const HttpServerOptions& opts_;
  tcp::socket sock_;
  asio::steady_timer timer_;
  std::uint64_t id_;
  std::uint64_t timer_gen_ = 0;
  beast::flat_buffer buf_;
  std::optional<RequestParser> parser_;
  HttpRequest head_;
  std::optional<HttpResponse> refusal_;
  std::shared_ptr<PendingResponse> pending_;
  std::string out_, body_;
  Phase phase_ = Phase::kIdle;
  int version_ = 11;
  bool keep_alive_ = true, peer_eof_ = false, reading_ = false, timed_out_ = false, probed_ = false;
  bool writing_probe_ = false, pending_write_ = false, close_after_ = false, counted_ = false;

  friend struct PendingResponse;
};

PendingResponse::~PendingResponse() {
  if (!done.exchange(true) && conn) {
    HttpResponse r;
    r.status = 500;
    r.body = R"({"error":"internal error: request dropped without a response","error_type":"Internal"})";
    conn->respond(std::move(r));
  }
}

void PendingResponse::abort() {
  std::function<void()> hook;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (aborted) return;
    aborted = true;
    hook = std::move(abort_hook);
  }
  if (hook) hook();
}

void Responder::operator()(HttpResponse r) const {
  if (!p_ || p_->done.exchange(true)) return;
  p_->conn->respond(std::move(r));
}

void Responder::on_abort(std::function<void()> f) const {
  if (!p_) return;
  bool now = false;
  {
    std::lock_guard<std::mutex> lock(p_->mu);
    if (p_->aborted) now = true;
    else p_->abort_hook = std::move(f);
  }
  if (now && f) f();
}

bool Responder::aborted() const {
  if (!p_) return false;
  std::lock_guard<std::mutex> lock(p_->mu);
  return p_->aborted;
}
std::shared_ptr<HttpConnection> make_connection(HttpServer::Impl& srv, HttpHandler& h, const HttpServerOptions& o,
                                                tcp::socket s, std::uint64_t id) {
  return std::make_shared<HttpConnection>(srv, h, o, std::move(s), id);
}
void start_connection(const std::shared_ptr<HttpConnection>& c) { c->start(); }
void close_connection_if_idle(const std::shared_ptr<HttpConnection>& c) { c->close_if_idle(); }

}  // namespace crossrank
