#pragma once
// Shared by the server tests (tests/server_*_test.cc): a shared engine, a gated Engine
// wrapper that makes timing-dependent cases deterministic, a running server on an
// ephemeral 127.0.0.1 port, and checks of the dialects' error shapes.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "crossrank/crossrank.h"
#include "scheduler/batcher.h"
#include "scheduler/score_cache.h"
#include "server/api.h"
#include "server/server.h"
#include <httplib.h>

using namespace crossrank;
using nlohmann::json;


namespace server_test {


inline constexpr const char* kModel = "synthetic:tiny-xlmr";

inline Engine& shared_engine() {
  static std::unique_ptr<Engine> e = Engine::open(kModel);
  return *e;
}

// Delegates to a real engine; forward() can be held at a gate, made to fail, or to
// return NaN, so that queueing, overload and failure paths are deterministic.
class GatedEngine : public Engine {
 public:
  explicit GatedEngine(Engine& inner) : inner_(inner) {}
  std::vector<double> score(std::span<const Pair> pairs, const ScoreOptions& opts) override {
    return inner_.score(pairs, opts);
  }
  EncodedPair encode(std::string_view q, std::string_view d, const ScoreOptions& o) const override {
    return inner_.encode(q, d, o);
  }
  std::vector<float> forward(std::span<const EncodedPair* const> batch) override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      ++entered_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return open_; });
    }
    if (fail_) throw Error("injected backend failure");
    std::vector<float> r = inner_.forward(batch);
    if (nan_ && !r.empty()) r[0] = std::nanf("");
    return r;
  }
  std::size_t activation_bytes(int t, int m, int n) const override { return inner_.activation_bytes(t, m, n); }
  std::size_t memory_budget() const override { return inner_.memory_budget(); }
  int preferred_batch_tokens() const override { return inner_.preferred_batch_tokens(); }
  const ModelInfo& info() const override { return inner_.info(); }
  DType dtype() const override { return inner_.dtype(); }
  BackendKind backend() const override { return inner_.backend(); }

  void close() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = false;
  }
  void open() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  // Waits until forward() has been entered `n` times in total.
  bool wait_entered(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return entered_ >= n; });
  }
  int entered() {
    std::lock_guard<std::mutex> lock(mu_);
    return entered_;
  }
  std::atomic<bool> fail_{false}, nan_{false};

 private:
  Engine& inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  int entered_ = 0;
};

inline ServerOptions test_options() {
  ServerOptions o;
  o.port = 0;
  o.max_length = 512;
  o.http_threads = 32;
  o.keep_alive_seconds = 1;
  return o;
}

struct Running {
  std::unique_ptr<Server> server;
  int port = 0;
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(30, 0);
    c.set_connection_timeout(5, 0);
    return c;
  }
};

inline Running start(Engine& e, ServerOptions o = test_options()) {
  Running r;
  r.server = std::make_unique<Server>(e, o);
  r.port = r.server->start();
  return r;
}

// A server over `g` without the score cache, with g's gate closed: its forward passes
// wait until g.open().
inline Running start_gated(GatedEngine& g) {
  ServerOptions o = test_options();
  o.cache_mb = 0;
  Running r = start(g, o);
  g.close();
  return r;
}

// A loopback connection to `port` that has sent `request` whole; the caller closes it.
inline int send_raw(int port, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  EXPECT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
  return fd;
}

inline const std::string kQuery = "what is a giant panda?";
inline const std::vector<std::string> kDocs = {
    "hi",
    "The giant panda is a bear species endemic to China.",
    "Pandas eat bamboo almost exclusively, up to 38 kg a day.",
    "Paris is the capital of France.",
    "The red panda is not closely related to the giant panda.",
};

inline std::vector<double> engine_scores(const std::string& q, const std::vector<std::string>& docs, bool normalize) {
  std::vector<Pair> pairs;
  for (const auto& d : docs) pairs.push_back({q, d});
  ScoreOptions so;
  so.max_length = 512;
  so.normalize = normalize;
  return shared_engine().score(pairs, so);
}

inline json post_json(httplib::Client& c, const std::string& path, const json& body, int expect_status,
               const httplib::Headers& headers = {}) {
  auto res = c.Post(path.c_str(), headers, body.dump(), "application/json");
  EXPECT_TRUE(res) << path << ": " << httplib::to_string(res.error());
  if (!res) return json();
  EXPECT_EQ(res->status, expect_status) << path << " " << body.dump().substr(0, 200) << " -> " << res->body;
  if (res->body.empty()) return json();
  return json::parse(res->body);
}

// Value of the first metrics line that starts with `series` (exact series text).
inline double metric(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return -1;
}

inline std::string metrics_text(httplib::Client& c) {
  auto res = c.Get("/metrics");
  EXPECT_TRUE(res);
  return res ? res->body : "";
}

inline void expect_tei_error(const json& j, const std::string& type, const std::string& needle = "") {
  ASSERT_TRUE(j.is_object()) << j.dump();
  ASSERT_TRUE(j.contains("error") && j["error"].is_string()) << j.dump();
  EXPECT_EQ(j["error_type"], type) << j.dump();
  if (!needle.empty()) {
    EXPECT_NE(j["error"].get<std::string>().find(needle), std::string::npos) << j.dump();
  }
}

inline void expect_cohere_error(const json& j, int code, const std::string& needle = "") {
  ASSERT_TRUE(j.is_object()) << j.dump();
  ASSERT_TRUE(j.contains("message") && j["message"].is_string()) << j.dump();
  ASSERT_TRUE(j.contains("error") && j["error"].is_object()) << j.dump();
  EXPECT_EQ(j["error"]["code"], code);
  EXPECT_EQ(j["error"]["message"], j["message"]);
  EXPECT_TRUE(j["error"]["type"].is_string());
  if (!needle.empty()) {
    EXPECT_NE(j["message"].get<std::string>().find(needle), std::string::npos) << j.dump();
  }
}

// Permits return when the worker drops its last reference to a request's pairs, which
// can be a moment after the response was sent: wait up to 2 s for none in flight.
inline void expect_permits_returned(const Server& server) {
  for (int i = 0; i < 200 && server.pairs_in_flight() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(server.pairs_in_flight(), 0u);
}


}  // namespace server_test
