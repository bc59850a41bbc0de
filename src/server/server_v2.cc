// The Open Inference Protocol v2 routes at head time (I/O thread): health, server and
// model metadata, model readiness, and the refusals of an infer POST that need no body.
// The infer body itself goes through handle_rerank (server_rerank.cc), so it shares the
// batcher, score cache, admission limits and metrics of the rerank routes.
#include <nlohmann/json.hpp>

#include "server/server_impl.h"

namespace crossrank {

std::optional<HttpResponse> Server::Impl::on_v2_head(const HttpRequest& head, const V2Path& p) {
  const bool infer = p.route == V2Route::kInfer;
  const bool is_get = head.method == "GET" || head.method == "HEAD";
  if (infer ? head.method != "POST" : !is_get) {
    const std::string allow = infer ? "POST" : "GET, HEAD";
    HttpResponse r = error_response(Dialect::kV2, ApiError(405, "Validation", "method " + head.method +
                                                                                  " not allowed on " + head.path +
                                                                                  " (allowed: " + allow + ")"));
    r.headers.emplace_back("Allow", allow);
    if (infer) count(nullptr, kV2InferRoute, 405, 0, 0);
    return r;
  }
  ModelSlot* m = nullptr;
  if (!p.model.empty()) {
    m = find_model(p.model);
    std::string err;
    if (!m) err = "model '" + printable_name(p.model) + "' is not served here (served: " + model_names() + ")";
    else if (!p.version.empty() && p.version != kV2Version)
      err = "model '" + printable_name(p.model) + "' has no version '" + printable_name(p.version) + "' (versions: " + kV2Version + ")";
    if (!err.empty()) {
      if (infer) count(nullptr, kV2InferRoute, 404, 0, 0);
      return error_response(Dialect::kV2, ApiError(404, "NotFound", err));
    }
  }
  const ApiError not_ready(503, "Unhealthy", "model is warming up or shutting down");
  switch (p.route) {
    case V2Route::kLive: return json_response(200, R"({"live":true})");
    case V2Route::kReady:
      if (!ready_) return error_response(Dialect::kV2, not_ready);
      return json_response(200, R"({"ready":true})");
    case V2Route::kServerMeta: return json_response(200, v2_server_metadata(version()));
    case V2Route::kModelReady: {
      if (!ready_) return error_response(Dialect::kV2, not_ready);
      return json_response(200, nlohmann::json{{"name", m->name}, {"ready", true}}.dump());
    }
    case V2Route::kModelMeta:
      if (auto e = check_auth(head)) return error_response(Dialect::kV2, *e);
      return json_response(200, v2_model_metadata(m->name));
    case V2Route::kInfer: break;
  }
  if (auto e = check_auth(head)) {
    count(m, kV2InferRoute, 401, 0, 0);
    return error_response(Dialect::kV2, *e);
  }
  if (in_flight_.load(std::memory_order_relaxed) >= static_cast<std::size_t>(opts_.max_concurrent_pairs)) {
    // As the rerank routes: refused before the body is read, the answer held
    // reject_delay_ms (ServerOptions::reject_delay_ms).
    count(m, kV2InferRoute, 429, 0, 0);
    HttpResponse r = json_response(429, overload_v2_);
    r.headers = error_headers(429);
    r.delay_ms = opts_.reject_delay_ms;
    return r;
  }
  return std::nullopt;
}

}  // namespace crossrank
