// The rerank server: routing, admission control, request preparation (JSON, cache
// lookups, tokenization) on a small worker pool, hand-off to each model's batcher, and
// completion by the batcher's callback. Threads:
//   I/O (HttpServer)   sockets, framing, deadlines, and everything decided from the head
//                      alone: routes, methods, auth, overload refusals, GET routes.
//   prep pool          rerank bodies: parse, decode, encode pairs, cache; and responses.
//   batch worker       one per model: forward passes only.
// so /health and /metrics never wait behind a tokenizer or a forward pass, and refusing a
// request (429) never parses its body.
#include "server/server.h"

#include <omp.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <thread>

#include "hub/hub.h"
#include "scheduler/batcher.h"
#include "scheduler/score_cache.h"
#include "server/api.h"
#include "server/errors.h"
#include "server/http.h"
#include "server/metrics.h"
#include "util/error.h"
#include "util/log.h"

namespace crossrank {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kRerankRoutes[] = {"/rerank", "/v1/rerank", "/v2/rerank", "/", "/invocations"};

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

std::string fmt_ms(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

// "rerank-" + 32 random hex digits.
std::string request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}() ^ (std::hash<std::thread::id>{}(std::this_thread::get_id()))};
  static const char* hex = "0123456789abcdef";
  std::string s = "rerank-";
  for (int w = 0; w < 2; ++w) {
    std::uint64_t x = rng();
    for (int i = 0; i < 16; ++i, x >>= 4) s += hex[x & 15];
  }
  return s;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;  // only the length leaks
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// Dialect of error bodies for a path when the body could not be looked at.
Dialect dialect_of_path(const std::string& path) {
  if (path == "/v2/rerank") return Dialect::kCohere;
  if (path == "/v1/rerank") return Dialect::kJina;
  return Dialect::kTei;
}

std::optional<Dialect> fixed_dialect(const std::string& path) {
  if (path == "/v2/rerank") return Dialect::kCohere;
  if (path == "/v1/rerank") return Dialect::kJina;
  return std::nullopt;
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

HttpResponse json_response(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse error_response(Dialect d, const ApiError& e) {
  HttpResponse r = json_response(e.status, encode_error(d, e));
  r.headers = error_headers(e.status);
  return r;
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
  void on_request(HttpRequest req, Responder respond) override;
  HttpResponse on_error(int status, const std::string& message, const std::string& path) override;

  void handle_rerank(const HttpRequest& req, const Responder& respond);
  void finish_rerank(const std::shared_ptr<RerankCall>& call);
  void count(const ModelSlot* m, const std::string& route, int status, std::size_t pairs, double seconds);
  std::optional<ApiError> check_auth(const HttpRequest& req) const;
  ModelSlot& route_model(const RerankRequest& r, Dialect d);
  ScoreOptions score_options(const ModelSlot& m, const RerankRequest& r) const;
  std::string info_json(const ModelSlot& m) const;
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
  std::string overload_tei_, overload_cohere_, overload_jina_;
};

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
    m->metrics = std::make_unique<ServerMetrics>(
        std::vector<std::string>(std::begin(kRerankRoutes), std::end(kRerankRoutes)),
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
  check(opts_.header_timeout_s > 0 && opts_.body_timeout_s > 0, "request timeouts must be > 0");
  check(opts_.reject_delay_ms >= 0, "--reject-delay-ms must be >= 0");
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
void Server::Impl::count(const ModelSlot* m, const std::string& route, int status, std::size_t pairs, double seconds) {
  (m ? *m : *models_[0]).metrics->count_request(route, outcome_of(status), pairs, seconds);
}

// ---- head-time decisions (I/O thread) ----

std::optional<HttpResponse> Server::Impl::on_head(const HttpRequest& head) {
  const std::string& path = head.path;
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
  return error_response(dialect_of_path(path), ApiError(status, type, msg));
}

void Server::Impl::on_request(HttpRequest req, Responder respond) {
  // Every request that gets here is a rerank POST (on_head answered the rest).
  boost::asio::post(*prep_, [this, req = std::move(req), respond = std::move(respond)] {
    handle_rerank(req, respond);
  });
}

// ---- rerank (prep pool) ----

ModelSlot& Server::Impl::route_model(const RerankRequest& r, Dialect d) {
  if (models_.size() == 1 || r.model.empty()) return *models_[0];
  for (const auto& m : models_)
    if (m->name == r.model) return *m;
  std::string names;
  for (const auto& m : models_) names += (names.empty() ? "" : ", ") + m->name;
  throw to_api_error(Error(ErrorCode::kNotFound, "model '" + r.model + "' is not served here (served: " + names + ")"), d);
}

// The request's encoding options: the server's --max-length and --truncation, with TEI
// truncate / truncation_direction, Cohere max_tokens_per_doc and instruction applied by
// Engine::encode itself (no knowledge of the model's template here).
ScoreOptions Server::Impl::score_options(const ModelSlot& m, const RerankRequest& r) const {
  ScoreOptions so;
  so.max_length = m.max_length;
  so.truncation = opts_.truncation;
  so.truncate = r.truncate.value_or(true);
  so.truncation_side = r.truncate_left ? TruncationSide::kLeft : TruncationSide::kRight;
  so.max_doc_tokens = r.max_tokens_per_doc;
  so.instruction = r.instruction;
  if (r.max_chunks_per_doc > 0) {
    so.long_doc = LongDoc::kChunk;
    so.max_chunks = r.max_chunks_per_doc;
  }
  return so;
}

void Server::Impl::handle_rerank(const HttpRequest& req, const Responder& respond) {
  const auto t0 = Clock::now();
  const std::string& route = req.path;
  const std::optional<Dialect> fixed = fixed_dialect(route);
  Dialect dialect = fixed.value_or(Dialect::kTei);
  ModelSlot* model = nullptr;
  std::size_t npairs = 0;
  try {
    if (respond.aborted()) throw ApiError(499, "ClientClosed", "client closed the connection");
    const json body = parse_body(req.body);
    if (!fixed) dialect = detect_dialect(body);
    DecodeLimits limits;
    limits.max_documents = static_cast<std::size_t>(opts_.max_client_batch_size);
    // The query is tokenized once per document (Engine::encode takes the pair), so an
    // outsized query multiplies work; as TEI, allow 250 bytes per token of --max-length.
    limits.max_query_bytes = static_cast<std::size_t>(opts_.max_length) * 250;
    auto call = std::make_shared<RerankCall>(respond);
    call->req = decode_rerank(body, dialect, limits);
    const RerankRequest& r = call->req;
    model = &route_model(r, dialect);
    const std::size_t n = r.documents.size();
    npairs = n;
    // Admission: pairs in flight (TEI counts one permit per text). Never blocks.
    std::size_t cur = in_flight_.load();
    do {
      if (cur + n > static_cast<std::size_t>(opts_.max_concurrent_pairs))
        throw ApiError(429, "Overloaded",
                       "Model is overloaded: " + std::to_string(cur) + " pairs in flight + " + std::to_string(n) +
                           " > --max-concurrent-pairs " + std::to_string(opts_.max_concurrent_pairs));
    } while (!in_flight_.compare_exchange_weak(cur, cur + n));
    call->permits = std::make_shared<Permits>(in_flight_, model->in_flight, n);
    call->job = std::make_shared<Job>(n);
    call->job->set_release([p = call->permits] { p->release(); });
    call->route = route;
    call->dialect = dialect;
    call->model = model;
    call->t0 = t0;

    // Cache lookups, then tokenization of the misses on this thread.
    const ScoreOptions so = score_options(*model, r);
    ScoreCache& cache = *model->cache;
    const std::string settings = model->settings_base + "|" + (so.truncate ? "t" : "n") + "|" +
                                 (r.truncate_left ? "l" : "r") + "|" + std::to_string(r.max_tokens_per_doc) + "|" +
                                 std::to_string(r.max_chunks_per_doc) + "|" + r.instruction;
    call->keys.resize(cache.enabled() ? n : 0);
    call->logits.assign(n, 0.0f);
    call->tokens.assign(n, 0);
    call->cached.assign(n, 0);
    std::vector<std::pair<std::uint32_t, EncodedPair>> todo;
    todo.reserve(n);
    std::vector<std::uint32_t> chunked;  // max_chunks_per_doc: scored as windows
    for (std::size_t i = 0; i < n; ++i) {
      if (cache.enabled()) {
        call->keys[i] = cache.make_key(settings, r.query, r.documents[i]);
        CachedScore cs;
        if (cache.get(call->keys[i], &cs)) {
          call->logits[i] = cs.logit;
          call->tokens[i] = cs.tokens;
          call->cached[i] = 1;
          ++call->hits;
          continue;
        }
      }
      EncodedPair e;
      try {
        e = model->engine->encode(r.query, r.documents[i], so);
      } catch (const Error& ex) {
        const char* field = dialect == Dialect::kTei ? "texts" : "documents";
        std::string prefix = "`" + std::string(field) + "[" + std::to_string(i) + "]`: ";
        if (ex.code() == ErrorCode::kTooLong)
          prefix += "`inputs` must have at most " + std::to_string(so.max_length) +
                    " tokens (--max-length) with truncate=false: ";
        throw to_api_error(ex, dialect, prefix);
      }
      call->tokens[i] = static_cast<std::int32_t>(e.ids.size());
      if (so.long_doc == LongDoc::kChunk) chunked.push_back(static_cast<std::uint32_t>(i));
      else todo.emplace_back(static_cast<std::uint32_t>(i), std::move(e));
    }
    call->t_tok = Clock::now();
    if (todo.empty() && chunked.empty()) return finish_rerank(call);
    call->job->set_on_done([this, call] { boost::asio::post(*prep_, [this, call] { finish_rerank(call); }); });
    // A client that goes away: its queued pairs are dropped before they run, and the
    // request is counted as dropped at once.
    std::weak_ptr<RerankCall> weak = call;
    respond.on_abort([this, weak] {
      auto c = weak.lock();
      if (!c) return;
      c->job->cancel();
      if (!c->finished.exchange(true))
        count(c->model, c->route, 499, c->req.documents.size(),
              std::chrono::duration<double>(Clock::now() - c->t0).count());
    });
    try {
      if (!chunked.empty()) {
        // Long-document chunking (Cohere v1 / OVMS max_chunks_per_doc): the worker scores
        // every window with Engine::score (the engine's own windowing; passes sized by the
        // same BatchPolicy) and the passage gets the best window's logit.
        ScoreOptions cs = so;
        cs.normalize = false;
        // The engine's 64-token overlap, shrunk for short --max-length so that it always
        // stays below the window (>= max_length/4 - 4 tokens once the query is capped).
        cs.chunk_overlap = std::clamp(model->max_length / 4 - 5, 0, so.chunk_overlap);
        cs.max_batch_tokens = model->max_batch_tokens;
        if (opts_.max_batch_requests > 0) cs.batch_size = opts_.max_batch_requests;
        else cs.batch_size = std::max(1, model->max_batch_tokens / 8);
        Engine* engine = model->engine;
        std::vector<Pair> pairs;
        for (std::uint32_t i : chunked) pairs.push_back({call->req.query, call->req.documents[i]});
        // The pairs point into the request: the call owns it and stays alive until the job
        // is done (the job's done hook holds the call).
        model->batcher->submit_call(call->job, chunked, [engine, cs, pairs = std::move(pairs)] {
          const std::vector<double> z = engine->score(pairs, cs);
          return std::vector<float>(z.begin(), z.end());
        });
      }
      if (!todo.empty()) model->batcher->submit(call->job, std::move(todo));
    } catch (const Error& ex) {
      // Shutting down: submit() failed the pairs; answer 503 here, not from the done hook.
      call->finished = true;
      throw ApiError(503, "Unhealthy", ex.what());
    }
    return;
  } catch (const ApiError& e) {
    // Metrics first, then the answer: a client that has its answer finds it counted.
    if (e.status >= 500 && e.status != 503) log_warn(route + ": " + e.what());
    count(model, route, e.status, npairs, 0);
    respond(error_response(dialect, e));
  } catch (const Error& e) {
    const ApiError ae = to_api_error(e, dialect);
    count(model, route, ae.status, npairs, 0);
    respond(error_response(dialect, ae));
  } catch (const std::exception& e) {
    log_error(route + ": " + e.what());
    count(model, route, 500, npairs, 0);
    respond(error_response(dialect, ApiError(500, "Internal", std::string("internal error: ") + e.what())));
  }
}

void Server::Impl::finish_rerank(const std::shared_ptr<RerankCall>& call) {
  if (call->finished.exchange(true)) return;
  RerankCall& c = *call;
  const RerankRequest& r = c.req;
  const std::size_t n = r.documents.size();
  HttpResponse res;
  try {
    Job& job = *c.job;
    if (job.dropped() > 0) throw ApiError(499, "ClientClosed", "client closed the connection");
    if (const std::string err = job.error(); !err.empty()) {
      if (err == "server is shutting down") throw ApiError(503, "Unhealthy", err);
      throw ApiError(424, "Backend", "inference failed: " + err);
    }
    ScoreCache& cache = *c.model->cache;
    std::vector<double> scores(n);
    std::size_t total_tokens = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (!c.cached[i]) {
        c.logits[i] = job.logit(i);
        if (!std::isfinite(c.logits[i]))
          throw ApiError(424, "Backend", "score is not finite for document " + std::to_string(i));
        if (cache.enabled()) cache.put(c.keys[i], CachedScore{c.logits[i], c.tokens[i]});
      }
      scores[i] = r.raw_scores ? static_cast<double>(c.logits[i]) : sigmoid(static_cast<double>(c.logits[i]));
      total_tokens += static_cast<std::size_t>(c.tokens[i]);
    }
    const std::vector<RankedResult> ranked = rank_scores(scores, r.top_n);
    ResponseInfo info;
    info.id = request_id();
    info.model = c.model->name;
    info.tokens = total_tokens;
    info.created = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                       .count();
    res = json_response(200, encode_rerank_response(r, ranked, info));
    const auto t_end = Clock::now();
    const bool ran = n > c.hits;
    const Engine& e = *c.model->engine;
    res.headers = {
        {"x-compute-type", std::string(to_string(e.backend())) + "-" + to_string(e.dtype())},
        {"x-compute-tokens", std::to_string(total_tokens)},
        {"x-total-time", fmt_ms(ms_between(c.t0, t_end))},
        {"x-compute-time", fmt_ms(ms_between(c.t0, t_end))},
        {"x-tokenization-time", fmt_ms(ms_between(c.t0, c.t_tok))},
        {"x-queue-time", fmt_ms(ran ? ms_between(job.submitted(), job.first_start()) : 0.0)},
        {"x-inference-time", fmt_ms(ran ? ms_between(job.first_start(), job.last_end()) : 0.0)},
        {"x-cache-hits", std::to_string(c.hits)},
        {"x-request-id", info.id},
        {"x-model", c.model->name},
    };
  } catch (const ApiError& e) {
    if (e.status == 424) log_warn(c.route + ": " + e.what());
    res = error_response(c.dialect, e);
  } catch (const std::exception& e) {
    log_error(c.route + ": " + e.what());
    res = error_response(c.dialect, ApiError(500, "Internal", std::string("internal error: ") + e.what()));
  }
  // Metrics and permits first, then the answer (a client that has its answer finds it
  // counted, and its next request finds the permits free: keep-alive clients at exactly
  // --max-concurrent-pairs got 429s otherwise).
  count(c.model, c.route, res.status, n, std::chrono::duration<double>(Clock::now() - c.t0).count());
  if (c.permits) c.permits->release();
  c.respond(std::move(res));
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
  log_info("ready: POST http://" + opts_.host + ":" + std::to_string(port_) + "/rerank | /v1/rerank | /v2/rerank");
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
