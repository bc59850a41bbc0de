// `crossrank serve`: a drop-in rerank server (TEI /rerank, Cohere /v2/rerank, Jina
// /v1/rerank, KServe/Triton's Open Inference Protocol v2 under /v2/models). Options can also come from CROSSRANK_* environment variables, as TEI does.
#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <vector>
#include <thread>

#include "commands.h"
#include "server/server.h"
#include "util/error.h"
#include "util/log.h"

namespace crossrank {

namespace {

struct ServeArgs {
  std::vector<std::string> models;  // MODEL or NAME=MODEL, repeatable
  std::string dtype = "fp32", backend = "auto", truncation = "flagembedding";
  int threads = 0;
  std::size_t memory_mb = 0;
  bool deterministic = false;
  ServerOptions server;
};

// Blocks SIGINT/SIGTERM in this thread and every thread created after it, so that they
// are only ever received by sigwait() in run().
sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

int run(const ServeArgs& a) {
  // Before anything starts a thread (OpenMP, HTTP pool, batcher).
  const sigset_t stop_set = block_stop_signals();
  EngineOptions eo;
  eo.dtype = parse_dtype(a.dtype);
  eo.backend = parse_backend(a.backend);
  eo.threads = a.threads;
  eo.memory_budget_mb = a.memory_mb;
  eo.deterministic = a.deterministic;
  ServerOptions so = a.server;
  so.truncation = parse_truncation(a.truncation);
  so.compute_threads = a.threads;

  // --model MODEL | NAME=MODEL (repeatable; MODEL: folder, hub id or synthetic:NAME): one
  // engine and one batcher per model; the request's "model" field picks one (the first is
  // the default).
  std::vector<std::unique_ptr<Engine>> engines;
  std::vector<ServedModel> served;
  for (const std::string& spec : a.models) {
    std::string name, dir = spec;
    // NAME=MODEL; a bare "synthetic:...", path or hub id is its own name (Server derives it).
    if (const auto eq = spec.find('='); eq != std::string::npos && spec.rfind("synthetic:", 0) != 0) {
      name = spec.substr(0, eq);
      dir = spec.substr(eq + 1);
      check(!name.empty() && !dir.empty(), "--model '" + spec + "': expected NAME=MODEL");
    }
    log_info("loading " + dir + (name.empty() ? "" : " as " + name));
    engines.push_back(Engine::open(dir, eo));
    served.push_back({a.models.size() == 1 && name.empty() ? so.served_model_name : name, engines.back().get()});
  }
  Server server(served, so);
  server.start();

  int sig = 0;
  sigwait(&stop_set, &sig);
  log_info(std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ": no new connections; finishing " +
           std::to_string(server.pairs_in_flight()) + " pairs in flight");
  std::atomic<bool> done{false};
  std::thread stopper([&] {
    server.stop();
    done = true;
  });
  // A second Ctrl-C (SIGINT, over a second after the first) while draining exits at once.
  // Repeated SIGTERMs are ignored: wrappers such as timeout(1) deliver one to the process
  // and one to its group, and orchestrators follow up with SIGKILL anyway.
  const auto first = std::chrono::steady_clock::now();
  const timespec tick{0, 100 * 1000 * 1000};
  while (!done) {
    siginfo_t info;
    const int s = sigtimedwait(&stop_set, &info, &tick);
    if (s == SIGINT && std::chrono::steady_clock::now() - first > std::chrono::seconds(1)) {
      log_warn("second SIGINT: exiting without finishing the requests in flight");
      std::_Exit(130);
    }
  }
  stopper.join();
  log_info("stopped");
  return 0;
}

}  // namespace

std::function<int()> setup_serve(CLI::App* sub) {
  auto a = std::make_shared<ServeArgs>();
  ServerOptions& s = a->server;
  sub->add_option("--model,-m", a->models,
                  "model folder, Hugging Face id ORG/NAME[@REVISION] or synthetic:NAME; repeat as NAME=MODEL to serve several (the request's "
                  "\"model\" field routes; the first is the default)")
      ->required()
      ->envname("CROSSRANK_MODEL");
  sub->add_option("--host", s.host, "address to listen on")->capture_default_str()->envname("CROSSRANK_HOST");
  sub->add_option("--port,-p", s.port, "port (0 = ephemeral)")->check(CLI::Range(0, 65535))->capture_default_str()->envname("CROSSRANK_PORT");
  sub->add_option("--dtype", a->dtype, "fp32 | bf16 | int8 | fp16 (GPU)")->capture_default_str()->envname("CROSSRANK_DTYPE");
  sub->add_option("--backend", a->backend, "auto | cpu | ref | cuda")->capture_default_str()->envname("CROSSRANK_BACKEND");
  sub->add_flag("--deterministic", a->deterministic,
                "bit-identical scores whatever the batching, load and other requests (same binary and ISA)")
      ->envname("CROSSRANK_DETERMINISTIC");
  sub->add_option("--threads", a->threads, "compute threads of the forward pass (0 = all cores)")
      ->capture_default_str()
      ->envname("CROSSRANK_THREADS");
  sub->add_option("--memory-budget-mb", a->memory_mb, "activation memory per pass (0 = auto)")
      ->capture_default_str()
      ->envname("CROSSRANK_MEMORY_BUDGET_MB");
  sub->add_option("--max-batch-tokens", s.max_batch_tokens,
                  "token budget of one forward pass (sum over its pairs); 0 = auto: the backend's preferred "
                  "size (16384 on GPU, 2048 on CPU), at least --max-length")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber)
      ->envname("CROSSRANK_MAX_BATCH_TOKENS");
  sub->add_option("--max-batch-requests", s.max_batch_requests, "pairs per forward pass (0 = no cap)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber)
      ->envname("CROSSRANK_MAX_BATCH_REQUESTS");
  sub->add_option("--max-client-batch-size", s.max_client_batch_size, "documents per request (more -> 422)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->envname("CROSSRANK_MAX_CLIENT_BATCH_SIZE");
  sub->add_option("--max-concurrent-pairs", s.max_concurrent_pairs,
                  "admitted pairs not yet answered, over all requests (more -> 429 + Retry-After)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->envname("CROSSRANK_MAX_CONCURRENT_PAIRS");
  sub->add_option("--payload-limit", s.payload_limit, "request body limit in bytes (more -> 413)")
      ->capture_default_str()
      ->envname("CROSSRANK_PAYLOAD_LIMIT");
  sub->add_option("--cache-mb", s.cache_mb, "score cache size in MiB (0 = off)")
      ->capture_default_str()
      ->envname("CROSSRANK_CACHE_MB");
  auto* api_key = sub->add_option("--api-key", s.api_key,
                  "require 'Authorization: Bearer KEY' on the rerank routes and /info (/health, /metrics stay open)")
      ->envname("CROSSRANK_API_KEY");
  sub->add_option("--max-length", s.max_length,
                  "tokens per pair incl. special tokens (default 512, or the model's limit if smaller)")
      ->envname("CROSSRANK_MAX_LENGTH");
  sub->add_option("--truncation", a->truncation,
                  "flagembedding (query <= 3/4, then cut the passage) | longest_first (TEI / sentence-transformers)")
      ->capture_default_str()
      ->envname("CROSSRANK_TRUNCATION");
  sub->add_option("--served-model-name", s.served_model_name, "model name in responses and in /v2/models/NAME (default: the model's base name)")
      ->envname("CROSSRANK_SERVED_MODEL_NAME");
  sub->add_option("--http-threads", s.http_threads, "I/O threads of the event loop (0 = 2)")
      ->capture_default_str()
      ->envname("CROSSRANK_HTTP_THREADS");
  sub->add_option("--prep-threads", s.prep_threads, "request workers: JSON, tokenization, responses (0 = cores)")
      ->capture_default_str()
      ->envname("CROSSRANK_PREP_THREADS");
  sub->add_option("--max-connections", s.max_connections, "open connections (more -> 503 and close)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->envname("CROSSRANK_MAX_CONNECTIONS");
  sub->add_option("--header-timeout", s.header_timeout_s, "seconds a request head may take to arrive (408 after)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->envname("CROSSRANK_HEADER_TIMEOUT");
  sub->add_option("--body-timeout", s.body_timeout_s, "seconds a request body may take to arrive (408 after)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->envname("CROSSRANK_BODY_TIMEOUT");
  sub->add_option("--reject-delay-ms", s.reject_delay_ms,
                  "hold each 429 this long (throttles clients that retry at once; 0 = answer at once)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber)
      ->envname("CROSSRANK_REJECT_DELAY_MS");
  sub->add_option("--keep-alive", s.keep_alive_seconds, "idle keep-alive timeout in seconds")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->envname("CROSSRANK_KEEP_ALIVE");
  s.max_length = 0;  // resolved against the model by the server
  sub->footer(
      "Routes: POST /rerank (TEI; a 'documents' body gets the Jina shape), POST / and /invocations (same),\n"
      "POST /v2/rerank (Cohere v2), POST /v1/rerank (Jina, Cohere v1), GET /health, /info, /metrics, /openapi.json.\n"
      "SIGTERM/SIGINT: stop accepting, finish the requests in flight, exit 0.");
  return [a, api_key]() -> int {
    // An empty key (say, an unset secret behind CROSSRANK_API_KEY) leaves the routes open.
    const char* env_key = std::getenv("CROSSRANK_API_KEY");
    if ((api_key->count() > 0 || (env_key && !*env_key)) && a->server.api_key.empty())
      log_warn("--api-key / CROSSRANK_API_KEY is empty: authentication is OFF, every route is open");
    return run(*a);
  };
}

}  // namespace crossrank
