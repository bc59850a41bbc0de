#pragma once
// The rerank HTTP server behind `crossrank serve`: TEI /rerank, Cohere /v2/rerank, Jina
// /v1/rerank, /health, /info, /metrics, /openapi.json over one Engine, with a dynamic
// batcher (src/scheduler/batcher.h) and a score cache. HTTP (cpp-httplib) stays behind
// the pimpl. Usable in-process: tests start it on port 0 and talk to it over loopback.
#include <cstddef>
#include <memory>
#include <string>

#include "crossrank/crossrank.h"

namespace crossrank {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                       // 0 = an ephemeral port (see Server::port())
  // Σ tokens per forward pass; 0 = auto: 16384 on a GPU (as TEI), max(2048, max_length) on
  // CPU, where bigger passes fall out of cache (MiniLM, 32 clients x 20 pairs, loopback:
  // 16384 -> 176-201 pairs/s, 2048 -> 226-249, 1024 -> 167-259; noisy 2-core machine).
  int max_batch_tokens = 0;
  int max_batch_requests = 0;            // pairs per forward pass; 0 = no cap
  int max_client_batch_size = 1000;      // documents per request (422 above)
  int max_concurrent_pairs = 2048;       // admitted pairs not yet answered (429 above)
  std::size_t payload_limit = 2000000;   // request body bytes (413 above)
  std::size_t cache_mb = 256;            // score cache budget; 0 = off
  std::string api_key;                   // when set, rerank routes and /info need "Authorization: Bearer KEY"
  int max_length = 512;                  // tokens per pair incl. specials; 0 = min(512, model limit)
  Truncation truncation = Truncation::kFlagEmbedding;
  std::string served_model_name;         // "" = the model argument's base name
  int http_threads = 0;                  // connection handler threads; 0 = max(64, 4 * cores)
  int compute_threads = 0;               // OpenMP threads of the batch worker's forward passes; 0 = default
  int keep_alive_seconds = 5;            // idle keep-alive connection lifetime
};

class Server {
 public:
  // `engine` must outlive the server. Throws Error on inconsistent options (e.g. a
  // max_length above the model's limit or above max_batch_tokens).
  Server(Engine& engine, ServerOptions opts);
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
  // The effective options (max_length, served_model_name, http_threads resolved).
  const ServerOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The OpenAPI 3 document of the routes, for GET /openapi.json.
std::string openapi_document(const ServerOptions& opts, const std::string& model);

}  // namespace crossrank
