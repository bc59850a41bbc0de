// The rerank bodies on the prep pool: parse and decode (every dialect, the v2 infer
// tensors included), admission, score cache lookups, tokenization, hand-off to the
// model's batcher, and the response once the batcher is done.
#include <algorithm>
#include <boost/asio/post.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "server/server_impl.h"
#include "util/error.h"
#include "util/log.h"

namespace crossrank {

using nlohmann::json;

namespace {

std::optional<Dialect> fixed_dialect(const std::string& path) {
  if (path == "/v2/rerank") return Dialect::kCohere;
  if (path == "/v1/rerank") return Dialect::kJina;
  return std::nullopt;
}

// Triton's binary tensor extension: the length of the JSON header that starts the body.
std::optional<std::size_t> v2_header_length(const HttpRequest& req) {
  const std::string_view h = req.header("inference-header-content-length");
  if (h.empty()) return std::nullopt;
  std::size_t v = 0;
  for (char c : h) {
    if (c < '0' || c > '9' || v > (std::size_t{1} << 40))
      throw ApiError(400, "Validation", "Inference-Header-Content-Length must be a byte count, got '" +
                                            std::string(h.substr(0, 40)) + "'");
    v = v * 10 + static_cast<std::size_t>(c - '0');
  }
  return v;
}

}  // namespace

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

// ---- rerank (prep pool) ----

ModelSlot& Server::Impl::route_model(const RerankRequest& r, Dialect d) {
  if (models_.size() == 1 || r.model.empty()) return *models_[0];
  if (ModelSlot* m = find_model(r.model)) return *m;
  throw to_api_error(Error(ErrorCode::kNotFound, "model '" + printable_name(r.model) + "' is not served here (served: " + model_names() + ")"),
                     d);
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
  // v2 infer paths share one metrics label, whatever the model name.
  const std::optional<V2Path> v2 = parse_v2_path(req.path);
  const std::string route = v2 ? std::string(kV2InferRoute) : req.path;
  const std::optional<Dialect> fixed = v2 ? std::optional<Dialect>(Dialect::kV2) : fixed_dialect(route);
  Dialect dialect = fixed.value_or(Dialect::kTei);
  ModelSlot* model = nullptr;
  std::size_t npairs = 0;
  try {
    if (respond.aborted()) throw ApiError(499, "ClientClosed", "client closed the connection");
    DecodeLimits limits;
    limits.max_documents = static_cast<std::size_t>(opts_.max_client_batch_size);
    // The query is tokenized once per document (Engine::encode takes the pair), so an
    // outsized query multiplies work; as TEI, allow 250 bytes per token of --max-length.
    limits.max_query_bytes = static_cast<std::size_t>(opts_.max_length) * 250;
    auto call = std::make_shared<RerankCall>(respond);
    if (v2) {
      V2InferRequest vr = decode_v2_infer(req.body, v2_header_length(req), v2->model, limits);
      call->req = std::move(vr.rerank);
      call->v2_id = std::move(vr.id);
      call->v2_binary = vr.binary_output;
    } else {
      const json body = parse_body(req.body);
      if (!fixed) dialect = detect_dialect(body);
      call->req = decode_rerank(body, dialect, limits);
    }
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
    // Long-document chunking (Cohere v1 / OVMS max_chunks_per_doc): the worker scores
    // every window with Engine::score (the engine's own windowing; passes sized by the
    // same BatchPolicy) and the passage gets the best window's logit.
    ScoreOptions cs = so;
    cs.normalize = false;
    // A quarter of each window, at most 64 tokens: it stays below the window whatever the
    // prompt takes (a fixed max_length / 4 - 5 did not with a decoder's instruction).
    cs.chunk_overlap = -1;
    cs.max_batch_tokens = model->max_batch_tokens;
    if (opts_.max_batch_requests > 0) cs.batch_size = opts_.max_batch_requests;
    else cs.batch_size = std::max(1, model->max_batch_tokens / 8);
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
        // Whether the windows fit depends on the query only: checked once here, so that a
        // max_length too short for them is the client's 4xx, not the worker's 424.
        if (so.long_doc == LongDoc::kChunk && chunked.empty()) model->engine->encode_chunks(r.query, r.documents[i], cs);
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
    ResponseInfo info;
    info.id = request_id();
    info.model = c.model->name;
    info.tokens = total_tokens;
    info.created = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                       .count();
    std::optional<std::size_t> v2_header;
    if (c.dialect == Dialect::kV2) {
      // Open Inference Protocol: scores in input order, one FP32 tensor.
      V2Response v = encode_v2_infer(c.v2_id, c.v2_binary, c.model->name, scores);
      res = json_response(200, std::move(v.body));
      v2_header = v.header_length;
      if (v2_header) res.content_type = "application/octet-stream";
    } else {
      const std::vector<RankedResult> ranked = rank_scores(scores, r.top_n);
      res = json_response(200, encode_rerank_response(r, ranked, info));
    }
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
    if (v2_header) res.headers.emplace_back("Inference-Header-Content-Length", std::to_string(*v2_header));
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

}  // namespace crossrank
