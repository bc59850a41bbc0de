#pragma once
// The engine flags every subcommand that opens a model shares (--dtype, --backend,
// --threads, --memory-budget-mb, --device, --deterministic, --reranker), declared once.
#include <CLI/CLI.hpp>
#include <string>

#include "crossrank/crossrank.h"

namespace crossrank {

struct EngineFlags {
  std::string dtype = "fp32", backend = "auto";
  int threads = 0, device = 0;
  std::size_t memory_mb = 0;
  bool deterministic = false;
  std::string reranker;

  // Adds the flags to `app`; `dtype_help` overrides the --dtype help text (e.g. bench's
  // comma lists), `with_memory` adds --memory-budget-mb.
  void add(CLI::App* app, const std::string& dtype_help = "fp32 | bf16 | int8 | fp16 (GPU)", bool with_memory = true) {
    app->add_option("--dtype", dtype, dtype_help)->capture_default_str()->envname("CROSSRANK_DTYPE");
    app->add_option("--backend", backend, "auto | cpu | ref | cuda")->capture_default_str()->envname("CROSSRANK_BACKEND");
    app->add_option("--threads", threads, "compute threads (0 = all cores)")->envname("CROSSRANK_THREADS");
    app->add_option("--device", device, "CUDA device (one engine per GPU; replicas for several)")->envname("CROSSRANK_DEVICE");
    if (with_memory) app->add_option("--memory-budget-mb", memory_mb, "activation memory per pass (0 = auto)");
    app->add_flag("--deterministic", deterministic,
                  "bit-identical scores whatever the batching, threads and other pairs (same binary and ISA)")
        ->envname("CROSSRANK_DETERMINISTIC");
    app->add_option("--reranker", reranker,
                    "decoder rerankers: the recipe (prompt, truncation, score) when the model's folder or hub name "
                    "does not say it: qwen3-reranker, qwen3-reranker-seq-cls, mxbai-rerank-v2, mxbai-rerank-v2-seq-cls, "
                    "bge-reranker-v2-gemma")
        ->envname("CROSSRANK_RERANKER");
  }
  // The parsed EngineOptions; throws Error for an unknown dtype or backend.
  EngineOptions get() const {
    EngineOptions o;
    o.dtype = parse_dtype(dtype);
    o.backend = parse_backend(backend);
    o.threads = threads;
    o.memory_budget_mb = memory_mb;
    o.device = device;
    o.deterministic = deterministic;
    o.reranker = reranker;
    return o;
  }
};

}  // namespace crossrank
