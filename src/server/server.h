#pragma once
// The rerank HTTP server behind `crossrank serve`: TEI /rerank, Cohere /v2/rerank, Jina
// /v1/rerank, Infinity-shaped /rerank, the Open Inference Protocol v2 (/v2/health/*,
// /v2/models/{name}[/ready|/infer], src/server/v2.h), /health, /info, /metrics,
// /openapi.json over one or more Engines (one dynamic batcher, src/scheduler/batcher.h, and one score cache per
// model). HTTP is event-driven (src/server/http.h, Boost.Beast) and stays behind the
// pimpl. Usable in-process: tests start it on port 0 and talk to it over loopback.
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "crossrank/crossrank.h"

namespace crossrank {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                       // 0 = an ephemeral port (see Server::port())
  // Σ tokens per forward pass; 0 = auto: max(Engine::preferred_batch_tokens(), max_length)
  // (CPU 2048: bigger passes fall out of cache; MiniLM, 32 clients x 20 pairs, loopback,
  // AMD EPYC 2 cores: 16384 -> 176-201 pairs/s, 2048 -> 226-249, 1024 -> 167-259).
  int max_batch_tokens = 0;
  int max_batch_requests = 0;            // pairs per forward pass; 0 = no cap
  int max_client_batch_size = 1000;      // documents per request (422 above)
  int max_concurrent_pairs = 2048;       // admitted pairs not yet answered (429 above)
  std::size_t payload_limit = 2000000;   // request body bytes (413 above)
  std::size_t cache_mb = 256;            // score cache budget; 0 = off
  std::string api_key;                   // when set, rerank routes and /info need "Authorization: Bearer KEY"
  int max_length = 512;                  // tokens per pair incl. specials; 0 = min(512, model limit)
  Truncation truncation = Truncation::kFlagEmbedding;
  std::string served_model_name;         // "" = the model argument's base name; also the v2 model name
  int http_threads = 0;                  // I/O threads of the event loop; 0 = 2
  int prep_threads = 0;                  // request workers (JSON, tokenization, responses); 0 = cores
  int compute_threads = 0;               // OpenMP threads of the batch worker's forward passes; 0 = default
  int keep_alive_seconds = 5;            // idle keep-alive connection lifetime
  double header_timeout_s = 10;          // a request head must arrive within this (408 after)
  double body_timeout_s = 30;            // a request body must arrive within this (408 after)
  int max_connections = 4096;            // open connections (503 above)
  // A 429 is held this long before it is sent: a client that retries at once without
  // backing off then costs the server one timer per refusal instead of a busy loop
  // (see README "Overload" for the goodput it buys).
  int reject_delay_ms = 100;
};

// One model of a multi-model server: `name` is what the request's "model" field selects.
struct ServedModel {
  std::string name;
  Engine* engine = nullptr;
};

class Server {
 public:
  // `engine` must outlive the server. Throws Error on inconsistent options (e.g. a
  // max_length above the model's limit or above max_batch_tokens).
  Server(Engine& engine, ServerOptions opts);
  // Several models (names unique, non-empty; the first is the default for requests that
  // name none). With one model any "model" value is accepted; with several an unknown
  // name is refused (Cohere/TEI 404, Jina 422, Infinity 400). Engines must outlive it.
  Server(std::vector<ServedModel> models, ServerOptions opts);
  // Calls stop().
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port, starts the HTTP threads and the batch worker, then runs a warm-up
  // forward pass (GET /health answers 503 until it is done). Returns the bound port.
  // Throws Error when the address cannot be bound or the warm-up fails.
  int start();
  // Stops accepting connections, finishes every request in flight, joins all threads.
  // Idempotent.
  void stop();

  int port() const;
  bool ready() const;
  // Pairs admitted and not yet answered.
  std::size_t pairs_in_flight() const;
  // The effective options (max_length, served_model_name, threads resolved).
  const ServerOptions& options() const;
  // Open connections.
  std::size_t connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The OpenAPI 3 document of the routes, for GET /openapi.json; `models` are the served
// names (a single one is not enforced).
std::string openapi_document(const ServerOptions& opts, const std::vector<std::string>& models);

}  // namespace crossrank
