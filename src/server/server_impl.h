#pragma once
// Private to the server (src/server/server*.cc): the per-model state, the state of one
// rerank request, and Server::Impl, whose members are defined in
//   server.cc         construction, head-time routing (I/O thread), info, lifecycle
//   server_rerank.cc  rerank and v2 infer bodies (prep pool) and their completion
//   server_v2.cc      the Open Inference Protocol v2 GET routes (I/O thread)
#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "scheduler/batcher.h"
#include "scheduler/score_cache.h"
#include "server/api.h"
#include "server/errors.h"
#include "server/http.h"
#include "server/metrics.h"
#include "server/server.h"
#include "server/v2.h"

namespace crossrank {

using Clock = std::chrono::steady_clock;

// Milliseconds from a to b.
inline double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// "12.345": a duration in ms for the x-*-time headers.
inline std::string fmt_ms(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

// A JSON response with `status` and `body`.
inline HttpResponse json_response(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// The error response of dialect `d` for `e`, with the headers its status carries.
inline HttpResponse error_response(Dialect d, const ApiError& e) {
  HttpResponse r = json_response(e.status, encode_error(d, e));
  r.headers = error_headers(e.status);
  return r;
}

// "rerank-" + 32 random hex digits.
std::string request_id();

// One served model: its engine, batcher, cache and metrics.
struct ModelSlot {
  std::string name;
  Engine* engine = nullptr;
  int max_length = 0, max_batch_tokens = 0;
  std::string settings_base;  // cache key prefix: model, truncation mode, max_length
  std::unique_ptr<ScoreCache> cache;
  std::unique_ptr<ServerMetrics> metrics;
  std::unique_ptr<Batcher> batcher;
  std::atomic<std::size_t> in_flight{0};  // this model's share of the admitted pairs
};

// Admission permits of one request (pairs in flight), returned once: before its response
// is written (so that the client's next request finds them free) or, on every other
// path, when the job is destroyed.
struct Permits {
  Permits(std::atomic<std::size_t>& c, std::atomic<std::size_t>& per_model, std::size_t n)
      : counter(c), model_counter(per_model), n(n) {
    model_counter += n;
  }
  ~Permits() { release(); }
  void release() {
    if (!released.exchange(true)) {
      counter -= n;
      model_counter -= n;
    }
  }
  std::atomic<std::size_t>& counter;
  std::atomic<std::size_t>& model_counter;
  std::size_t n;
  std::atomic<bool> released{false};
};

// The state of one rerank request between its hand-off to the batcher and its response.
struct RerankCall {
  std::shared_ptr<Permits> permits;
  Responder respond;
  std::string route;
  Dialect dialect = Dialect::kTei;
  RerankRequest req;
  ModelSlot* model = nullptr;
  std::shared_ptr<Job> job;
  std::vector<CacheKey> keys;
  std::vector<float> logits;
  std::vector<std::int32_t> tokens;
  std::vector<char> cached;
  std::size_t hits = 0;
  std::string v2_id;       // v2 infer: the request's id, echoed
  bool v2_binary = false;  // v2 infer: scores as binary tensor data
  Clock::time_point t0, t_tok;
  std::atomic<bool> finished{false};
  explicit RerankCall(Responder r) : respond(std::move(r)) {}
};

struct Server::Impl final : HttpHandler {
  Impl(std::vector<ServedModel> models, ServerOptions o);

  int start();
  void stop();
  void warm_up(ModelSlot& m);

  // HttpHandler
  std::optional<HttpResponse> on_head(const HttpRequest& head) override;
  // The /v2 routes of the Open Inference Protocol at head time (server_v2.cc): GETs are
  // answered here; an infer POST gets its refusals (method, model, auth, overload) or
  // nullopt to go on to handle_rerank.
  std::optional<HttpResponse> on_v2_head(const HttpRequest& head, const V2Path& p);
  void on_request(HttpRequest req, Responder respond) override;
  HttpResponse on_error(int status, const std::string& message, const std::string& path) override;

  // A rerank or v2 infer body, on the prep pool: decode, admit, look up the cache,
  // tokenize, submit to the model's batcher (or answer at once). Never throws.
  void handle_rerank(const HttpRequest& req, const Responder& respond);
  // The response of a call whose pairs are all scored (or failed/dropped). Once.
  void finish_rerank(const std::shared_ptr<RerankCall>& call);
  // Counts one finished request on model `m` (nullptr: the default model).
  void count(const ModelSlot* m, const std::string& route, int status, std::size_t pairs, double seconds);
  // The 401 of a request without the --api-key bearer token; nullopt when allowed.
  std::optional<ApiError> check_auth(const HttpRequest& req) const;
  // The served model called `name`, or nullptr.
  ModelSlot* find_model(const std::string& name) const;
  // "a, b, c": the served names, for error messages.
  std::string model_names() const;
  // The model a request selects (its "model" field; the default when absent or with one
  // model). Throws ApiError (the dialect's status) for an unknown name.
  ModelSlot& route_model(const RerankRequest& r, Dialect d);
  // The request's encoding options on model `m`.
  ScoreOptions score_options(const ModelSlot& m, const RerankRequest& r) const;
  // GET /info of model `m`.
  std::string info_json(const ModelSlot& m) const;
  // The point-in-time metrics of model `m`.
  MetricsSnapshot snapshot(const ModelSlot& m) const;

  ServerOptions opts_;
  std::vector<std::unique_ptr<ModelSlot>> models_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<boost::asio::thread_pool> prep_;
  std::atomic<bool> ready_{false};
  bool started_ = false, stopped_ = false;
  std::mutex lifecycle_mu_;
  std::atomic<std::size_t> in_flight_{0};
  int port_ = -1;
  std::string openapi_;
  std::string overload_tei_, overload_cohere_, overload_jina_, overload_v2_;
};

}  // namespace crossrank
