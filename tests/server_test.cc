// `crossrank serve` over real sockets on 127.0.0.1 (ephemeral ports): every dialect's
// happy path against Engine::score, every error path's status and body shape, metrics,
// the score cache, admission control (429), client disconnects, backend failures,
// concurrency and graceful stop. A gated Engine wrapper makes the timing-dependent
// cases deterministic.
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

namespace {

constexpr const char* kModel = "synthetic:tiny-xlmr";

Engine& shared_engine() {
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

ServerOptions test_options() {
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

Running start(Engine& e, ServerOptions o = test_options()) {
  Running r;
  r.server = std::make_unique<Server>(e, o);
  r.port = r.server->start();
  return r;
}

const std::string kQuery = "what is a giant panda?";
const std::vector<std::string> kDocs = {
    "hi",
    "The giant panda is a bear species endemic to China.",
    "Pandas eat bamboo almost exclusively, up to 38 kg a day.",
    "Paris is the capital of France.",
    "The red panda is not closely related to the giant panda.",
};

std::vector<double> engine_scores(const std::string& q, const std::vector<std::string>& docs, bool normalize) {
  std::vector<Pair> pairs;
  for (const auto& d : docs) pairs.push_back({q, d});
  ScoreOptions so;
  so.max_length = 512;
  so.normalize = normalize;
  return shared_engine().score(pairs, so);
}

json post_json(httplib::Client& c, const std::string& path, const json& body, int expect_status,
               const httplib::Headers& headers = {}) {
  auto res = c.Post(path.c_str(), headers, body.dump(), "application/json");
  EXPECT_TRUE(res) << path << ": " << httplib::to_string(res.error());
  if (!res) return json();
  EXPECT_EQ(res->status, expect_status) << path << " " << body.dump().substr(0, 200) << " -> " << res->body;
  if (res->body.empty()) return json();
  return json::parse(res->body);
}

// Value of the first metrics line that starts with `series` (exact series text).
double metric(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return -1;
}

std::string metrics_text(httplib::Client& c) {
  auto res = c.Get("/metrics");
  EXPECT_TRUE(res);
  return res ? res->body : "";
}

void expect_tei_error(const json& j, const std::string& type, const std::string& needle = "") {
  ASSERT_TRUE(j.is_object()) << j.dump();
  ASSERT_TRUE(j.contains("error") && j["error"].is_string()) << j.dump();
  EXPECT_EQ(j["error_type"], type) << j.dump();
  if (!needle.empty()) {
    EXPECT_NE(j["error"].get<std::string>().find(needle), std::string::npos) << j.dump();
  }
}

void expect_cohere_error(const json& j, int code, const std::string& needle = "") {
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
void expect_permits_returned(const Server& server) {
  for (int i = 0; i < 200 && server.pairs_in_flight() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(server.pairs_in_flight(), 0u);
}

}  // namespace

TEST(Server, TeiRerankMatchesEngineScore) {
  auto s = start(shared_engine());
  auto c = s.client();
  const auto sig = engine_scores(kQuery, kDocs, true);
  const auto raw = engine_scores(kQuery, kDocs, false);

  json r = post_json(c, "/rerank", {{"query", kQuery}, {"texts", kDocs}, {"return_text", true}}, 200);
  ASSERT_TRUE(r.is_array());
  ASSERT_EQ(r.size(), kDocs.size());
  double prev = INFINITY;
  std::vector<bool> seen(kDocs.size());
  for (const auto& x : r) {
    const std::size_t i = x["index"];
    ASSERT_LT(i, kDocs.size());
    seen[i] = true;
    EXPECT_NEAR(x["score"].get<double>(), sig[i], 1e-6);
    EXPECT_EQ(x["text"], kDocs[i]);
    EXPECT_LE(x["score"].get<double>(), prev);  // sorted, highest first
    prev = x["score"];
  }
  for (bool b : seen) EXPECT_TRUE(b);

  json rr = post_json(c, "/rerank", {{"query", kQuery}, {"texts", kDocs}, {"raw_scores", true}}, 200);
  ASSERT_EQ(rr.size(), kDocs.size());
  for (const auto& x : rr) {
    EXPECT_NEAR(x["score"].get<double>(), raw[x["index"].get<std::size_t>()], 1e-5);
    EXPECT_FALSE(x.contains("text"));
  }
  // Sigmoid is computed in double from the fp32 logit.
  EXPECT_NEAR(r[0]["score"].get<double>(), sigmoid(rr[0]["score"].get<double>()), 1e-6);

  // TEI aliases; top_n is honoured as an extension.
  json a = post_json(c, "/", {{"query", kQuery}, {"texts", kDocs}, {"top_n", 2}}, 200);
  EXPECT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0]["index"], r[0]["index"]);
  json b = post_json(c, "/invocations", {{"query", kQuery}, {"texts", kDocs}}, 200);
  EXPECT_EQ(b.size(), kDocs.size());
}

TEST(Server, CohereV2Shape) {
  auto s = start(shared_engine());
  auto c = s.client();
  const auto sig = engine_scores(kQuery, kDocs, true);
  json r = post_json(c, "/v2/rerank",
                     {{"model", "anything"}, {"query", kQuery}, {"documents", kDocs}, {"top_n", 3}}, 200);
  ASSERT_TRUE(r.is_object());
  EXPECT_TRUE(r["id"].is_string());
  EXPECT_EQ(r["meta"]["api_version"]["version"], "2");
  EXPECT_EQ(r["meta"]["billed_units"]["search_units"], 1);
  EXPECT_GT(r["meta"]["tokens"]["input_tokens"].get<int>(), 0);
  ASSERT_EQ(r["results"].size(), 3u);
  std::vector<double> sorted = sig;
  std::sort(sorted.rbegin(), sorted.rend());
  for (std::size_t k = 0; k < 3; ++k) {
    const auto& x = r["results"][k];
    EXPECT_NEAR(x["relevance_score"].get<double>(), sig[x["index"].get<std::size_t>()], 1e-6);
    EXPECT_NEAR(x["relevance_score"].get<double>(), sorted[k], 1e-6);
    EXPECT_FALSE(x.contains("document"));
  }
  // max_tokens_per_doc caps the documents' tokens.
  json full = post_json(c, "/v2/rerank", {{"query", kQuery}, {"documents", kDocs}}, 200);
  json capped = post_json(c, "/v2/rerank", {{"query", kQuery}, {"documents", kDocs}, {"max_tokens_per_doc", 2}}, 200);
  EXPECT_LT(capped["meta"]["tokens"]["input_tokens"].get<int>(), full["meta"]["tokens"]["input_tokens"].get<int>());
  EXPECT_EQ(full["results"].size(), kDocs.size());
  // A cap at least as long as every document changes nothing.
  json same = post_json(c, "/v2/rerank", {{"query", kQuery}, {"documents", kDocs}, {"max_tokens_per_doc", 400}}, 200);
  for (std::size_t k = 0; k < kDocs.size(); ++k) {
    EXPECT_EQ(same["results"][k]["index"], full["results"][k]["index"]);
    EXPECT_NEAR(same["results"][k]["relevance_score"].get<double>(),
                full["results"][k]["relevance_score"].get<double>(), 1e-6);
  }
}

TEST(Server, JinaShapeOnV1AndOnRerankWithDocuments) {
  auto s = start(shared_engine());
  auto c = s.client();
  const auto sig = engine_scores(kQuery, kDocs, true);
  json docs = json::array();
  for (std::size_t i = 0; i < kDocs.size(); ++i) docs.push_back(i % 2 ? json(kDocs[i]) : json{{"text", kDocs[i]}});
  json r = post_json(c, "/v1/rerank", {{"model", "m"}, {"query", kQuery}, {"documents", docs}, {"top_n", 2}}, 200);
  EXPECT_EQ(r["model"], kModel);
  EXPECT_GT(r["usage"]["total_tokens"].get<int>(), 0);
  EXPECT_EQ(r["usage"]["total_tokens"], r["usage"]["prompt_tokens"]);
  ASSERT_EQ(r["results"].size(), 2u);
  for (const auto& x : r["results"]) {
    const std::size_t i = x["index"];
    EXPECT_NEAR(x["relevance_score"].get<double>(), sig[i], 1e-6);
    EXPECT_EQ(x["document"]["text"], kDocs[i]);  // Jina returns documents by default
  }
  json nodocs = post_json(c, "/v1/rerank", {{"query", kQuery}, {"documents", kDocs}, {"return_documents", false}}, 200);
  ASSERT_EQ(nodocs["results"].size(), kDocs.size());
  EXPECT_FALSE(nodocs["results"][0].contains("document"));
  // /rerank decides by the body's keys: "documents" -> Jina shape (RAGFlow, llama.cpp clients).
  json viarerank = post_json(c, "/rerank", {{"model", "m"}, {"query", kQuery}, {"documents", kDocs}, {"top_n", 5}}, 200);
  ASSERT_TRUE(viarerank.is_object());
  ASSERT_EQ(viarerank["results"].size(), kDocs.size());
  EXPECT_EQ(viarerank["results"][0]["index"], r["results"][0]["index"]);
}

TEST(Server, ErrorStatusesAndShapes) {
  ServerOptions o = test_options();
  o.max_client_batch_size = 3;
  o.max_concurrent_pairs = 16;
  o.payload_limit = 4096;
  o.max_length = 16;
  auto s = start(shared_engine(), o);
  auto c = s.client();
  const std::vector<std::string> three = {"a", "b", "c"};
  // Too many documents -> 422 naming the limit.
  expect_tei_error(post_json(c, "/rerank", {{"query", "q"}, {"texts", {"a", "b", "c", "d"}}}, 422), "Validation",
                   "maximum allowed batch size 3");
  expect_cohere_error(post_json(c, "/v2/rerank", {{"query", "q"}, {"documents", {"a", "b", "c", "d"}}}, 422), 422,
                      "batch size 3");
  // Empty list -> 400 Empty.
  expect_tei_error(post_json(c, "/rerank", {{"query", "q"}, {"texts", json::array()}}, 400), "Empty");
  expect_cohere_error(post_json(c, "/v1/rerank", {{"query", "q"}, {"documents", json::array()}}, 400), 400);
  // Empty query, empty document -> 422.
  expect_tei_error(post_json(c, "/rerank", {{"query", ""}, {"texts", three}}, 422), "Validation", "`query`");
  expect_tei_error(post_json(c, "/rerank", {{"query", "q"}, {"texts", {"a", ""}}}, 422), "Validation", "`texts[1]`");
  // Wrong field types -> 422 naming the field.
  expect_tei_error(post_json(c, "/rerank", {{"query", 3}, {"texts", three}}, 422), "Validation", "`query`");
  expect_tei_error(post_json(c, "/rerank", {{"query", "q"}, {"texts", "abc"}}, 422), "Validation", "`texts`");
  expect_tei_error(post_json(c, "/rerank", {{"query", "q"}, {"texts", {"a", 1}}}, 422), "Validation", "`texts[1]`");
  expect_tei_error(post_json(c, "/rerank", {{"query", "q"}, {"texts", three}, {"raw_scores", "yes"}}, 422),
                   "Validation", "`raw_scores`");
  expect_tei_error(post_json(c, "/rerank", {{"query", "q"}}, 422), "Validation", "missing field `texts`");
  expect_cohere_error(post_json(c, "/v2/rerank", {{"query", "q"}, {"documents", three}, {"top_n", "2"}}, 422), 422,
                      "`top_n`");
  expect_cohere_error(post_json(c, "/v2/rerank", {{"query", "q"}, {"documents", three}, {"top_n", -1}}, 422), 422,
                      "`top_n`");
  expect_cohere_error(post_json(c, "/v2/rerank", {{"query", "q"}, {"documents", three}, {"max_tokens_per_doc", 0}}, 422),
                      422, "`max_tokens_per_doc`");
  expect_cohere_error(post_json(c, "/v1/rerank", {{"query", "q"}, {"documents", {json{{"txt", "a"}}}}}, 422), 422,
                      "`documents[0]`");
  expect_cohere_error(post_json(c, "/v1/rerank", json::array({1, 2}), 422), 422, "JSON object");
  // Malformed JSON and invalid UTF-8 -> 422.
  {
    auto res = c.Post("/rerank", "{\"query\": \"q\", \"texts\": [", "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 422);
    expect_tei_error(json::parse(res->body), "Validation", "not valid JSON");
    auto res2 = c.Post("/v2/rerank", std::string("{\"query\": \"q\", \"documents\": [\"\xff\xfe\"]}"), "application/json");
    ASSERT_TRUE(res2);
    EXPECT_EQ(res2->status, 422);
    expect_cohere_error(json::parse(res2->body), 422, "UTF-8");
    auto res3 = c.Post("/rerank", "", "application/json");
    ASSERT_TRUE(res3);
    EXPECT_EQ(res3->status, 422);
  }
  // Body over --payload-limit -> 413 in the route's shape.
  {
    const std::string big = json{{"query", "q"}, {"texts", {std::string(5000, 'x')}}}.dump();
    auto res = c.Post("/rerank", big, "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 413);
    expect_tei_error(json::parse(res->body), "PayloadTooLarge", "4096");
    auto res2 = c.Post("/v2/rerank", big, "application/json");
    ASSERT_TRUE(res2);
    EXPECT_EQ(res2->status, 413);
    expect_cohere_error(json::parse(res2->body), 413, "--payload-limit");
  }
  // truncate=false with an over-long pair -> 422 naming the limit; default truncates.
  const std::string longdoc = "the giant panda eats bamboo in the mountains of central china every single day";
  expect_tei_error(post_json(c, "/rerank", {{"query", "q"}, {"texts", {longdoc}}, {"truncate", false}}, 422),
                   "Validation", "at most 16 tokens");
  post_json(c, "/rerank", {{"query", "q"}, {"texts", {longdoc}}}, 200);
  post_json(c, "/rerank", {{"query", "q"}, {"texts", {"short"}}, {"truncate", false}}, 200);
  expect_tei_error(post_json(c, "/rerank", {{"query", "q"}, {"texts", three}, {"truncation_direction", "up"}}, 422),
                   "Validation", "`truncation_direction` must be one of");
  post_json(c, "/rerank", {{"query", "q"}, {"texts", three}, {"truncation_direction", "Right"}}, 200);
  post_json(c, "/rerank", {{"query", "q"}, {"texts", three}, {"truncation_direction", "Left"}}, 200);
  // Integers above the documented maximum -> 422 naming the field.
  expect_cohere_error(post_json(c, "/v2/rerank", {{"query", "q"}, {"documents", three}, {"top_n", 1ull << 40}}, 422), 422,
                      "`top_n` must be <=");
  // An outsized query (250 bytes per token of --max-length) -> 422.
  expect_tei_error(post_json(c, "/rerank", {{"query", std::string(4001, 'a')}, {"texts", {"a"}}}, 422), "Validation",
                   "`query` is too long");
  // Unknown route -> 404 JSON.
  expect_tei_error(post_json(c, "/nope", {{"query", "q"}}, 404), "NotFound");
  // Every failure was counted by outcome.
  const std::string m = metrics_text(c);
  EXPECT_GE(metric(m, "crossrank_requests_total{route=\"/rerank\",outcome=\"validation\"}"), 8);
  EXPECT_EQ(metric(m, "crossrank_requests_total{route=\"/rerank\",outcome=\"empty\"}"), 1);
  EXPECT_EQ(metric(m, "crossrank_requests_total{route=\"/rerank\",outcome=\"too_large\"}"), 1);
}

TEST(Server, ApiKey) {
  ServerOptions o = test_options();
  o.api_key = "sekret";
  auto s = start(shared_engine(), o);
  auto c = s.client();
  const json body = {{"query", "q"}, {"texts", {"a"}}};
  expect_tei_error(post_json(c, "/rerank", body, 401), "Unauthorized");
  expect_tei_error(post_json(c, "/rerank", body, 401, {{"Authorization", "Bearer wrong"}}), "Unauthorized");
  expect_cohere_error(post_json(c, "/v2/rerank", {{"query", "q"}, {"documents", {"a"}}}, 401, {{"Authorization", "sekret"}}),
                      401);
  post_json(c, "/rerank", body, 200, {{"Authorization", "Bearer sekret"}});
  auto info = c.Get("/info");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->status, 401);
  auto h = c.Get("/health");  // probes need no key
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
}

TEST(Server, HealthInfoOpenApi) {
  auto s = start(shared_engine());
  auto c = s.client();
  EXPECT_TRUE(s.server->ready());
  auto h = c.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_TRUE(h->body.empty());
  auto i = c.Get("/info");
  ASSERT_TRUE(i);
  ASSERT_EQ(i->status, 200);
  json info = json::parse(i->body);
  EXPECT_EQ(info["model_id"], kModel);
  EXPECT_EQ(info["max_input_length"], 512);
  EXPECT_EQ(info["max_batch_tokens"], 2048);  // auto on CPU: max(2048, max_length)
  EXPECT_EQ(info["max_client_batch_size"], 1000);
  EXPECT_EQ(info["version"], version());
  EXPECT_TRUE(info["model_type"].contains("reranker"));
  EXPECT_EQ(info["model_dtype"], "fp32");
  auto d = c.Get("/openapi.json");
  ASSERT_TRUE(d);
  ASSERT_EQ(d->status, 200);
  json doc = json::parse(d->body);
  EXPECT_EQ(doc["openapi"], "3.0.3");
  for (const char* p : {"/rerank", "/v1/rerank", "/v2/rerank", "/health", "/info", "/metrics"})
    EXPECT_TRUE(doc["paths"].contains(p)) << p;
  EXPECT_TRUE(doc["components"]["schemas"].contains("TeiRerankRequest"));
}

TEST(Server, MetricsAndCacheHits) {
  auto s = start(shared_engine());
  auto c = s.client();
  const std::string m0 = metrics_text(c);
  for (const char* name : {"crossrank_requests_total", "crossrank_pairs_total", "crossrank_queue_size",
                           "crossrank_batch_size_bucket", "crossrank_batch_tokens_bucket",
                           "crossrank_queue_duration_seconds_bucket", "crossrank_inference_duration_seconds_bucket",
                           "crossrank_request_duration_seconds_bucket", "crossrank_cache_hits_total",
                           "crossrank_cache_misses_total", "crossrank_dropped_pairs_total"})
    EXPECT_NE(m0.find(name), std::string::npos) << name;
  EXPECT_EQ(metric(m0, "crossrank_requests_total{route=\"/rerank\",outcome=\"success\"}"), 0);
  const json body = {{"query", "cache me"}, {"texts", kDocs}};
  auto r1 = c.Post("/rerank", body.dump(), "application/json");
  ASSERT_TRUE(r1);
  ASSERT_EQ(r1->status, 200);
  EXPECT_EQ(r1->get_header_value("x-cache-hits"), "0");
  auto r2 = c.Post("/rerank", body.dump(), "application/json");
  ASSERT_TRUE(r2);
  ASSERT_EQ(r2->status, 200);
  EXPECT_EQ(r2->get_header_value("x-cache-hits"), std::to_string(kDocs.size()));
  EXPECT_EQ(r1->body, r2->body);  // same scores, same order
  const std::string m1 = metrics_text(c);
  EXPECT_EQ(metric(m1, "crossrank_requests_total{route=\"/rerank\",outcome=\"success\"}"), 2);
  EXPECT_EQ(metric(m1, "crossrank_pairs_total{route=\"/rerank\",outcome=\"success\"}"), 2.0 * kDocs.size());
  EXPECT_EQ(metric(m1, "crossrank_cache_hits_total") - metric(m0, "crossrank_cache_hits_total"), kDocs.size());
  EXPECT_EQ(metric(m1, "crossrank_cache_misses_total") - metric(m0, "crossrank_cache_misses_total"), kDocs.size());
  EXPECT_GT(metric(m1, "crossrank_batch_size_count"), metric(m0, "crossrank_batch_size_count"));
  EXPECT_EQ(metric(m1, "crossrank_request_duration_seconds_count"), 2);
  // Different settings (a raw-score request shares the logit; truncate=false does not).
  auto r3 = c.Post("/rerank", json{{"query", "cache me"}, {"texts", kDocs}, {"truncate", false}}.dump(), "application/json");
  ASSERT_TRUE(r3);
  EXPECT_EQ(r3->get_header_value("x-cache-hits"), "0");
  auto r4 = c.Post("/rerank", json{{"query", "cache me"}, {"texts", kDocs}, {"raw_scores", true}}.dump(), "application/json");
  ASSERT_TRUE(r4);
  EXPECT_EQ(r4->get_header_value("x-cache-hits"), std::to_string(kDocs.size()));
}

TEST(Server, CacheOffStillScores) {
  ServerOptions o = test_options();
  o.cache_mb = 0;
  auto s = start(shared_engine(), o);
  auto c = s.client();
  const json body = {{"query", "q"}, {"texts", kDocs}};
  auto r1 = c.Post("/rerank", body.dump(), "application/json");
  auto r2 = c.Post("/rerank", body.dump(), "application/json");
  ASSERT_TRUE(r1 && r2);
  EXPECT_EQ(r2->get_header_value("x-cache-hits"), "0");
  EXPECT_EQ(r1->body, r2->body);
}

TEST(Server, BatchEqualsSingle) {
  ServerOptions o = test_options();
  o.cache_mb = 0;
  auto s = start(shared_engine(), o);
  auto c = s.client();
  json batch = post_json(c, "/rerank", {{"query", kQuery}, {"texts", kDocs}, {"raw_scores", true}}, 200);
  std::vector<double> from_batch(kDocs.size());
  for (const auto& x : batch) from_batch[x["index"].get<std::size_t>()] = x["score"];
  for (std::size_t i = 0; i < kDocs.size(); ++i) {
    json one = post_json(c, "/rerank", {{"query", kQuery}, {"texts", {kDocs[i]}}, {"raw_scores", true}}, 200);
    ASSERT_EQ(one.size(), 1u);
    EXPECT_NEAR(one[0]["score"].get<double>(), from_batch[i], 1e-5) << i;
  }
}

TEST(Server, ConcurrentClientsGetCorrectResults) {
  ServerOptions o = test_options();
  o.cache_mb = 0;
  o.max_batch_tokens = 2048;  // several passes, mixed across requests
  auto s = start(shared_engine(), o);
  constexpr int kThreads = 16, kDocsPer = 20;
  std::vector<std::string> queries;
  std::vector<std::vector<std::string>> docs(kThreads);
  std::vector<std::vector<double>> expected(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    queries.push_back("query number " + std::to_string(t) + " about pandas");
    for (int k = 0; k < kDocsPer; ++k) {
      std::string d = "document " + std::to_string(k) + " for client " + std::to_string(t);
      for (int w = 0; w < (k * 7 + t) % 23; ++w) d += " bamboo forest";
      docs[t].push_back(d);
    }
    expected[t] = engine_scores(queries[t], docs[t], true);
  }
  std::atomic<int> ok{0};
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> th;
  for (int t = 0; t < kThreads; ++t) {
    th.emplace_back([&, t] {
      auto c = s.client();
      for (int rep = 0; rep < 2; ++rep) {
        auto res = c.Post("/rerank", json{{"query", queries[t]}, {"texts", docs[t]}}.dump(), "application/json");
        if (!res || res->status != 200) {
          failures[t] = res ? res->body : "no response: " + httplib::to_string(res.error()) + " (rep " +
                                              std::to_string(rep) + ")";
          return;
        }
        json r = json::parse(res->body);
        if (r.size() != static_cast<std::size_t>(kDocsPer)) {
          failures[t] = "wrong size";
          return;
        }
        for (const auto& x : r) {
          const double want = expected[t][x["index"].get<std::size_t>()];
          if (std::fabs(x["score"].get<double>() - want) > 1e-6) {
            failures[t] = "score mismatch " + x.dump() + " want " + std::to_string(want);
            return;
          }
        }
        ++ok;
      }
    });
  }
  for (auto& x : th) x.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_TRUE(failures[t].empty()) << t << ": " << failures[t];
  EXPECT_EQ(ok.load(), 2 * kThreads);
  expect_permits_returned(*s.server);
}

TEST(Server, OverloadGives429WithRetryAfter) {
  GatedEngine g(shared_engine());
  ServerOptions o = test_options();
  o.max_client_batch_size = 4;
  o.max_concurrent_pairs = 4;
  o.cache_mb = 0;
  auto s = start(g, o);
  g.close();
  const int before = g.entered();
  std::thread holder([&] {
    auto c = s.client();
    post_json(c, "/rerank", {{"query", "q"}, {"texts", {"a", "b", "c"}}}, 200);
  });
  ASSERT_TRUE(g.wait_entered(before + 1));  // 3 pairs admitted, held in forward()
  auto c = s.client();
  auto res = c.Post("/rerank", json{{"query", "q"}, {"texts", {"x", "y"}}}.dump(), "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 429);
  EXPECT_EQ(res->get_header_value("Retry-After"), "1");
  expect_tei_error(json::parse(res->body), "Overloaded", "--max-concurrent-pairs");
  expect_cohere_error(post_json(c, "/v2/rerank", {{"query", "q"}, {"documents", {"x", "y"}}}, 429), 429);
  g.open();
  holder.join();
  EXPECT_EQ(metric(metrics_text(c), "crossrank_requests_total{route=\"/rerank\",outcome=\"overloaded\"}"), 1);
}

TEST(Server, DisconnectedClientsPairsAreDropped) {
  GatedEngine g(shared_engine());
  ServerOptions o = test_options();
  o.cache_mb = 0;
  auto s = start(g, o);
  g.close();
  const int before = g.entered();
  std::thread blocker([&] {
    auto c = s.client();
    post_json(c, "/rerank", {{"query", "q"}, {"texts", {"first"}}}, 200);
  });
  ASSERT_TRUE(g.wait_entered(before + 1));  // the worker is stuck in a pass
  {
    httplib::Client impatient("127.0.0.1", s.port);
    impatient.set_read_timeout(0, 300 * 1000);
    auto res = impatient.Post("/rerank", json{{"query", "q"}, {"texts", {"a", "b", "c"}}}.dump(), "application/json");
    EXPECT_FALSE(res);  // gave up and closed the connection
  }
  // The handler notices the closed socket within its polling interval.
  auto c = s.client();
  double outcome = 0;
  for (int i = 0; i < 100 && outcome < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    outcome = metric(metrics_text(c), "crossrank_requests_total{route=\"/rerank\",outcome=\"dropped\"}");
  }
  EXPECT_EQ(outcome, 1);
  g.open();
  blocker.join();
  double dropped = 0;
  for (int i = 0; i < 100 && dropped < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    dropped = metric(metrics_text(c), "crossrank_dropped_pairs_total");
  }
  EXPECT_EQ(dropped, 3);  // never ran
  expect_permits_returned(*s.server);
}

TEST(Server, BackendFailureIs424AndServerSurvives) {
  GatedEngine g(shared_engine());
  ServerOptions o = test_options();
  o.cache_mb = 0;
  auto s = start(g, o);
  auto c = s.client();
  g.fail_ = true;
  expect_tei_error(post_json(c, "/rerank", {{"query", "q"}, {"texts", {"a", "b"}}}, 424), "Backend",
                   "injected backend failure");
  expect_cohere_error(post_json(c, "/v2/rerank", {{"query", "q"}, {"documents", {"a"}}}, 424), 424);
  g.fail_ = false;
  g.nan_ = true;
  expect_tei_error(post_json(c, "/rerank", {{"query", "q"}, {"texts", {"a"}}}, 424), "Backend", "not finite");
  g.nan_ = false;
  post_json(c, "/rerank", {{"query", "q"}, {"texts", {"a", "b"}}}, 200);
  auto h = c.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
}

TEST(Server, StopFinishesRequestsInFlight) {
  GatedEngine g(shared_engine());
  ServerOptions o = test_options();
  o.cache_mb = 0;
  auto s = start(g, o);
  g.close();
  const int before = g.entered();
  std::atomic<int> status{0};
  std::thread client([&] {
    auto c = s.client();
    auto res = c.Post("/rerank", json{{"query", "q"}, {"texts", {"a", "b"}}}.dump(), "application/json");
    status = res ? res->status : -1;
  });
  ASSERT_TRUE(g.wait_entered(before + 1));
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    s.server->stop();
    stopped = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(stopped.load());  // waits for the request in flight
  EXPECT_FALSE(s.server->ready());
  g.open();
  stopper.join();
  client.join();
  EXPECT_EQ(status.load(), 200);
  // No longer accepting.
  httplib::Client c2("127.0.0.1", s.port);
  c2.set_connection_timeout(1, 0);
  EXPECT_FALSE(c2.Get("/health"));
}

TEST(Server, RejectsBadOptions) {
  ServerOptions o = test_options();
  o.max_length = 100000;
  EXPECT_THROW(Server(shared_engine(), o), Error);
  o = test_options();
  o.max_batch_tokens = 100;
  EXPECT_THROW(Server(shared_engine(), o), Error);
  o = test_options();
  o.max_concurrent_pairs = 10;
  EXPECT_THROW(Server(shared_engine(), o), Error);
  // Port already taken.
  auto s = start(shared_engine());
  o = test_options();
  o.port = s.port;
  Server clash(shared_engine(), o);
  EXPECT_THROW(clash.start(), Error);
}

TEST(Server, DecodeUnit) {
  DecodeLimits lim;
  EXPECT_EQ(detect_dialect(json{{"query", "q"}, {"documents", {"a"}}}), Dialect::kInfinity);
  EXPECT_EQ(detect_dialect(json{{"query", "q"}, {"texts", {"a"}}, {"documents", {"a"}}}), Dialect::kTei);
  RerankRequest r = decode_rerank(json{{"query", "q"}, {"texts", {"a", "b"}}, {"truncate", nullptr}}, Dialect::kTei, lim);
  EXPECT_FALSE(r.truncate.has_value());
  EXPECT_EQ(r.documents.size(), 2u);
  try {
    decode_rerank(json{{"query", "q"}, {"documents", {"a", json::object()}}}, Dialect::kCohere, lim);
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 422);
    EXPECT_NE(std::string(e.what()).find("`documents[1]`"), std::string::npos);
  }
  const std::vector<double> sc = {0.1, 0.9, 0.5, 0.9};
  auto ranked = rank_scores(sc, 3);
  ASSERT_EQ(ranked.size(), 3u);
  EXPECT_EQ(ranked[0].index, 1u);  // ties keep input order
  EXPECT_EQ(ranked[1].index, 3u);
  EXPECT_EQ(ranked[2].index, 2u);
  EXPECT_THROW(parse_body("{\"a\": \"\xc0\xaf\"}"), ApiError);  // overlong encoding
  EXPECT_THROW(parse_body("{\"a\": \"\\ud800\"}"), ApiError);   // lone surrogate escape
  EXPECT_THROW(parse_body("{\"top_n\": 1e99999}"), ApiError);      // double overflow (fuzzer find)
}

namespace {

// Records every forward pass; the logit of a pair is the sum of its ids, so results can
// be checked against the slot they were submitted for.
class RecordingEngine : public Engine {
 public:
  std::vector<double> score(std::span<const Pair>, const ScoreOptions&) override { return {}; }
  EncodedPair encode(std::string_view, std::string_view, const ScoreOptions&) const override { return {}; }
  std::vector<float> forward(std::span<const EncodedPair* const> batch) override {
    std::lock_guard<std::mutex> lock(mu);
    std::size_t tokens = 0;
    std::vector<float> out;
    for (const EncodedPair* p : batch) {
      tokens += p->ids.size();
      float s = 0;
      for (int id : p->ids) s += static_cast<float>(id);
      out.push_back(s);
    }
    passes.emplace_back(batch.size(), tokens);
    std::vector<int> firsts;  // first id of each pair: identifies its job
    for (const EncodedPair* p : batch) firsts.push_back(p->ids.empty() ? -1 : p->ids[0]);
    pass_ids.push_back(firsts);
    if (oom_once.exchange(false) && batch.size() > 1) throw std::bad_alloc();
    return out;
  }
  // 1 KiB per token against a 64 KiB budget: passes over 64 tokens are memory-bound.
  std::size_t activation_bytes(int t, int, int) const override { return static_cast<std::size_t>(t) << 10; }
  std::size_t memory_budget() const override { return budget; }
  int preferred_batch_tokens() const override { return 2048; }
  const ModelInfo& info() const override { return info_; }
  DType dtype() const override { return DType::kFp32; }
  BackendKind backend() const override { return BackendKind::kReference; }
  std::size_t budget = std::size_t{1} << 40;
  std::atomic<bool> oom_once{false};
  std::vector<std::vector<int>> pass_ids;
  std::mutex mu;
  std::vector<std::pair<std::size_t, std::size_t>> passes;  // (pairs, tokens)
  ModelInfo info_;
};

EncodedPair pair_of_len(std::size_t len, int base) {
  EncodedPair e;
  for (std::size_t i = 0; i < len; ++i) e.ids.push_back(base + static_cast<int>(i));
  e.type_ids.assign(len, 0);
  return e;
}

}  // namespace

TEST(Server, BatcherRespectsBudgetsAndMapsSlots) {
  RecordingEngine eng;
  BatcherOptions bo;
  bo.max_batch_tokens = 100;
  bo.max_batch_requests = 4;
  std::vector<std::shared_ptr<Job>> jobs;
  std::vector<std::vector<float>> want;
  {
    Batcher b(eng, bo);
    for (int j = 0; j < 10; ++j) {
      const std::size_t n = 1 + j % 7;
      auto job = std::make_shared<Job>(n);
      std::vector<std::pair<std::uint32_t, EncodedPair>> pairs;
      std::vector<float> w(n);
      for (std::size_t i = 0; i < n; ++i) {
        EncodedPair e = pair_of_len(3 + (i * 13 + j * 5) % 60, 1000 * j + static_cast<int>(i));
        for (int id : e.ids) w[i] += static_cast<float>(id);
        pairs.emplace_back(static_cast<std::uint32_t>(i), std::move(e));
      }
      b.submit(job, std::move(pairs));
      jobs.push_back(job);
      want.push_back(w);
    }
    for (auto& job : jobs) ASSERT_TRUE(job->wait_for(std::chrono::seconds(10)));
  }  // ~Batcher: stop() joins the worker
  for (std::size_t j = 0; j < jobs.size(); ++j)
    for (std::size_t i = 0; i < want[j].size(); ++i) {
      EXPECT_TRUE(jobs[j]->ok(i));
      EXPECT_EQ(jobs[j]->logit(i), want[j][i]) << j << "/" << i;
    }
  std::size_t total = 0;
  for (auto [pairs, tokens] : eng.passes) {
    EXPECT_LE(pairs, 4u);
    EXPECT_LE(tokens, 100u);
    total += pairs;
  }
  EXPECT_EQ(total, 34u);  // 1+2+...+7+1+2+3
}

TEST(Server, ScoreCacheIsBoundedLru) {
  ScoreCache c(16 * ScoreCache::kEntryBytes * 4);  // 4 entries per shard
  EXPECT_TRUE(c.enabled());
  for (int i = 0; i < 1000; ++i) c.put(c.make_key("s", "q", std::to_string(i)), {static_cast<float>(i), i});
  EXPECT_LE(c.entries(), 64u);
  EXPECT_GT(c.evictions(), 900u);
  CachedScore v;
  EXPECT_TRUE(c.get(c.make_key("s", "q", "999"), &v));  // most recent survives
  EXPECT_EQ(v.logit, 999.0f);
  EXPECT_EQ(v.tokens, 999);
  EXPECT_FALSE(c.get(c.make_key("s", "q", "0"), &v));   // oldest evicted
  EXPECT_FALSE(c.get(c.make_key("t", "q", "999"), &v));  // settings are part of the key
  EXPECT_EQ(c.hits(), 1u);
  EXPECT_EQ(c.misses(), 2u);
  ScoreCache off(0);
  off.put(off.make_key("s", "q", "d"), {1.0f, 1});
  EXPECT_FALSE(off.get(off.make_key("s", "q", "d"), &v));
  EXPECT_EQ(off.entries(), 0u);
}

TEST(Server, BertModelScoresAndDocCap) {
  static std::unique_ptr<Engine> bert = Engine::open("synthetic:tiny-bert");
  auto s = start(*bert);
  auto c = s.client();
  std::vector<Pair> pairs;
  for (const auto& d : kDocs) pairs.push_back({kQuery, d});
  ScoreOptions so;
  so.max_length = std::min(512, bert->info().max_length);
  so.normalize = true;
  const auto want = bert->score(pairs, so);
  json full = post_json(c, "/v2/rerank", {{"query", kQuery}, {"documents", kDocs}}, 200);
  for (const auto& x : full["results"])
    EXPECT_NEAR(x["relevance_score"].get<double>(), want[x["index"].get<std::size_t>()], 1e-6);
  // A cap no document reaches rebuilds exactly the same [CLS] q [SEP] d [SEP] pairs.
  json same = post_json(c, "/v2/rerank", {{"query", kQuery}, {"documents", kDocs}, {"max_tokens_per_doc", 300}}, 200);
  EXPECT_EQ(same["meta"]["tokens"], full["meta"]["tokens"]);
  for (std::size_t k = 0; k < kDocs.size(); ++k)
    EXPECT_NEAR(same["results"][k]["relevance_score"].get<double>(),
                full["results"][k]["relevance_score"].get<double>(), 1e-6);
  // A 1-token cap: query + 1 + 3 specials per pair.
  json one = post_json(c, "/v2/rerank", {{"query", kQuery}, {"documents", kDocs}, {"max_tokens_per_doc", 1}}, 200);
  const int q_tokens = static_cast<int>(bert->encode(kQuery, "x", so).ids.size()) - 4;  // "x" is one token
  EXPECT_EQ(one["meta"]["tokens"]["input_tokens"].get<int>(), static_cast<int>(kDocs.size()) * (q_tokens + 4));
}

TEST(Server, BatcherKeepsRequestsTogetherAndHonoursMemory) {
  // Requests of 6 pairs x 10 tokens under a 30-pair / 1000-token cap: each pass holds
  // whole requests (a decoder's shared prefix K/V stays in one pass), oldest first.
  {
    RecordingEngine eng;
    BatcherOptions bo;
    bo.max_batch_tokens = 1000;
    bo.max_batch_requests = 30;
    std::vector<std::shared_ptr<Job>> jobs;
    {
      Batcher b(eng, bo);
      for (int j = 0; j < 20; ++j) {
        auto job = std::make_shared<Job>(6);
        std::vector<std::pair<std::uint32_t, EncodedPair>> pairs;
        for (int i = 0; i < 6; ++i) {
          EncodedPair e = pair_of_len(10, 0);
          e.ids[0] = j;  // job id in the first position
          pairs.emplace_back(static_cast<std::uint32_t>(i), std::move(e));
        }
        b.submit(job, std::move(pairs));
        jobs.push_back(job);
      }
      for (auto& job : jobs) ASSERT_TRUE(job->wait_for(std::chrono::seconds(10)));
    }
    int split = 0;
    std::vector<int> count(20, 0);
    for (const auto& pass : eng.pass_ids) {
      std::map<int, int> per_job;
      for (int id : pass) ++per_job[id];
      for (auto [id, n] : per_job) {
        if (n != 6) ++split;
        count[id] += n;
      }
    }
    EXPECT_EQ(split, 0) << "a request was split over passes although whole requests fit";
    for (int n : count) EXPECT_EQ(n, 6);
  }
  // The memory estimate (1 KiB per token, 64 KiB budget) caps passes at 64 tokens even
  // though the token cap would allow 1000; a bad_alloc shrinks passes to 3/4 and re-runs.
  {
    RecordingEngine eng;
    eng.budget = 64 << 10;
    eng.oom_once = true;
    BatcherOptions bo;
    bo.max_batch_tokens = 1000;
    auto job = std::make_shared<Job>(40);
    {
      Batcher b(eng, bo);
      std::vector<std::pair<std::uint32_t, EncodedPair>> pairs;
      for (int i = 0; i < 40; ++i) pairs.emplace_back(static_cast<std::uint32_t>(i), pair_of_len(8, i));
      b.submit(job, std::move(pairs));
      ASSERT_TRUE(job->wait_for(std::chrono::seconds(10)));
    }
    for (int i = 0; i < 40; ++i) EXPECT_TRUE(job->ok(static_cast<std::size_t>(i))) << i;
    ASSERT_GE(eng.passes.size(), 2u);
    EXPECT_EQ(eng.passes[0].first, 8u);  // 8 x 8 tokens = the 64 KiB budget; this one failed
    for (std::size_t k = 1; k < eng.passes.size(); ++k) {
      EXPECT_LE(eng.passes[k].second, 64u);
      EXPECT_LE(eng.passes[k].first, 6u);  // 3/4 of the failed pass
    }
  }
}

// A client that half-closes (shutdown(SHUT_WR)) while its request waits for the model is
// still reading: the server's 1xx probe must not mistake it for a disconnect.
TEST(Server, HalfCloseWhileQueuedIsNotADisconnect) {
  GatedEngine g(shared_engine());
  ServerOptions o = test_options();
  o.cache_mb = 0;
  auto s = start(g, o);
  g.close();
  const int before = g.entered();
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(s.port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  const std::string body = json{{"query", "q"}, {"texts", {"a", "b"}}}.dump();
  const std::string req = "POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                          "\r\n\r\n" + body;
  ASSERT_EQ(send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  ASSERT_TRUE(g.wait_entered(before + 1));  // held in forward()
  shutdown(fd, SHUT_WR);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the probe and its check run
  g.open();
  std::string got;
  char buf[4096];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  EXPECT_NE(got.find("HTTP/1.1 100 Continue\r\n\r\n"), std::string::npos) << got;  // the probe
  EXPECT_NE(got.find("HTTP/1.1 200 OK"), std::string::npos) << got;
  auto c = s.client();
  EXPECT_EQ(metric(metrics_text(c), "crossrank_requests_total{route=\"/rerank\",outcome=\"success\"}"), 1);
  EXPECT_EQ(metric(metrics_text(c), "crossrank_dropped_pairs_total"), 0);
}
