#pragma once
// Results of `crossrank bench` and their renderings: Markdown, CSV, JSON and an SVG plot.
#include <string>
#include <vector>

#include "bench/gemm_peak.h"
#include "crossrank/crossrank.h"
#include "util/sysinfo.h"

namespace crossrank::bench {

// FLOPs per pair come from the model's family (Architecture::pair_flops), and the
// report states its formula (Report::flops_formula).

struct Stats {
  double mean = 0, p50 = 0, p90 = 0, min = 0, max = 0;
};
// Percentiles by linear interpolation between order statistics (numpy's default).
Stats compute_stats(std::vector<double> v);

struct ConfigResult {
  std::string dtype;
  int batch = 0;
  std::string status = "ok";  // ok | skipped | failed
  std::string note;
  int repeats = 0, forward_repeats = 0;
  int warmup_pairs = 0;           // pairs in the (untimed) warm-up batch
  double warmup_ms = 0;
  std::vector<double> batch_ms;  // measured batch latencies (score, or forward for len:N)
  std::vector<int> batch_pairs;  // pairs in each measured batch
  Stats latency;                 // of batch_ms
  double pair_ms = 0;            // total time / total pairs
  double pairs_per_s = 0, tokens_per_s = 0, tokens_per_pair = 0;
  double forward_ms = 0;         // mean pure Engine::forward time per batch
  double forward_pairs_per_s = 0;
  double tokenize_ms = 0;        // mean tokenization time per batch (same threads as score)
  double tokenize_share = 0;     // tokenize_ms / mean batch latency
  double cpu_s = 0;              // process CPU time (user + sys) over the measured batches
  double cpu_util = 0;           // cpu_s / (measured wall time x threads): < ~0.9 = contended
  double pairs_per_cpu_s = 0;    // pairs / cpu_s: robust to other load on a shared machine
  double peak_rss_mb = 0;        // VmHWM over this configuration
  double activation_mb = 0;      // peak_rss_mb - the dtype's resident baseline
  double peak_device_mb = -1;    // CUDA backend: peak device memory over this configuration; < 0: n/a
  double gflop_per_pair = 0;     // mean over the measured pairs
  double gflops = 0;             // end-to-end achieved (pair FLOPs / batch latency)
  double pct_peak = -1;          // of the measured GEMM peak of this dtype; < 0: n/a
  double pct_peak_cpu = -1;      // the same per CPU-second (both sides), robust to other load
  std::vector<std::string> tags; // best_throughput, best_within_budget
};

struct DTypeRun {
  std::string dtype;
  bool ok = false;
  std::string note;            // why it was not run
  std::string backend;         // Engine::backend()
  int threads = 0;             // OpenMP threads the engine runs with
  double load_s = 0;           // Engine::open wall time
  double rss_before_mb = 0;    // process RSS before Engine::open
  double baseline_rss_mb = 0;  // process RSS after Engine::open (model resident)
  std::string describe;        // Engine::describe()
  bool gated = false;          // passed the real-weight quality gate (quality_gate.h)
  std::string gate;            // the verdict's one line
};

struct Report {
  std::string version, command;
  ModelInfo model;
  CpuInfo cpu;
  int threads = 0;
  std::string onednn;
  std::vector<GemmPeak> peaks;
  std::string inputs;         // seedlike | len:N
  std::string input_source;
  bool input_fallback = false;
  int pool_pairs = 0;
  double zh_share = 0;        // seedlike: fraction of Chinese pairs in the pool
  int max_length = 512;
  double latency_budget_ms = 0;
  std::string flops_formula;  // the family's (Architecture::flops_formula)
  double max_seconds = 0;     // 0: unlimited
  bool hwm_reset = true;      // VmHWM reset per configuration worked
  std::vector<DTypeRun> dtypes;
  std::vector<ConfigResult> results;
  int best = -1, best_within = -1;  // indices into results
  double total_s = 0;
  std::vector<std::string> notes;
};

// Sets best / best_within and the tags: best throughput overall, and best throughput
// among configurations whose p90 batch latency is <= latency_budget_ms.
void recommend(Report& r);

std::string render_md(const Report& r);
std::string render_csv(const Report& r);
std::string render_json(const Report& r);
// Two panels vs batch size (log2 axis): pairs/s and per-pair latency, one line per dtype.
std::string render_svg(const Report& r);

}  // namespace crossrank::bench
