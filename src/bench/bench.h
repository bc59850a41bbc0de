#pragma once
// `crossrank bench`: latency, per-pair latency, throughput, tokens/s and peak memory per
// batch size and dtype, the GEMM peaks measured in the same run, and a recommendation.
#include <string>

namespace crossrank::bench {

// Defaults: chosen so that the README command (`crossrank bench --model
// synthetic:bge-reranker-v2-m3`) ends within ~5 minutes on 2 cores. Flags widen it.
inline constexpr const char* kDefaultBatchSizes = "1,4,16";
inline constexpr int kDefaultRepeats = 5;       // upper bound when --repeats is not given
inline constexpr double kDefaultBudgetS = 270;  // when neither --batch-sizes nor --repeats is given
inline constexpr int kDefaultPairs = 256;
inline constexpr double kMaxWarmupS = 5;

struct BenchOptions {
  std::string model;
  std::string batch_sizes = kDefaultBatchSizes;
  std::string dtypes = "auto";
  std::string backend = "auto";
  std::string inputs = "seedlike";
  std::string format = "md";
  std::string plot, output, dump_inputs;
  double latency_budget_ms = 500;
  int pairs = kDefaultPairs;
  int repeats = kDefaultRepeats;
  int threads = 0;
  bool deterministic = false;  // EngineOptions::deterministic for every configuration
  double max_seconds = -1;  // < 0: auto
  double gemm_seconds = 0.5;
  int max_length = 512;
  // Hidden, for bench/peers.py: skip the pure-forward runs, cap the measured time of a
  // configuration (whole batches, at least one), warm up on the first K pairs only.
  bool score_only = false;
  double measure_seconds = 0;
  int warmup_pairs = 0;
  bool explicit_batches = false;  // --batch-sizes given (no time budget by default)
  bool explicit_repeats = false;  // --repeats given
};

// Runs the benchmark and writes the report (o.format to o.output); returns the exit code.
// Throws Error for bad options.
int run_bench(const BenchOptions& o);

}  // namespace crossrank::bench
