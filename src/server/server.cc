// The rerank server: routes, admission control, tokenization on the request thread,
// cache lookups, hand-off to the batcher, client-disconnect detection, error mapping.
#include "server/server.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <thread>

#include "batch/encode.h"
#include "model/config.h"
#include "scheduler/batcher.h"
#include "scheduler/score_cache.h"
#include "server/api.h"
#include "server/metrics.h"
#include "server/third_party/httplib.h"
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

std::string outcome_of(int status) {
  switch (status) {
    case 400: return "empty";
    case 401: return "unauthorized";
    case 413: return "too_large";
    case 422: return "validation";
    case 424: return "backend";
    case 429: return "overloaded";
    case 499: return "dropped";
    case 503: return "unhealthy";
    default: return status < 400 ? "success" : "internal";
  }
}

// Dialect of error bodies for a path when the body could not be looked at.
Dialect dialect_of_path(const std::string& path) {
  if (path.rfind("/v1/", 0) == 0 || path.rfind("/v2/", 0) == 0) return path[2] == '2' ? Dialect::kCohere : Dialect::kJina;
  return Dialect::kTei;
}

bool is_rerank_route(const std::string& path) {
  for (const char* r : kRerankRoutes)
    if (path == r) return true;
  return false;
}

}  // namespace

struct Server::Impl {
  Impl(Engine& e, ServerOptions o);

  int start();
  void stop();
  void setup_routes();
  void warm_up();
  void handle_rerank(const httplib::Request& req, httplib::Response& res, const std::string& route,
                     std::optional<Dialect> fixed);
  void check_auth(const httplib::Request& req) const;
  // Encodes document i of r with the request's truncation settings (see the .cc notes).
  EncodedPair encode_doc(const RerankRequest& r, std::size_t i) const;
  std::string info_json() const;
  MetricsSnapshot snapshot() const;

  Engine& engine_;
  ServerOptions opts_;
  std::string settings_base_;  // cache key prefix: model, truncation mode, max_length
  ScoreCache cache_;
  ServerMetrics metrics_;
  std::unique_ptr<Batcher> batcher_;
  httplib::Server http_;
  std::thread listen_thread_;
  std::atomic<bool> ready_{false};
  bool started_ = false, stopped_ = false;
  std::mutex lifecycle_mu_;
  std::atomic<std::size_t> in_flight_{0};
  int port_ = -1;
  std::string openapi_;
};

Server::Impl::Impl(Engine& e, ServerOptions o)
    : engine_(e),
      opts_(std::move(o)),
      cache_(opts_.cache_mb << 20),
      metrics_(std::vector<std::string>(std::begin(kRerankRoutes), std::end(kRerankRoutes)),
               {{"version", version()},
                {"model", e.info().name},
                {"dtype", to_string(e.dtype())},
                {"backend", to_string(e.backend())}}) {
  const ModelInfo& mi = e.info();
  if (opts_.max_length == 0) opts_.max_length = std::min(512, mi.max_length);
  check(opts_.max_length >= 8 && opts_.max_length <= mi.max_length,
        "--max-length " + std::to_string(opts_.max_length) + " outside [8, " + std::to_string(mi.max_length) +
            "] (the model's limit)");
  if (opts_.max_batch_tokens == 0)
    opts_.max_batch_tokens = std::max(e.preferred_batch_tokens(), opts_.max_length);
  check(opts_.max_batch_tokens >= opts_.max_length,
        "--max-batch-tokens " + std::to_string(opts_.max_batch_tokens) + " is below --max-length " +
            std::to_string(opts_.max_length) + ": a full-length pair could never run");
  check(opts_.max_batch_requests >= 0, "--max-batch-requests must be >= 0");
  check(opts_.max_client_batch_size >= 1, "--max-client-batch-size must be >= 1");
  check(opts_.max_concurrent_pairs >= opts_.max_client_batch_size,
        "--max-concurrent-pairs " + std::to_string(opts_.max_concurrent_pairs) + " is below --max-client-batch-size " +
            std::to_string(opts_.max_client_batch_size) + ": the largest request could never be admitted");
  check(opts_.payload_limit >= 64, "--payload-limit must be >= 64 bytes");
  if (opts_.http_threads <= 0)
    opts_.http_threads = std::max(64, 4 * static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  if (opts_.served_model_name.empty()) {
    const std::string& n = mi.name;
    if (n.rfind("synthetic:", 0) == 0) {
      opts_.served_model_name = n;
    } else {
      std::filesystem::path p(n);
      if (!p.has_filename()) p = p.parent_path();
      opts_.served_model_name = p.filename().string().empty() ? n : p.filename().string();
    }
  }
  settings_base_ = mi.name + "|" + to_string(opts_.truncation) + "|" + std::to_string(opts_.max_length);
  openapi_ = openapi_document(opts_, opts_.served_model_name);
}

void Server::Impl::check_auth(const httplib::Request& req) const {
  if (opts_.api_key.empty()) return;
  const std::string h = req.get_header_value("Authorization");
  const std::string prefix = "Bearer ";
  if (h.size() < prefix.size() || h.compare(0, prefix.size(), prefix) != 0 ||
      !constant_time_equal(std::string_view(h).substr(prefix.size()), opts_.api_key))
    throw ApiError(401, "Unauthorized", h.empty() ? "missing `Authorization: Bearer <key>` header" : "invalid API key");
}

// Truncation per request:
//  * default (truncate on, no per-document cap): Engine::encode at --max-length with the
//    --truncation mode, i.e. exactly what Engine::score does.
//  * TEI truncate=false: encode up to the model's own limit and reject pairs longer than
//    --max-length (422). A pair that fills the model's limit may have been cut there, so
//    it is rejected too ("at least N").
//  * Cohere max_tokens_per_doc: encode up to the model's limit, split the template back
//    into query/document ids, cap the document, then apply the --truncation mode at
//    --max-length (exact unless the pair exceeded the model's own limit).
EncodedPair Server::Impl::encode_doc(const RerankRequest& r, std::size_t i) const {
  ScoreOptions so;
  so.max_length = opts_.max_length;
  so.truncation = opts_.truncation;
  so.truncate = r.truncate.value_or(true);
  so.max_doc_tokens = r.max_tokens_per_doc;
  try {
    return engine_.encode(r.query, r.documents[i], so);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kTooLong) throw;
    throw ApiError(422, "Validation",
                   "`texts[" + std::to_string(i) + "]`: `inputs` must have at most " + std::to_string(so.max_length) +
                       " tokens (--max-length) with truncate=false. " + e.what());
  }
}

void Server::Impl::handle_rerank(const httplib::Request& req, httplib::Response& res, const std::string& route,
                                 std::optional<Dialect> fixed) {
  const auto t0 = Clock::now();
  Dialect dialect = fixed.value_or(Dialect::kTei);
  std::string outcome = "success";
  std::size_t npairs = 0;
  try {
    check_auth(req);
    // Saturated: refuse before parsing (cheap under a flood of retries). The body's
    // dialect is guessed from its keys for the error shape.
    if (in_flight_.load() >= static_cast<std::size_t>(opts_.max_concurrent_pairs)) {
      if (!fixed && req.body.find("\"texts\"") == std::string::npos &&
          req.body.find("\"documents\"") != std::string::npos)
        dialect = Dialect::kJina;
      throw ApiError(429, "Overloaded",
                     "Model is overloaded: " + std::to_string(in_flight_.load()) +
                         " pairs in flight, --max-concurrent-pairs " + std::to_string(opts_.max_concurrent_pairs));
    }
    const json body = parse_body(req.body);
    if (!fixed) dialect = detect_dialect(body);
    DecodeLimits limits;
    limits.max_documents = static_cast<std::size_t>(opts_.max_client_batch_size);
    const RerankRequest r = decode_rerank(body, dialect, limits);
    const std::size_t n = r.documents.size();
    npairs = n;
    if (r.truncate_left)
      throw ApiError(422, "Validation", "`truncation_direction` \"left\" is not supported; use \"right\"");
    // The query is tokenized once per document (Engine::encode takes the pair), so an
    // outsized query multiplies work; as TEI, allow 250 bytes per token of --max-length.
    const std::size_t max_query = static_cast<std::size_t>(opts_.max_length) * 250;
    if (r.query.size() > max_query)
      throw ApiError(422, "Validation",
                     "`query` is too long: " + std::to_string(r.query.size()) + " bytes > " +
                         std::to_string(max_query) + " (250 x --max-length)");

    // Admission: pairs in flight (TEI counts one permit per text). Never blocks.
    std::size_t cur = in_flight_.load();
    do {
      if (cur + n > static_cast<std::size_t>(opts_.max_concurrent_pairs))
        throw ApiError(429, "Overloaded",
                       "Model is overloaded: " + std::to_string(cur) + " pairs in flight + " + std::to_string(n) +
                           " > --max-concurrent-pairs " + std::to_string(opts_.max_concurrent_pairs));
    } while (!in_flight_.compare_exchange_weak(cur, cur + n));
    std::shared_ptr<Job> job;
    try {
      job = std::make_shared<Job>(n);
    } catch (...) {
      in_flight_ -= n;
      throw;
    }
    job->set_release([this, n] { in_flight_ -= n; });

    // Cache lookups, then tokenization of the misses on this thread.
    const bool truncate = r.truncate.value_or(true);
    const std::string settings =
        settings_base_ + "|" + (truncate ? "t" : "n") + "|" + std::to_string(r.max_tokens_per_doc);
    std::vector<CacheKey> keys(cache_.enabled() ? n : 0);
    std::vector<float> logits(n, 0.0f);
    std::vector<std::int32_t> tokens(n, 0);
    std::vector<char> cached(n, 0);
    std::vector<std::pair<std::uint32_t, EncodedPair>> todo;
    todo.reserve(n);
    std::size_t hits = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (cache_.enabled()) {
        keys[i] = cache_.make_key(settings, r.query, r.documents[i]);
        CachedScore cs;
        if (cache_.get(keys[i], &cs)) {
          logits[i] = cs.logit;
          tokens[i] = cs.tokens;
          cached[i] = 1;
          ++hits;
          continue;
        }
      }
      EncodedPair e;
      try {
        e = encode_doc(r, i);
      } catch (const Error& ex) {
        const char* field = dialect == Dialect::kTei ? "texts" : "documents";
        throw ApiError(422, "Validation", "`" + std::string(field) + "[" + std::to_string(i) + "]`: " + ex.what());
      }
      tokens[i] = static_cast<std::int32_t>(e.ids.size());
      todo.emplace_back(static_cast<std::uint32_t>(i), std::move(e));
    }
    const auto t_tok = Clock::now();
    try {
      batcher_->submit(job, std::move(todo));
    } catch (const Error& ex) {
      throw ApiError(503, "Unhealthy", ex.what());
    }
    // Wait, polling the connection: pairs of a client that went away are dropped by the
    // worker before they run (cpp-httplib patch: Request::is_connection_closed).
    while (!job->wait_for(std::chrono::milliseconds(50))) {
      if (req.is_connection_closed()) {
        job->cancel();
        throw ApiError(499, "ClientClosed", "client closed the connection");
      }
    }
    if (job->dropped() > 0) throw ApiError(499, "ClientClosed", "client closed the connection");
    if (const std::string err = job->error(); !err.empty()) throw ApiError(424, "Backend", "inference failed: " + err);

    std::vector<double> scores(n);
    std::size_t total_tokens = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (!cached[i]) {
        logits[i] = job->logit(i);
        if (!std::isfinite(logits[i]))
          throw ApiError(424, "Backend", "score is not finite for document " + std::to_string(i));
        if (cache_.enabled()) cache_.put(keys[i], CachedScore{logits[i], tokens[i]});
      }
      scores[i] = r.raw_scores ? static_cast<double>(logits[i]) : sigmoid(static_cast<double>(logits[i]));
      total_tokens += static_cast<std::size_t>(tokens[i]);
    }
    const std::vector<RankedResult> ranked = rank_scores(scores, r.top_n);
    ResponseInfo info;
    info.id = request_id();
    info.model = opts_.served_model_name;
    info.tokens = total_tokens;
    res.set_content(encode_rerank_response(r, ranked, info), "application/json");
    const auto t_end = Clock::now();
    const bool ran = n > hits;
    res.set_header("x-compute-type", std::string(to_string(engine_.backend())) + "-" + to_string(engine_.dtype()));
    res.set_header("x-compute-tokens", std::to_string(total_tokens));
    res.set_header("x-total-time", fmt_ms(ms_between(t0, t_end)));
    res.set_header("x-compute-time", fmt_ms(ms_between(t0, t_end)));
    res.set_header("x-tokenization-time", fmt_ms(ms_between(t0, t_tok)));
    res.set_header("x-queue-time", fmt_ms(ran ? ms_between(job->submitted(), job->first_start()) : 0.0));
    res.set_header("x-inference-time", fmt_ms(ran ? ms_between(job->first_start(), job->last_end()) : 0.0));
    res.set_header("x-cache-hits", std::to_string(hits));
    res.set_header("x-request-id", info.id);
  } catch (const ApiError& e) {
    outcome = outcome_of(e.status);
    res.status = e.status;
    res.set_content(encode_error(dialect, e), "application/json");
    if (e.status == 429) res.set_header("Retry-After", "1");
    if (e.status == 401) res.set_header("WWW-Authenticate", "Bearer");
    if (e.status >= 500 || e.status == 424) log_warn(route + ": " + e.what());
  } catch (const std::exception& e) {
    outcome = "internal";
    res.status = 500;
    res.set_content(encode_error(dialect, ApiError(500, "Internal", std::string("internal error: ") + e.what())),
                    "application/json");
    log_error(route + ": " + e.what());
  } catch (...) {
    outcome = "internal";
    res.status = 500;
    res.set_content(encode_error(dialect, ApiError(500, "Internal", "internal error")), "application/json");
  }
  metrics_.count_request(route, outcome, npairs, std::chrono::duration<double>(Clock::now() - t0).count());
}

std::string Server::Impl::info_json() const {
  const ModelInfo& mi = engine_.info();
  json j;
  j["model_id"] = mi.name;
  j["model_sha"] = nullptr;
  j["model_dtype"] = to_string(engine_.dtype());
  j["model_type"] = {{"reranker", {{"id2label", {{"0", "LABEL_0"}}}, {"label2id", {{"LABEL_0", 0}}}}}};
  j["served_model_name"] = opts_.served_model_name;
  j["architecture"] = mi.architecture;
  j["parameters"] = mi.parameters;
  j["layers"] = mi.layers;
  j["hidden"] = mi.hidden;
  j["backend"] = to_string(engine_.backend());
  j["max_concurrent_requests"] = opts_.max_concurrent_pairs;  // TEI name; counts pairs, as TEI does
  j["max_concurrent_pairs"] = opts_.max_concurrent_pairs;
  j["max_input_length"] = opts_.max_length;
  j["model_max_length"] = mi.max_length;
  j["max_batch_tokens"] = opts_.max_batch_tokens;
  j["max_batch_requests"] = opts_.max_batch_requests > 0 ? json(opts_.max_batch_requests) : json(nullptr);
  j["max_client_batch_size"] = opts_.max_client_batch_size;
  j["payload_limit"] = opts_.payload_limit;
  j["auto_truncate"] = true;
  j["truncation"] = to_string(opts_.truncation);
  j["cache_mb"] = opts_.cache_mb;
  j["tokenization_workers"] = opts_.http_threads;  // requests tokenize on their own thread
  j["compute_threads"] = opts_.compute_threads;
  j["auth"] = !opts_.api_key.empty();
  j["version"] = version();
  j["sha"] = nullptr;
  j["docker_label"] = nullptr;
  return j.dump(2);
}

MetricsSnapshot Server::Impl::snapshot() const {
  MetricsSnapshot s;
  s.queue_size = batcher_ ? batcher_->queue_size() : 0;
  s.pairs_in_flight = in_flight_.load();
  s.cache_hits = cache_.hits();
  s.cache_misses = cache_.misses();
  s.cache_evictions = cache_.evictions();
  s.cache_entries = cache_.entries();
  s.cache_capacity_bytes = cache_.capacity_bytes();
  return s;
}

void Server::Impl::setup_routes() {
  auto rerank = [this](const std::string& route, std::optional<Dialect> fixed) {
    return [this, route, fixed](const httplib::Request& req, httplib::Response& res) {
      handle_rerank(req, res, route, fixed);
    };
  };
  http_.Post("/rerank", rerank("/rerank", std::nullopt));
  http_.Post("/", rerank("/", std::nullopt));
  http_.Post("/invocations", rerank("/invocations", std::nullopt));
  http_.Post("/v1/rerank", rerank("/v1/rerank", Dialect::kJina));
  http_.Post("/v2/rerank", rerank("/v2/rerank", Dialect::kCohere));

  auto health = [this](const httplib::Request&, httplib::Response& res) {
    if (ready_) {
      res.status = 200;
      return;
    }
    res.status = 503;
    res.set_content(encode_error(Dialect::kTei, ApiError(503, "Unhealthy", "model is warming up or shutting down")),
                    "application/json");
  };
  http_.Get("/health", health);
  http_.Get("/", health);
  http_.Get("/info", [this](const httplib::Request& req, httplib::Response& res) {
    try {
      check_auth(req);
      res.set_content(info_json(), "application/json");
    } catch (const ApiError& e) {
      res.status = e.status;
      res.set_content(encode_error(Dialect::kTei, e), "application/json");
    }
  });
  http_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_.render(snapshot()), "text/plain; version=0.0.4; charset=utf-8");
  });
  auto openapi = [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(openapi_, "application/json");
  };
  http_.Get("/openapi.json", openapi);
  http_.Get("/api-doc/openapi.json", openapi);  // TEI's path

  // Errors produced by cpp-httplib itself (unknown route, body over the payload limit,
  // malformed HTTP) get the JSON shape of the route's dialect.
  http_.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req,
                                                                      httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string type = "Validation", msg;
    switch (res.status) {
      case 404:
        type = "NotFound";
        msg = "no route for " + req.method + " " + req.path;
        break;
      case 413:
        type = "PayloadTooLarge";
        msg = "request body exceeds --payload-limit (" + std::to_string(opts_.payload_limit) + " bytes)";
        break;
      case 400:
        msg = "malformed HTTP request";
        break;
      default:
        type = "Internal";
        msg = "HTTP error " + std::to_string(res.status);
    }
    if (is_rerank_route(req.path) && req.method == "POST")
      metrics_.count_request(req.path, outcome_of(res.status), 0, 0);
    res.set_content(encode_error(dialect_of_path(req.path), ApiError(res.status, type, msg)), "application/json");
    return httplib::Server::HandlerResponse::Handled;
  }));
  http_.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    res.status = 500;
    res.set_content(encode_error(dialect_of_path(req.path), ApiError(500, "Internal", "internal error: " + what)),
                    "application/json");
  });
}

void Server::Impl::warm_up() {
  // One full-length pair: allocates the backend's buffers and proves the model runs.
  std::string doc;
  for (int i = 0; i < opts_.max_length; ++i) doc += "warm up ";
  ScoreOptions so;
  so.max_length = opts_.max_length;
  so.truncation = opts_.truncation;
  auto job = std::make_shared<Job>(1);
  std::vector<std::pair<std::uint32_t, EncodedPair>> pairs;
  pairs.emplace_back(0, engine_.encode("warm up", doc, so));
  const auto t0 = Clock::now();
  batcher_->submit(job, std::move(pairs));
  while (!job->wait_for(std::chrono::seconds(1))) {
  }
  if (!job->ok(0)) throw Error("warm-up forward pass failed: " + job->error());
  log_info("warm-up forward pass (" + std::to_string(opts_.max_length) + " tokens) took " +
           fmt_ms(ms_between(t0, Clock::now())) + " ms");
}

int Server::Impl::start() {
  {
    std::lock_guard<std::mutex> lock(lifecycle_mu_);
    check(!started_, "server already started");
    started_ = true;
  }
  BatcherOptions bo;
  bo.max_batch_tokens = opts_.max_batch_tokens;
  bo.max_batch_requests = opts_.max_batch_requests;
  bo.window = 1024;
  // OpenMP's thread count is per calling thread: Engine::open's setting does not reach
  // the batch worker, so apply --threads there.
  bo.on_worker_start = [t = opts_.compute_threads] {
    if (t > 0) omp_set_num_threads(t);
  };
  batcher_ = std::make_unique<Batcher>(
      engine_, bo, [this](const BatchStats& st) { metrics_.observe_batch(st); },
      [this](std::size_t n) { metrics_.count_dropped(n); });

  const int threads = opts_.http_threads;
  http_.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
  http_.set_payload_max_length(opts_.payload_limit);
  http_.set_keep_alive_max_count(1000);
  http_.set_keep_alive_timeout(opts_.keep_alive_seconds);
  http_.set_tcp_nodelay(true);
  // SO_REUSEADDR only: cpp-httplib's default SO_REUSEPORT would let a second server bind
  // the same port and silently share its traffic instead of failing.
  http_.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<void*>(&yes), sizeof(yes));
  });
  setup_routes();

  int port = -1;
  if (opts_.port == 0) port = http_.bind_to_any_port(opts_.host);
  else if (http_.bind_to_port(opts_.host, opts_.port)) port = opts_.port;
  if (port <= 0)
    throw Error("cannot listen on " + opts_.host + ":" + std::to_string(opts_.port) +
                " (address in use, or not a local address)");
  port_ = port;
  listen_thread_ = std::thread([this] {
    if (!http_.listen_after_bind()) log_error("HTTP server stopped accepting connections (accept failed)");
  });
  // stop() is only effective once the accept loop runs; wait for it (bounded).
  for (int i = 0; i < 10000 && !http_.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  log_info("listening on http://" + opts_.host + ":" + std::to_string(port) + " (model " + opts_.served_model_name +
           ", " + to_string(engine_.backend()) + "/" + to_string(engine_.dtype()) + ")");
  warm_up();
  ready_ = true;
  log_info("ready: POST http://" + opts_.host + ":" + std::to_string(port) + "/rerank | /v1/rerank | /v2/rerank");
  return port;
}

void Server::Impl::stop() {
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  if (!started_ || stopped_) return;
  stopped_ = true;
  ready_ = false;
  if (listen_thread_.joinable()) {
    http_.stop();  // closes the listening socket; handler threads finish their requests
    listen_thread_.join();
  }
  if (batcher_) batcher_->stop();
}

Server::Server(Engine& engine, ServerOptions opts) : impl_(std::make_unique<Impl>(engine, std::move(opts))) {}
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

}  // namespace crossrank
