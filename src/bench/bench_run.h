#pragma once
// Internals of `crossrank bench` (bench.cc: options, inputs, machine facts, one engine per
// dtype, the report; bench_config.cc: measuring one dtype x batch-size configuration).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench.h"
#include "bench/inputs.h"
#include "bench/report.h"
#include "crossrank/crossrank.h"

namespace crossrank::bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}
// CPU time (user + sys) of the whole process, all threads.
double process_cpu_s();
// x with `digits` decimals.
std::string fmt(double x, int digits = 1);
// Peak device memory of the CUDA backend (weights, arenas, workspaces) since the last
// reset, in MB; -1 for CPU backends. reset: restart the peak from now.
double peak_device_mb(BackendKind backend, bool reset = false);

// Progress on stderr: a redrawn bar on a terminal, one line per event otherwise.
class Progress {
 public:
  explicit Progress(int total) : total_(total), tty_(isatty(2) != 0), t0_(Clock::now()) {}
  void status(const std::string& what) {
    if (!tty_) return;
    const int width = 28;
    const int filled = total_ ? width * done_ / total_ : width;
    std::string bar(filled, '#');
    bar += std::string(width - filled, '.');
    std::fprintf(stderr, "\r\033[K[%s] %d/%d  %s  %.0fs", bar.c_str(), done_, total_, what.c_str(),
                 seconds_since(t0_));
    std::fflush(stderr);
  }
  void log(const std::string& msg) {
    if (tty_) std::fprintf(stderr, "\r\033[K");
    std::fprintf(stderr, "crossrank bench: %s\n", msg.c_str());
    std::fflush(stderr);
  }
  void step() { ++done_; }
  void finish() {
    if (tty_) std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  }

 private:
  int total_, done_ = 0;
  bool tty_;
  Clock::time_point t0_;
};


// One `crossrank bench` run: its options, the time budget shared among configurations,
// the input pools, the running estimates and the report being filled.
struct BenchRun {
  BenchRun(const BenchOptions& opts, int n_configs) : o(opts), progress(n_configs) {}

  const BenchOptions& o;
  Clock::time_point t_start = Clock::now();
  InputSpec spec;
  double budget = 0;  // seconds for the whole run; 0: none
  std::vector<int> batches;
  std::vector<DType> dtypes;
  BackendKind backend = BackendKind::kAuto;
  Report rep;
  Progress progress;
  int pool_n = 0;
  std::vector<SeedPair> seed;      // seedlike text pairs
  std::vector<EncodedPair> fixed;  // len:N pool, built with the first engine
  double est_load_s = -1;          // Engine::open time of the last successful load
  double est_pair_s = -1;          // seconds per pair of the last measurement
  ScoreOptions so;

  // Least time a configuration of batch B can take: warm-up + 1 measured batch (the
  // pure-forward runs give way first when the time budget is short).
  double min_cost(int B) const { return std::min(est_pair_s * B, kMaxWarmupS) + est_pair_s * B; }
  // The measured GEMM peak of dtype d, or null.
  const GemmPeak* peak_of(const std::string& d) const;
  // Loads the engine for dtypes[di] and measures every batch size with it.
  void run_dtype(std::size_t di);
  // Measures batch size batches[bi] of dtypes[di] on `engine` (bench_config.cc); a
  // skipped or failed configuration comes back with its status and note.
  ConfigResult run_config(Engine& engine, const DTypeRun& dr, std::size_t di, std::size_t bi);
};

}  // namespace crossrank::bench
