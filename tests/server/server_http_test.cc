// The HTTP layer against hostile and careless clients, over raw sockets on 127.0.0.1:
// slow heads and slow bodies (>= 200 connections) while /health stays fast, half-closed
// clients, framing errors (duplicate / negative Content-Length), methods, Expect:
// 100-continue, pipelining, the connection cap, and TEI left truncation.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "crossrank/crossrank.h"
#include "server/server.h"

using namespace crossrank;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

Engine& engine() {
  static std::unique_ptr<Engine> e = Engine::open("synthetic:tiny-xlmr");
  return *e;
}

ServerOptions opts() {
  ServerOptions o;
  o.port = 0;
  o.max_length = 512;
  o.keep_alive_seconds = 2;
  o.header_timeout_s = 3;
  o.body_timeout_s = 3;
  return o;
}

int connect_to(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads until EOF or `timeout_ms` passes.
std::string read_all(int fd, int timeout_ms = 10000) {
  std::string out;
  const auto end = Clock::now() + std::chrono::milliseconds(timeout_ms);
  char buf[8192];
  while (Clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    const int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count());
    if (poll(&p, 1, std::max(1, left)) <= 0) break;
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

// Status code of the last response in `raw` (interim 1xx responses are skipped).
int last_status(const std::string& raw) {
  int status = -1;
  std::size_t pos = 0;
  while ((pos = raw.find("HTTP/1.", pos)) != std::string::npos) {
    if (pos + 12 <= raw.size() && (pos == 0 || raw[pos - 1] == '\n')) status = std::stoi(raw.substr(pos + 9, 3));
    pos += 8;
  }
  return status;
}

std::string body_of(const std::string& raw) {
  const std::size_t p = raw.rfind("\r\n\r\n");
  return p == std::string::npos ? "" : raw.substr(p + 4);
}

// One complete exchange on a fresh connection: returns the raw response.
std::string roundtrip(int port, const std::string& request, int timeout_ms = 10000) {
  const int fd = connect_to(port);
  if (fd < 0) return "";
  send_all(fd, request);
  std::string r = read_all(fd, timeout_ms);
  close(fd);
  return r;
}

// Latency of GET /health on a fresh connection, in ms (-1 on failure).
double health_ms(int port) {
  const auto t0 = Clock::now();
  const std::string r = roundtrip(port, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5000);
  if (last_status(r) != 200) return -1;
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::string post(const std::string& path, const std::string& body, const std::string& extra = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
}

// Largest gap, in ms, between ticks of a thread that wakes every 5 ms, since reset():
// when the whole process was descheduled (a 2-core CI box shared with other jobs),
// a slow probe says nothing about the server.
class StallMeter {
 public:
  StallMeter() : t_([this] {
      auto last = Clock::now();
      while (!stop_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        const auto now = Clock::now();
        const double gap = std::chrono::duration<double, std::milli>(now - last).count();
        double cur = max_.load();
        while (gap > cur && !max_.compare_exchange_weak(cur, gap)) {
        }
        last = now;
      }
    }) {}
  ~StallMeter() {
    stop_ = true;
    t_.join();
  }
  void reset() { max_ = 0; }
  double max_gap_ms() const { return max_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<double> max_{0};
  std::thread t_;
};

// Holds `n` connections that trickle a request (a head line, or a body byte, every
// `every_ms`) while /health is probed; returns the probe latencies (-1: failed), leaving
// out probes during which the test process itself stalled for more than 50 ms.
std::vector<double> trickle_and_probe(int port, int n, bool slow_body, int seconds, int every_ms, int* cut) {
  StallMeter stall;
  int stalled = 0;
  std::vector<int> fds;
  for (int i = 0; i < n; ++i) {
    const int fd = connect_to(port);
    if (fd < 0) continue;
    fcntl(fd, F_SETFL, O_NONBLOCK);
    if (slow_body) send(fd, "POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{", 59, MSG_NOSIGNAL);
    else send(fd, "POST /rerank HTTP/1.1\r\n", 23, MSG_NOSIGNAL);
    fds.push_back(fd);
  }
  std::vector<double> lat;
  const auto end = Clock::now() + std::chrono::seconds(seconds);
  auto next_trickle = Clock::now();
  while (Clock::now() < end) {
    if (Clock::now() >= next_trickle) {
      for (int fd : fds) {
        if (slow_body) send(fd, " ", 1, MSG_NOSIGNAL);
        else send(fd, "X-Slow: 1\r\n", 11, MSG_NOSIGNAL);
      }
      next_trickle += std::chrono::milliseconds(every_ms);
    }
    stall.reset();
    const double ms = health_ms(port);
    if (stall.max_gap_ms() > 50) ++stalled;
    else lat.push_back(ms);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (stalled > 0) std::printf("left out %d probes during which the test process stalled\n", stalled);
  // Every trickling connection must have been answered 408 or closed by now.
  *cut = 0;
  for (int fd : fds) {
    const std::string r = read_all(fd, 200);
    if (last_status(r) == 408 || r.empty()) ++*cut;
    close(fd);
  }
  return lat;
}

}  // namespace

TEST(ServerHttp, SlowHeadClientsDoNotStallHealth) {
  Server s(engine(), opts());
  const int port = s.start();
  int cut = 0;
  const auto lat = trickle_and_probe(port, 200, false, 6, 1000, &cut);
  ASSERT_GE(lat.size(), 10u);
  std::printf("slow-head: %zu /health probes, max %.1f ms\n", lat.size(), *std::max_element(lat.begin(), lat.end()));
  for (double ms : lat) {
    EXPECT_GE(ms, 0) << "a /health probe failed";
    EXPECT_LT(ms, 100) << "/health took " << ms << " ms with 200 slow-head clients";
  }
  EXPECT_EQ(cut, 200);  // the 3 s head deadline cut every one of them
  // Rerank still works.
  const std::string r = roundtrip(port, post("/rerank", R"({"query":"q","texts":["a","b"]})", "Connection: close\r\n"));
  EXPECT_EQ(last_status(r), 200) << r;
}

TEST(ServerHttp, SlowBodyClientsDoNotStallHealth) {
  Server s(engine(), opts());
  const int port = s.start();
  int cut = 0;
  const auto lat = trickle_and_probe(port, 200, true, 6, 1000, &cut);
  ASSERT_GE(lat.size(), 10u);
  std::printf("slow-body: %zu /health probes, max %.1f ms\n", lat.size(), *std::max_element(lat.begin(), lat.end()));
  for (double ms : lat) {
    EXPECT_GE(ms, 0);
    EXPECT_LT(ms, 100) << "/health took " << ms << " ms with 200 slow-body clients";
  }
  EXPECT_EQ(cut, 200);
}

TEST(ServerHttp, HalfClosedClientsGetTheirResponse) {
  Server s(engine(), opts());
  const int port = s.start();
  auto half_close = [&](const std::string& req) {
    const int fd = connect_to(port);
    send_all(fd, req);
    shutdown(fd, SHUT_WR);
    std::string r = read_all(fd);
    close(fd);
    return r;
  };
  const std::string r1 = half_close(post("/rerank", R"({"query":"q","texts":["a","b","c"]})"));
  EXPECT_EQ(last_status(r1), 200) << r1;
  EXPECT_EQ(json::parse(body_of(r1)).size(), 3u);
  const std::string r2 = half_close("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(last_status(r2), 200) << r2;
  const std::string r3 = half_close("GET /info HTTP/1.0\r\n\r\n");
  EXPECT_EQ(last_status(r3), 200) << r3;
  EXPECT_TRUE(json::parse(body_of(r3)).contains("model_id"));
  const std::string r4 = half_close(post("/v2/rerank", R"({"query":"q","documents":["a"]})"));
  EXPECT_EQ(last_status(r4), 200) << r4;
}

TEST(ServerHttp, StrictFraming) {
  Server s(engine(), opts());
  const int port = s.start();
  const std::string body = R"({"query":"q","texts":["a"]})";
  // Two different Content-Length values -> 400 (RFC 9112 6.3).
  std::string r = roundtrip(port, "POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                                     "\r\nContent-Length: 5\r\n\r\n" + body);
  EXPECT_EQ(last_status(r), 400) << r;
  EXPECT_NE(body_of(r).find("Content-Length"), std::string::npos) << r;
  // Content-Length: -1 -> 400 at once (not after a timeout).
  const auto t0 = Clock::now();
  r = roundtrip(port, "POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n");
  EXPECT_EQ(last_status(r), 400) << r;
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 1.0);
  // Content-Length with Transfer-Encoding -> 400; unknown Transfer-Encoding -> 400.
  r = roundtrip(port, "POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(last_status(r), 400) << r;
  r = roundtrip(port, "POST /rerank HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n");
  EXPECT_EQ(last_status(r), 400) << r;
  // A coding before chunked, a Content-Encoding, an unknown expectation: refused, where they
  // were ignored (a gzip body then failed as "bad UTF-8").
  r = roundtrip(port, "POST /rerank HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n");
  EXPECT_EQ(last_status(r), 501) << r;
  r = roundtrip(port, "POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_EQ(last_status(r), 415) << r;
  r = roundtrip(port, "POST /rerank HTTP/1.1\r\nHost: x\r\nExpect: 42-foo\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_EQ(last_status(r), 417) << r;
  // Chunked bodies are fine.
  r = roundtrip(port, "POST /rerank HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
                         [&] {
                           char hex[16];
                           std::snprintf(hex, sizeof hex, "%zx", body.size());
                           return std::string(hex) + "\r\n" + body + "\r\n0\r\n\r\n";
                         }());
  EXPECT_EQ(last_status(r), 200) << r;
  // Identical duplicates are one value (RFC 9110 8.6).
  r = roundtrip(port, "POST /rerank HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
                         body);
  EXPECT_EQ(last_status(r), 200) << r;
  // Garbage request line, oversized head.
  r = roundtrip(port, "HELLO\r\n\r\n");
  EXPECT_EQ(last_status(r), 400) << r;
  r = roundtrip(port, "GET /health HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
  EXPECT_EQ(last_status(r), 431) << r.substr(0, 200);
}

TEST(ServerHttp, MethodsAndRoutes) {
  Server s(engine(), opts());
  const int port = s.start();
  std::string r = roundtrip(port, "TRACE /rerank HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(last_status(r), 405) << r;
  EXPECT_NE(r.find("Allow: POST"), std::string::npos) << r;
  r = roundtrip(port, "DELETE /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(last_status(r), 405) << r;
  EXPECT_NE(r.find("Allow: GET, HEAD"), std::string::npos) << r;
  r = roundtrip(port, "HEAD /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(last_status(r), 200) << r;
  r = roundtrip(port, "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(last_status(r), 404) << r;
  EXPECT_EQ(json::parse(body_of(r))["error_type"], "NotFound");
  // GET / is the health route, POST / reranks.
  r = roundtrip(port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(last_status(r), 200) << r;
}

TEST(ServerHttp, KeepAlivePipeliningAndExpectContinue) {
  Server s(engine(), opts());
  const int port = s.start();
  // Three pipelined requests on one connection, answered in order.
  const int fd = connect_to(port);
  const std::string body = R"({"query":"q","texts":["a","b"]})";
  send_all(fd, post("/rerank", body) + "GET /health HTTP/1.1\r\nHost: x\r\n\r\n" +
                   post("/rerank", body, "Connection: close\r\n"));
  const std::string all = read_all(fd);
  close(fd);
  int n200 = 0;
  for (std::size_t p = 0; (p = all.find("HTTP/1.1 200 OK", p)) != std::string::npos; ++p) ++n200;
  EXPECT_EQ(n200, 3) << all;
  // Expect: 100-continue gets the interim response, then the answer.
  const int fd2 = connect_to(port);
  send_all(fd2, "POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                    "\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n");
  const std::string interim = read_all(fd2, 1000);
  EXPECT_NE(interim.find("HTTP/1.1 100 Continue"), std::string::npos) << interim;
  send_all(fd2, body);
  const std::string fin = read_all(fd2);
  close(fd2);
  EXPECT_EQ(last_status(fin), 200) << fin;
  // A body over the limit with Expect: 413 without reading it.
  ServerOptions o = opts();
  o.payload_limit = 100;
  Server small(engine(), o);
  const int p2 = small.start();
  const std::string r = roundtrip(p2, "POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(last_status(r), 413) << r;
}

TEST(ServerHttp, ConnectionCap) {
  ServerOptions o = opts();
  o.max_connections = 20;
  Server s(engine(), o);
  const int port = s.start();
  std::vector<int> fds;
  for (int i = 0; i < 20; ++i) fds.push_back(connect_to(port));
  for (int i = 0; i < 200 && s.connections() < 20; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(s.connections(), 20u);
  const std::string r = roundtrip(port, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", 2000);
  EXPECT_EQ(last_status(r), 503) << r;
  for (int fd : fds) close(fd);
  for (int i = 0; i < 100 && s.connections() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(last_status(roundtrip(port, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")), 200);
}

// A start that cannot listen throws a clear error and the server can still be destroyed
// (stop() used to wait for I/O threads that never ran: `serve --host 999.1.1.1` hung).
TEST(ServerHttp, StartThatCannotListenFailsCleanly) {
  auto start_error = [](ServerOptions o) -> std::string {
    Server s(engine(), o);
    try {
      s.start();
    } catch (const Error& e) {
      return e.what();
    }
    return "<started>";
  };
  ServerOptions o = opts();
  o.host = "999.1.1.1";
  EXPECT_NE(start_error(o).find("cannot listen on 999.1.1.1: not an IP address"), std::string::npos);
  o = opts();
  o.port = 70000;
  EXPECT_NE(start_error(o).find("a port is in [0, 65535]"), std::string::npos);
  Server first(engine(), opts());  // a second server on a port in use
  o = opts();
  o.port = first.start();
  EXPECT_NE(start_error(o).find("cannot listen on 127.0.0.1:" + std::to_string(o.port)), std::string::npos);
}

TEST(ServerHttp, TeiLeftTruncationMatchesEngine) {
  for (const Truncation mode : {Truncation::kFlagEmbedding, Truncation::kLongestFirst}) {
  ServerOptions o = opts();
  o.max_length = 16;
  o.cache_mb = 0;
  o.truncation = mode;
  Server s(engine(), o);
  const int port = s.start();
  const std::string q = "where do giant pandas live in the wild today";
  const std::string d = "the giant panda lives in mountain forests of central china and eats bamboo all day long";
  for (const char* dir : {"left", "Left", "right"}) {
    const std::string r = roundtrip(port, post("/rerank", json{{"query", q}, {"texts", {d}}, {"raw_scores", true},
                                                              {"truncation_direction", dir}}
                                                             .dump(),
                                              "Connection: close\r\n"));
    ASSERT_EQ(last_status(r), 200) << r;
    ScoreOptions so;
    so.max_length = 16;
    so.truncation = mode;
    so.truncation_side = dir[0] == 'r' ? TruncationSide::kRight : TruncationSide::kLeft;
    const Pair p{q, d};
    const double want = engine().score(std::span<const Pair>(&p, 1), so)[0];
    EXPECT_NEAR(json::parse(body_of(r))[0]["score"].get<double>(), want, 1e-5) << dir << " " << to_string(mode);
  }
  }
}

TEST(ServerHttp, DialectsInfinityJinaDetailInstructionChunks) {
  ServerOptions o = opts();
  o.max_length = 32;
  o.cache_mb = 0;
  Server s(engine(), o);
  const int port = s.start();
  const std::string q = "where do giant pandas live";
  std::string longdoc;
  for (int i = 0; i < 40; ++i) longdoc += "bamboo forest mountain river panda " + std::to_string(i) + " ";
  const std::vector<std::string> docs = {"pandas live in china", longdoc, "paris is in france"};
  // Infinity: a documents body on /rerank echoes documents as plain strings.
  std::string r = roundtrip(port, post("/rerank", json{{"query", q}, {"documents", docs}, {"return_documents", true}}.dump(),
                                       "Connection: close\r\n"));
  ASSERT_EQ(last_status(r), 200) << r;
  json j = json::parse(body_of(r));
  EXPECT_EQ(j["object"], "rerank");
  EXPECT_TRUE(j["created"].is_number_integer());
  ASSERT_EQ(j["results"].size(), 3u);
  EXPECT_TRUE(j["results"][0]["document"].is_string());
  // Jina errors carry "detail" (llama-index / langchain read it).
  r = roundtrip(port, post("/v1/rerank", json{{"query", q}, {"documents", json::array()}}.dump(), "Connection: close\r\n"));
  EXPECT_EQ(last_status(r), 400) << r;
  j = json::parse(body_of(r));
  EXPECT_TRUE(j["detail"].is_string()) << j.dump();
  EXPECT_EQ(j["detail"], j["message"]);
  // instruction is accepted on every dialect (cross-encoders ignore it).
  for (const char* path : {"/rerank", "/v1/rerank", "/v2/rerank"}) {
    const json body = std::string(path) == "/rerank" ? json{{"query", q}, {"texts", docs}, {"instruction", "Judge"}}
                                                     : json{{"query", q}, {"documents", docs}, {"instruction", "Judge"}};
    r = roundtrip(port, post(path, body.dump(), "Connection: close\r\n"));
    EXPECT_EQ(last_status(r), 200) << path << r;
  }
  r = roundtrip(port, post("/v2/rerank", json{{"query", q}, {"documents", docs}, {"instruction", 3}}.dump(),
                           "Connection: close\r\n"));
  EXPECT_EQ(last_status(r), 422) << r;
  // max_chunks_per_doc: every window scored, the passage gets the best (as Engine::score).
  r = roundtrip(port, post("/v1/rerank", json{{"query", q}, {"documents", docs}, {"max_chunks_per_doc", 8},
                                              {"return_documents", false}}
                                             .dump(),
                           "Connection: close\r\n"));
  ASSERT_EQ(last_status(r), 200) << r;
  j = json::parse(body_of(r));
  std::vector<Pair> pairs;
  for (const auto& d : docs) pairs.push_back({q, d});
  ScoreOptions so;
  so.max_length = 32;
  so.normalize = true;
  so.long_doc = LongDoc::kChunk;
  so.max_chunks = 8;
  so.chunk_overlap = -1;  // the server's overlap: a quarter of the window, at most 64
  const auto want = engine().score(pairs, so);
  so.long_doc = LongDoc::kTruncate;
  const auto truncated = engine().score(pairs, so);
  EXPECT_NE(want[1], truncated[1]);  // the long document really was chunked
  for (const auto& x : j["results"])
    EXPECT_NEAR(x["relevance_score"].get<double>(), want[x["index"].get<std::size_t>()], 1e-6) << x.dump();
  r = roundtrip(port, post("/v1/rerank", json{{"query", q}, {"documents", docs}, {"max_chunks_per_doc", 100000}}.dump(),
                           "Connection: close\r\n"));
  EXPECT_EQ(last_status(r), 422) << r;
}

TEST(ServerHttp, OpenApiIsGeneratedFromTheDecoderFields) {
  Server s(engine(), opts());
  const int port = s.start();
  const std::string r = roundtrip(port, "GET /openapi.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_EQ(last_status(r), 200);
  const json doc = json::parse(body_of(r));
  const json& schemas = doc["components"]["schemas"];
  for (const char* name : {"TeiRerankRequest", "InfinityRerankRequest", "CohereRerankRequest", "JinaRerankRequest"}) {
    const json& props = schemas[name]["properties"];
    for (auto it = props.begin(); it != props.end(); ++it) {
      const json& p = it.value();
      const bool required = std::find(schemas[name]["required"].begin(), schemas[name]["required"].end(), it.key()) !=
                            schemas[name]["required"].end();
      EXPECT_EQ(p.value("nullable", false), !required) << name << "." << it.key();  // null = absent, as decoded
      if (p.value("type", "") == "integer") EXPECT_TRUE(p.contains("maximum")) << name << "." << it.key();
    }
  }
  EXPECT_EQ(schemas["TeiRerankRequest"]["properties"]["truncation_direction"]["enum"],
            json::array({"right", "Right", "left", "Left", nullptr}));
  EXPECT_TRUE(schemas["CohereRerankRequest"]["properties"].contains("max_chunks_per_doc"));
  EXPECT_TRUE(schemas["TeiRerankRequest"]["properties"].contains("instruction"));
  // The Jina route documents the Jina error shape (with detail); /rerank both shapes.
  EXPECT_EQ(doc["paths"]["/v1/rerank"]["post"]["responses"]["422"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/JinaError");
  EXPECT_TRUE(doc["paths"]["/rerank"]["post"]["responses"]["422"]["content"]["application/json"]["schema"].contains(
      "anyOf"));
}

TEST(ServerHttp, SeveralModelsRouteByName) {
  static std::unique_ptr<Engine> bert = Engine::open("synthetic:tiny-bert");
  ServerOptions o = opts();
  o.cache_mb = 0;
  Server s({{"xlmr", &engine()}, {"bert", bert.get()}}, o);
  const int port = s.start();
  const std::string q = "what is a panda";
  const std::vector<std::string> docs = {"a bear from china", "a city in france"};
  auto score_of = [&](Engine& e, std::size_t i) {
    ScoreOptions so;
    so.max_length = 512;
    so.normalize = true;
    const Pair p{q, docs[i]};
    return e.score(std::span<const Pair>(&p, 1), so)[0];
  };
  for (const auto& [name, eng] : std::vector<std::pair<std::string, Engine*>>{{"xlmr", &engine()}, {"bert", bert.get()}}) {
    for (const char* path : {"/v2/rerank", "/v1/rerank", "/rerank"}) {
      const std::string r = roundtrip(port, post(path, json{{"model", name}, {"query", q}, {"documents", docs}}.dump(),
                                                 "Connection: close\r\n"));
      ASSERT_EQ(last_status(r), 200) << name << path << r;
      EXPECT_NE(r.find("x-model: " + name), std::string::npos) << r;
      for (const auto& x : json::parse(body_of(r))["results"])
        EXPECT_NEAR(x["relevance_score"].get<double>(), score_of(*eng, x["index"].get<std::size_t>()), 1e-6) << name;
    }
  }
  // No model: the first. Unknown: Cohere 404, Jina 422, Infinity 400.
  std::string r = roundtrip(port, post("/v2/rerank", json{{"query", q}, {"documents", docs}}.dump(), "Connection: close\r\n"));
  EXPECT_NE(r.find("x-model: xlmr"), std::string::npos) << r;
  r = roundtrip(port, post("/v2/rerank", json{{"model", "nope"}, {"query", q}, {"documents", docs}}.dump(),
                           "Connection: close\r\n"));
  EXPECT_EQ(last_status(r), 404) << r;
  EXPECT_NE(body_of(r).find("served: xlmr, bert"), std::string::npos) << r;
  // A NUL in the name is shown escaped; it cut the message short.
  r = roundtrip(port, post("/v2/rerank", json{{"model", std::string("zz\0yy", 5)}, {"query", q}, {"documents", docs}}.dump(),
                           "Connection: close\r\n"));
  EXPECT_EQ(last_status(r), 404) << r;
  EXPECT_NE(body_of(r).find("zz\\\\x00yy' is not served here (served: xlmr, bert)"), std::string::npos) << r;
  r = roundtrip(port, post("/v1/rerank", json{{"model", "nope"}, {"query", q}, {"documents", docs}}.dump(),
                           "Connection: close\r\n"));
  EXPECT_EQ(last_status(r), 422) << r;
  EXPECT_TRUE(json::parse(body_of(r))["detail"].is_string());
  r = roundtrip(port, post("/rerank", json{{"model", "nope"}, {"query", q}, {"documents", docs}}.dump(),
                           "Connection: close\r\n"));
  EXPECT_EQ(last_status(r), 400) << r;
  // TEI bodies (texts) route on `model` too: they were scored by the default model.
  r = roundtrip(port, post("/rerank", json{{"model", "bert"}, {"query", q}, {"texts", docs}}.dump(),
                           "Connection: close\r\n"));
  ASSERT_EQ(last_status(r), 200) << r;
  EXPECT_NE(r.find("x-model: bert"), std::string::npos) << r;
  for (const auto& x : json::parse(body_of(r)))
    EXPECT_NEAR(x["score"].get<double>(), score_of(*bert, x["index"].get<std::size_t>()), 1e-6);
  r = roundtrip(port, post("/rerank", json{{"model", "nope"}, {"query", q}, {"texts", docs}}.dump(),
                           "Connection: close\r\n"));
  EXPECT_EQ(last_status(r), 404) << r;
  // /info per model, /metrics labelled per model.
  r = roundtrip(port, "GET /info?model=bert HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_EQ(last_status(r), 200) << r;
  EXPECT_EQ(json::parse(body_of(r))["served_model_name"], "bert");
  EXPECT_EQ(json::parse(body_of(r))["models"], json::array({"xlmr", "bert"}));
  r = roundtrip(port, "GET /info?model=nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(last_status(r), 404) << r;
  r = roundtrip(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(r.find("crossrank_requests_total{model=\"bert\",route=\"/v2/rerank\",outcome=\"success\"} 1"),
            std::string::npos);
  EXPECT_NE(r.find("crossrank_batch_size_count{model=\"xlmr\"}"), std::string::npos);
  EXPECT_EQ(r.find("# TYPE crossrank_batch_size histogram", r.find("# TYPE crossrank_batch_size histogram") + 1),
            std::string::npos);  // each family once
  // Duplicate names are refused.
  EXPECT_THROW(Server({{"a", &engine()}, {"a", bert.get()}}, opts()), Error);
}
