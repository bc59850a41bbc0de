// The rerank server: routing, admission control, request preparation (JSON, cache
// lookups, tokenization) on a small worker pool, hand-off to each model's batcher, and
// completion by the batcher's callback. Threads:
//   I/O (HttpServer)   sockets, framing, deadlines, and everything decided from the head
//                      alone: routes, methods, auth, overload refusals, GET routes.
//   prep pool          rerank bodies: parse, decode, encode pairs, cache; and responses.
//   batch worker       one per model: forward passes only.
// so /health and /metrics never wait behind a tokenizer or a forward pass, and refusing a
// request (429) never parses its body.
// The members of Server::Impl are split by concern: this file (construction, routing,
// info, lifecycle), server_rerank.cc (bodies) and server_v2.cc (Open Inference Protocol
// GET routes); their shared declarations are in server_impl.h.
#include "server/server.h"

#include <omp.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "hub/hub.h"
#include "server/server_impl.h"
#include "util/error.h"
#include "util/log.h"

namespace crossrank {

using nlohmann::json;

namespace {

constexpr const char* kRerankRoutes[] = {"/rerank", "/v1/rerank", "/v2/rerank", "/", "/invocations"};

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;  // only the length leaks
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// Dialect of error bodies for a path when the body could not be looked at.
Dialect dialect_of_path(const std::string& path) {
  if (path == "/v2/rerank") return Dialect::kCohere;
  if (path == "/v2" || path.rfind("/v2/", 0) == 0) return Dialect::kV2;
  if (path == "/v1/rerank") return Dialect::kJina;
  return Dialect::kTei;
}

bool is_rerank_route(const std::string& path) {
  for (const char* r : kRerankRoutes)
    if (path == r) return true;
  return false;
}

bool is_get_route(const std::string& path) {
  return path == "/health" || path == "/" || path == "/info" || path == "/metrics" || path == "/openapi.json" ||
         path == "/api-doc/openapi.json";
}

// The name a model is served under when none is given: a hub id's repo ("ORG/NAME", as
// TEI and vLLM name it), else the folder's last component, else the synthetic spec.
std::string base_name(const std::string& n) {
  if (n.rfind("synthetic:", 0) == 0) return n;
  if (hub::is_hub_id(n)) return n.substr(0, n.find('@'));
  std::filesystem::path p(n);
  if (!p.has_filename()) p = p.parent_path();
  return p.filename().string().empty() ? n : p.filename().string();
}

// Lowers the calling thread's scheduling weight (Linux: nice is per thread). The request
// workers run at +5 so that, when clients saturate the CPU, the batch worker (nice 0)
// keeps running passes instead of sharing the cores equally with JSON and tokenization.
void lower_thread_priority(int delta) {
  const pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  errno = 0;
  const int cur = getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
  if (errno == 0) setpriority(PRIO_PROCESS, static_cast<id_t>(tid), std::min(19, cur + delta));
}

}  // namespace


Server::Impl::Impl(std::vector<ServedModel> models, ServerOptions o) : opts_(std::move(o)) {
  check(!models.empty(), "no model to serve");
  for (const ServedModel& sm : models) {
    check(sm.engine != nullptr, "model '" + sm.name + "' has no engine");
    auto m = std::make_unique<ModelSlot>();
    Engine& e = *sm.engine;
    const ModelInfo& mi = e.info();
    m->engine = &e;
    m->name = sm.name.empty() ? (opts_.served_model_name.empty() || models.size() > 1 ? base_name(mi.name)
                                                                                    : opts_.served_model_name)
                              : sm.name;
    for (const auto& other : models_)
      check(other->name != m->name, "model name '" + m->name + "' given twice (--model NAME=DIR names must be unique)");
    m->max_length = opts_.max_length == 0 ? std::min(512, mi.max_length) : opts_.max_length;
    check(m->max_length >= 8 && m->max_length <= mi.max_length,
          "--max-length " + std::to_string(m->max_length) + " outside [8, " + std::to_string(mi.max_length) +
              "] (the limit of model " + m->name + ")");
    m->max_batch_tokens =
        opts_.max_batch_tokens == 0 ? std::max(e.preferred_batch_tokens(), m->max_length) : opts_.max_batch_tokens;
    check(m->max_batch_tokens >= m->max_length,
          "--max-batch-tokens " + std::to_string(m->max_batch_tokens) + " is below --max-length " +
              std::to_string(m->max_length) + ": a full-length pair could never run");
    m->settings_base = mi.name + "|" + to_string(opts_.truncation) + "|" + std::to_string(m->max_length);
    m->cache = std::make_unique<ScoreCache>(opts_.cache_mb << 20);
    std::vector<std::string> routes(std::begin(kRerankRoutes), std::end(kRerankRoutes));
    routes.push_back(kV2InferRoute);
    m->metrics = std::make_unique<ServerMetrics>(
        std::move(routes),
        std::vector<std::pair<std::string, std::string>>{{"version", version()},
                                                         {"model", mi.name},
                                                         {"dtype", to_string(e.dtype())},
                                                         {"backend", to_string(e.backend())}});
    models_.push_back(std::move(m));
  }
  // The effective options are the first (default) model's.
  opts_.max_length = models_[0]->max_length;
  opts_.max_batch_tokens = models_[0]->max_batch_tokens;
  if (opts_.served_model_name.empty() || models_.size() > 1) opts_.served_model_name = models_[0]->name;
  check(opts_.max_batch_requests >= 0, "--max-batch-requests must be >= 0");
  check(opts_.max_client_batch_size >= 1, "--max-client-batch-size must be >= 1");
  check(opts_.max_concurrent_pairs >= opts_.max_client_batch_size,
        "--max-concurrent-pairs " + std::to_string(opts_.max_concurrent_pairs) + " is below --max-client-batch-size " +
            std::to_string(opts_.max_client_batch_size) + ": the largest request could never be admitted");
  check(opts_.payload_limit >= 64, "--payload-limit must be >= 64 bytes");
  check(opts_.max_connections >= 1, "--max-connections must be >= 1");
  // Timeouts in [1 ms, 1 day]: below, no multi-packet request could arrive; above 9.2e9 s
  // the deadline overflowed the clock's int64 nanoseconds and fired at once (408 after
  // 0.3 s with 1e10 s, 2026-12-08).
  auto timeout_ok = [](double s) { return s >= 1e-3 && s <= 86400; };
  check(timeout_ok(opts_.header_timeout_s) && timeout_ok(opts_.body_timeout_s),
        "--header-timeout and --body-timeout must be in [0.001, 86400] seconds");
  check(opts_.keep_alive_seconds >= 1 && opts_.keep_alive_seconds <= 86400, "--keep-alive must be in [1, 86400] seconds");
  check(opts_.reject_delay_ms >= 0 && opts_.reject_delay_ms <= 60000, "--reject-delay-ms must be in [0, 60000]");
  // Thread counts: negative meant the default silently; 100000 request workers used up the
  // machine's process ids, and a pool that failed part-way hung on SIGTERM (2026-12-08).
  check(opts_.http_threads >= 0 && opts_.http_threads <= 1024, "--http-threads must be in [0, 1024] (0: 2)");
  check(opts_.prep_threads >= 0 && opts_.prep_threads <= 1024, "--prep-threads must be in [0, 1024] (0: cores)");
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (opts_.http_threads <= 0) opts_.http_threads = 2;
  if (opts_.prep_threads <= 0) opts_.prep_threads = std::max(2, cores);
  std::vector<std::string> names;
  for (const auto& m : models_) names.push_back(m->name);
  openapi_ = openapi_document(opts_, names);
  const std::string msg = "Model is overloaded: --max-concurrent-pairs " + std::to_string(opts_.max_concurrent_pairs) +
                          " pairs in flight; retry after the Retry-After delay";
  overload_tei_ = encode_error(Dialect::kTei, ApiError(429, "Overloaded", msg));
  overload_cohere_ = encode_error(Dialect::kCohere, ApiError(429, "Overloaded", msg));
  overload_jina_ = encode_error(Dialect::kJina, ApiError(429, "Overloaded", msg));
  overload_v2_ = encode_error(Dialect::kV2, ApiError(429, "Overloaded", msg));
}

std::optional<ApiError> Server::Impl::check_auth(const HttpRequest& req) const {
  if (opts_.api_key.empty()) return std::nullopt;
  const std::string_view h = req.header("authorization");
  const std::string_view prefix = "Bearer ";
  if (h.size() < prefix.size() || h.substr(0, prefix.size()) != prefix ||
      !constant_time_equal(h.substr(prefix.size()), opts_.api_key))
    return ApiError(401, "Unauthorized", h.empty() ? "missing `Authorization: Bearer <key>` header" : "invalid API key");
  return std::nullopt;
}

// Requests refused before their model is known (head refusals, bad bodies) count on the
// default model.
// A v2 400 is a bad tensor (validation), not TEI's empty-list 400.
void Server::Impl::count(const ModelSlot* m, const std::string& route, int status, std::size_t pairs, double seconds) {
  const char* outcome = status == 400 && route == kV2InferRoute ? "validation" : outcome_of(status);
  (m ? *m : *models_[0]).metrics->count_request(route, outcome, pairs, seconds);
}

ModelSlot* Server::Impl::find_model(const std::string& name) const {
  for (const auto& m : models_)
    if (m->name == name) return m.get();
  return nullptr;
}

std::string Server::Impl::model_names() const {
  std::string names;
  for (const auto& m : models_) names += (names.empty() ? "" : ", ") + m->name;
  return names;
}

// ---- head-time decisions (I/O thread) ----

std::optional<HttpResponse> Server::Impl::on_head(const HttpRequest& head) {
  const std::string& path = head.path;
  if (auto v2 = parse_v2_path(path)) return on_v2_head(head, *v2);
  const bool rerank = is_rerank_route(path), get = is_get_route(path);
  if (!rerank && !get)
    return error_response(dialect_of_path(path), ApiError(404, "NotFound", "no route for " + head.method + " " + path));
  const bool is_get = head.method == "GET" || head.method == "HEAD";
  if ((rerank && head.method == "POST" && !(path == "/" && is_get)) || (get && is_get)) {
    // allowed
  } else {
    std::string allow = rerank && get ? "GET, HEAD, POST" : rerank ? "POST" : "GET, HEAD";
    HttpResponse r = error_response(dialect_of_path(path),
                                    ApiError(405, "Validation", "method " + head.method + " not allowed on " + path +
                                                                    " (allowed: " + allow + ")"));
    r.headers.emplace_back("Allow", allow);
    if (rerank) count(nullptr, path, 405, 0, 0);
    return r;
  }
  if (get && is_get) {
    if (path == "/health" || path == "/") {
      if (ready_) return json_response(200, "");
      return error_response(Dialect::kTei, ApiError(503, "Unhealthy", "model is warming up or shutting down"));
    }
    if (path == "/metrics") {
      HttpResponse r;
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      std::vector<MetricsView> views;
      for (const auto& m : models_) views.push_back({m->name, m->metrics.get(), snapshot(*m)});
      r.body = render_metrics(views);
      return r;
    }
    if (path == "/openapi.json" || path == "/api-doc/openapi.json") return json_response(200, openapi_);
    // /info [?model=NAME]
    if (auto e = check_auth(head)) return error_response(Dialect::kTei, *e);
    const ModelSlot* m = models_[0].get();
    if (auto name = head.query_param("model")) {
      m = nullptr;
      for (const auto& s : models_)
        if (s->name == *name) m = s.get();
      if (!m) return error_response(Dialect::kTei, ApiError(404, "NotFound", "no model named '" + *name + "'"));
    }
    return json_response(200, info_json(*m));
  }
  // POST to a rerank route: refusals that need no body.
  const Dialect d = dialect_of_path(path);
  if (auto e = check_auth(head)) {
    count(nullptr, path, 401, 0, 0);
    return error_response(d, *e);
  }
  if (in_flight_.load(std::memory_order_relaxed) >= static_cast<std::size_t>(opts_.max_concurrent_pairs)) {
    // Saturated: refuse before reading or parsing the body, with a pre-rendered body, and
    // hold the answer reject_delay_ms (see ServerOptions::reject_delay_ms).
    count(nullptr, path, 429, 0, 0);
    HttpResponse r = json_response(429, d == Dialect::kTei ? overload_tei_
                                       : d == Dialect::kCohere ? overload_cohere_
                                                               : overload_jina_);
    r.headers = error_headers(429);
    r.delay_ms = opts_.reject_delay_ms;
    return r;
  }
  return std::nullopt;
}

HttpResponse Server::Impl::on_error(int status, const std::string& message, const std::string& path) {
  std::string type = status == 413 ? "PayloadTooLarge" : status == 408 ? "Timeout" : "Validation";
  std::string msg = message;
  if (status == 413) msg = "request body exceeds --payload-limit (" + std::to_string(opts_.payload_limit) + " bytes)";
  if (is_rerank_route(path)) count(nullptr, path, status, 0, 0);
  else if (auto v2 = parse_v2_path(path); v2 && v2->route == V2Route::kInfer) count(nullptr, kV2InferRoute, status, 0, 0);
  return error_response(dialect_of_path(path), ApiError(status, type, msg));
}

void Server::Impl::on_request(HttpRequest req, Responder respond) {
  // Every request that gets here is a rerank or v2 infer POST (on_head answered the rest).
  boost::asio::post(*prep_, [this, req = std::move(req), respond = std::move(respond)] {
    handle_rerank(req, respond);
  });
}

std::string Server::Impl::info_json(const ModelSlot& m) const {
  const Engine& e = *m.engine;
  const ModelInfo& mi = e.info();
  json j;
  j["model_id"] = mi.name;
  j["model_sha"] = nullptr;
  j["model_dtype"] = to_string(e.dtype());
  j["model_type"] = {{"reranker", {{"id2label", {{"0", "LABEL_0"}}}, {"label2id", {{"LABEL_0", 0}}}}}};
  j["served_model_name"] = m.name;
  j["architecture"] = mi.architecture;
  j["family"] = mi.family;
  j["parameters"] = mi.parameters;
  j["layers"] = mi.layers;
  j["hidden"] = mi.hidden;
  j["backend"] = to_string(e.backend());
  j["max_concurrent_requests"] = opts_.max_concurrent_pairs;  // TEI name; counts pairs, as TEI does
  j["max_concurrent_pairs"] = opts_.max_concurrent_pairs;
  j["max_input_length"] = m.max_length;
  j["model_max_length"] = mi.max_length;
  j["max_batch_tokens"] = m.max_batch_tokens;
  j["max_batch_requests"] = opts_.max_batch_requests > 0 ? json(opts_.max_batch_requests) : json(nullptr);
  j["max_client_batch_size"] = opts_.max_client_batch_size;
  j["payload_limit"] = opts_.payload_limit;
  j["memory_budget_bytes"] = e.memory_budget();
  j["auto_truncate"] = true;
  j["truncation"] = to_string(opts_.truncation);
  j["cache_mb"] = opts_.cache_mb;
  j["tokenization_workers"] = opts_.prep_threads;
  j["http_threads"] = opts_.http_threads;
  j["max_connections"] = opts_.max_connections;
  j["compute_threads"] = opts_.compute_threads;
  j["auth"] = !opts_.api_key.empty();
  j["version"] = version();
  j["sha"] = nullptr;
  j["docker_label"] = nullptr;
  json names = json::array();
  for (const auto& s : models_) names.push_back(s->name);
  j["models"] = names;
  return j.dump(2);
}

MetricsSnapshot Server::Impl::snapshot(const ModelSlot& m) const {
  MetricsSnapshot s;
  s.queue_size = m.batcher ? m.batcher->queue_size() : 0;
  s.pairs_in_flight = models_.size() == 1 ? in_flight_.load() : m.in_flight.load();
  s.cache_hits = m.cache->hits();
  s.cache_misses = m.cache->misses();
  s.cache_evictions = m.cache->evictions();
  s.cache_entries = m.cache->entries();
  s.cache_capacity_bytes = m.cache->capacity_bytes();
  s.connections = http_ ? http_->connections() : 0;
  return s;
}

void Server::Impl::warm_up(ModelSlot& m) {
  // One full-length pair: allocates the backend's buffers and proves the model runs.
  std::string doc;
  for (int i = 0; i < m.max_length; ++i) doc += "warm up ";
  ScoreOptions so;
  so.max_length = m.max_length;
  so.truncation = opts_.truncation;
  auto job = std::make_shared<Job>(1);
  std::vector<std::pair<std::uint32_t, EncodedPair>> pairs;
  pairs.emplace_back(0, m.engine->encode("warm up", doc, so));
  const auto t0 = Clock::now();
  m.batcher->submit(job, std::move(pairs));
  while (!job->wait_for(std::chrono::seconds(1))) {
  }
  if (!job->ok(0)) throw Error("warm-up forward pass of model " + m.name + " failed: " + job->error());
  log_info("warm-up forward pass of " + m.name + " (" + std::to_string(m.max_length) + " tokens) took " +
           fmt_ms(ms_between(t0, Clock::now())) + " ms");
}

int Server::Impl::start() {
  {
    std::lock_guard<std::mutex> lock(lifecycle_mu_);
    check(!started_, "server already started");
    started_ = true;
  }
  for (auto& mp : models_) {
    ModelSlot& m = *mp;
    BatcherOptions bo;
    bo.max_batch_tokens = m.max_batch_tokens;
    bo.max_batch_requests = opts_.max_batch_requests;
    bo.window = 1024;
    // OpenMP's thread count is per calling thread: Engine::open's setting does not reach
    // the batch worker, so apply --threads there.
    bo.on_worker_start = [t = opts_.compute_threads] {
      if (t > 0) omp_set_num_threads(t);
    };
    ServerMetrics* metrics = m.metrics.get();
    m.batcher = std::make_unique<Batcher>(
        *m.engine, bo, [metrics](const BatchStats& st) { metrics->observe_batch(st); },
        [metrics](std::size_t n) { metrics->count_dropped(n); });
  }
  prep_ = std::make_unique<boost::asio::thread_pool>(static_cast<std::size_t>(opts_.prep_threads));
  for (int i = 0; i < opts_.prep_threads; ++i) boost::asio::post(*prep_, [] { lower_thread_priority(5); });

  HttpServerOptions ho;
  ho.host = opts_.host;
  ho.port = opts_.port;
  ho.limits.body_limit = opts_.payload_limit;
  ho.idle_timeout_s = opts_.keep_alive_seconds;
  ho.header_timeout_s = opts_.header_timeout_s;
  ho.body_timeout_s = opts_.body_timeout_s;
  ho.max_connections = opts_.max_connections;
  ho.io_threads = opts_.http_threads;
  http_ = std::make_unique<HttpServer>(ho, *this);
  port_ = http_->start();
  log_info("listening on http://" + opts_.host + ":" + std::to_string(port_) + " (" + std::to_string(models_.size()) +
           " model(s), default " + models_[0]->name + ", " + to_string(models_[0]->engine->backend()) + "/" +
           to_string(models_[0]->engine->dtype()) + ")");
  for (auto& m : models_) warm_up(*m);
  ready_ = true;
  log_info("ready: POST http://" + opts_.host + ":" + std::to_string(port_) +
           "/rerank | /v1/rerank | /v2/rerank | /v2/models/" + models_[0]->name + "/infer");
  return port_;
}

void Server::Impl::stop() {
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  if (!started_ || stopped_) return;
  stopped_ = true;
  ready_ = false;
  // Order: stop accepting and answer every request being handled (batchers still run),
  // then stop the batchers, then the request workers.
  if (http_) http_->stop();
  for (auto& m : models_)
    if (m->batcher) m->batcher->stop();
  if (prep_) prep_->join();
}

Server::Server(Engine& engine, ServerOptions opts)
    : impl_(std::make_unique<Impl>(std::vector<ServedModel>{{"", &engine}}, std::move(opts))) {}
Server::Server(std::vector<ServedModel> models, ServerOptions opts)
    : impl_(std::make_unique<Impl>(std::move(models), std::move(opts))) {}
Server::~Server() { stop(); }

int Server::start() {
  try {
    return impl_->start();
  } catch (...) {
    impl_->stop();
    throw;
  }
}
void Server::stop() { impl_->stop(); }
int Server::port() const { return impl_->port_; }
bool Server::ready() const { return impl_->ready_; }
std::size_t Server::pairs_in_flight() const { return impl_->in_flight_.load(); }
const ServerOptions& Server::options() const { return impl_->opts_; }
std::size_t Server::connections() const { return impl_->http_ ? impl_->http_->connections() : 0; }

}  // namespace crossrank
