// `crossrank bench`: latency / throughput / memory of the engine per dtype x batch size,
// machine facts (CPU, ISA, measured GEMM peaks), and a batch-size recommendation.
#include <malloc.h>
#include <sys/resource.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "backend/backend.h"
#include "bench/gemm_peak.h"
#include "bench/inputs.h"
#include "bench/quality_gate.h"
#include "engine/engine_internal.h"
#include "model/architecture.h"
#include "bench/report.h"
#include "bench/bench.h"
#include "hub/hub.h"
#include "util/output.h"
#include "model/architecture.h"
#include "model/config.h"
#include "util/error.h"
#include "util/sysinfo.h"

namespace crossrank::bench {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// CPU time (user + sys) of the whole process, all threads.
double process_cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}


std::vector<int> parse_batch_sizes(const std::string& s) {
  const std::string hint = " (expected comma-separated positive integers, e.g. 1,4,16)";
  std::vector<int> out;
  size_t pos = 0;
  while (true) {
    const size_t comma = s.find(',', pos);
    std::string tok = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    while (!tok.empty() && tok.front() == ' ') tok.erase(0, 1);
    while (!tok.empty() && tok.back() == ' ') tok.pop_back();
    const bool digits = !tok.empty() && tok.size() <= 6 &&
                        std::all_of(tok.begin(), tok.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits) throw Error("bad --batch-sizes '" + s + "': '" + tok + "' is not a positive integer" + hint);
    const int v = std::stoi(tok);
    if (v < 1 || v > 65536) throw Error("bad --batch-sizes '" + s + "': " + tok + " is not in [1, 65536]" + hint);
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<DType> parse_dtypes(const std::string& s, BackendKind backend, const CpuInfo& cpu) {
  std::vector<DType> out;
  if (s == "auto") {
    // fp32 and int8 everywhere; bf16 only where the CPU has native bf16 dot products
    // (elsewhere it is emulated and never the fastest choice); fp16 on a GPU.
    if (backend == BackendKind::kCuda) return {DType::kFp32, DType::kFp16};
    if (backend == BackendKind::kReference) return {DType::kFp32};
    out = {DType::kFp32};
    if (cpu.has("avx512_bf16") || cpu.has("amx_bf16")) out.push_back(DType::kBf16);
    out.push_back(DType::kInt8);
    return out;
  }
  size_t pos = 0;
  while (true) {
    const size_t comma = s.find(',', pos);
    const std::string tok = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    DType d;
    try {
      d = parse_dtype(tok);
    } catch (const Error&) {
      throw Error("bad --dtype '" + s + "': '" + tok + "' (expected auto or a list of fp32, bf16, int8, fp16)");
    }
    if (std::find(out.begin(), out.end(), d) == out.end()) out.push_back(d);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

// Cheap validation of --model before anything is measured (unknown synthetic name,
// missing folder / config.json): the user sees the error at once.
ModelConfig precheck_model(const std::string& model) {
  const std::string prefix = "synthetic:";
  if (model.rfind(prefix, 0) == 0) {
    std::string name = model.substr(prefix.size());
    if (auto at = name.find('@'); at != std::string::npos) name = name.substr(0, at);
    return synthetic_config(name);
  }
  namespace fs = std::filesystem;
  const std::string folder = hub::resolve_model(model);  // once per process: Engine::open reuses it
  if (!fs::is_directory(folder)) throw Error(model + ": model folder not found (or use synthetic:NAME)");
  if (!fs::exists(fs::path(folder) / "config.json")) throw Error(model + ": no config.json in the model folder");
  return load_config((fs::path(folder) / "config.json").string());
}

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

std::string fmt(double x, int digits = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return buf;
}

// Peak device memory of the CUDA backend (weights, arenas, workspaces) since the last
// reset, in MB; -1 for CPU backends. reset: restart the peak from now.
double peak_device_mb(BackendKind backend, bool reset = false) {
  if (backend != BackendKind::kCuda) return -1;
  return static_cast<double>(cuda_device_memory(reset).peak) / 1048576.0;
}

}  // namespace

int run_bench(const BenchOptions& o) {
  const auto t_start = Clock::now();
  // ---- options ----------------------------------------------------------------------
  const InputSpec spec = parse_inputs(o.inputs);
  check(o.format == "md" || o.format == "csv" || o.format == "json",
        "bad --format '" + o.format + "' (expected md, csv or json)");
  check(o.pairs >= 1, "--pairs must be >= 1");
  check(o.threads >= 0, "--threads must be >= 0");
  check(o.repeats >= 1, "--repeats must be >= 1");
  check(o.latency_budget_ms > 0, "--latency-budget-ms must be > 0");
  check(o.gemm_seconds >= 0, "--gemm-seconds must be >= 0");
  check(o.measure_seconds >= 0, "--measure-seconds must be >= 0");
  check(o.warmup_pairs >= 0, "--warmup-pairs must be >= 0");

  if (!o.dump_inputs.empty()) {
    check(spec.seedlike, "--dump-inputs writes seedlike text pairs; it cannot be combined with --inputs " + o.inputs);
    const TextPool pool = load_text_pool();
    if (pool.fallback) std::fprintf(stderr, "crossrank bench: warning: %s\n", pool.source.c_str());
    dump_pairs_jsonl(make_seedlike(pool, o.pairs), o.dump_inputs);
    std::fprintf(stderr, "crossrank bench: wrote %d seedlike pairs to %s\n", o.pairs, o.dump_inputs.c_str());
    return 0;
  }
  check(!o.model.empty(), "--model is required (a model folder, a Hugging Face id ORG/NAME or synthetic:NAME)");
  const std::vector<int> batches = parse_batch_sizes(o.batch_sizes);
  const BackendKind backend = parse_backend(o.backend);
  const CpuInfo cpu = cpu_info();
  const std::vector<DType> dtypes = parse_dtypes(o.dtypes, backend, cpu);
  const bool explicit_repeats = o.explicit_repeats;
  const bool explicit_batches = o.explicit_batches;
  double budget = o.max_seconds;
  if (budget < 0) budget = (explicit_repeats || explicit_batches) ? 0 : kDefaultBudgetS;
  const ModelConfig mc = precheck_model(o.model);
  {
    const int specials = mc.arch->template_tokens(nullptr, mc, ScoreOptions{});
    if (!spec.seedlike && (spec.len < specials + 2 || spec.len > mc.max_length))
      throw Error("bad --inputs " + o.inputs + ": N must be in [" + std::to_string(specials + 2) + ", " +
                  std::to_string(mc.max_length) + "] for " + o.model);
    check(o.max_length >= specials + 2 && o.max_length <= mc.max_length,
          "--max-length " + std::to_string(o.max_length) + " outside [" + std::to_string(specials + 2) + ", " +
              std::to_string(mc.max_length) + "] for " + o.model);
  }

  Report rep;
  rep.version = version();
  rep.cpu = cpu;
  rep.inputs = spec.text();
  rep.latency_budget_ms = o.latency_budget_ms;
  rep.flops_formula = mc.arch->flops_formula();
  rep.max_seconds = budget;
  rep.max_length = o.max_length;
  {
    std::string dl;
    for (DType d : dtypes) dl += std::string(dl.empty() ? "" : ",") + to_string(d);
    rep.command = "crossrank bench --model " + o.model + " --batch-sizes " + o.batch_sizes + " --dtype " + dl +
                  " --inputs " + rep.inputs + " --repeats " +
                  (budget > 0 ? "auto(<=" + std::to_string(o.repeats) + ")" : std::to_string(o.repeats)) +
                  (o.threads ? " --threads " + std::to_string(o.threads) : "") + " --backend " + o.backend +
                  " --latency-budget-ms " + fmt(o.latency_budget_ms, 0) + " --max-seconds " + fmt(budget, 0);
  }

  const int n_configs = static_cast<int>(dtypes.size() * batches.size());
  Progress progress(n_configs);

  // ---- inputs --------------------------------------------------------------------------
  const int max_batch = batches.back();
  const int pool_n = std::max(o.pairs, max_batch);
  std::vector<SeedPair> seed;
  if (spec.seedlike) {
    const TextPool pool = load_text_pool();
    if (pool.fallback) progress.log("warning: " + pool.source);
    seed = make_seedlike(pool, pool_n);
    rep.input_source = pool.source;
    rep.input_fallback = pool.fallback;
    int zh = 0;
    for (const auto& p : seed) zh += p.chinese;
    rep.zh_share = static_cast<double>(zh) / seed.size();
  } else {
    rep.input_source = "random token ids";
  }
  rep.pool_pairs = pool_n;

  // ---- machine -------------------------------------------------------------------------
  if (o.threads > 0) omp_set_num_threads(o.threads);
  rep.threads = omp_get_max_threads();
  rep.onednn = onednn_description();
  for (const char* d : {"fp32", "bf16", "int8"}) {
    if (o.gemm_seconds <= 0) {
      GemmPeak p;
      p.dtype = d;
      p.note = "not measured (--gemm-seconds 0)";
      rep.peaks.push_back(p);
      continue;
    }
    progress.status(std::string("GEMM peak ") + d);
    rep.peaks.push_back(measure_gemm_peak(d, o.gemm_seconds, peak_shapes(mc.hidden, mc.intermediate)));
    const auto& p = rep.peaks.back();
    progress.log(std::string("GEMM peak ") + d + ": " +
                 (p.ok ? fmt(p.gflops) + (p.dtype == "int8" ? " GOP/s (" : " GFLOP/s (") + p.impl + ")" : p.note));
  }
  auto peak_of = [&](const std::string& d) -> const GemmPeak* {
    for (const auto& p : rep.peaks)
      if (p.dtype == d && p.ok) return &p;
    return nullptr;
  };

  // ---- measurements -------------------------------------------------------------------
  rep.hwm_reset = reset_peak_rss();
  std::vector<EncodedPair> fixed;  // len:N pool, built with the first engine
  double est_load_s = -1;          // Engine::open time of the last successful load
  double est_pair_s = -1;          // seconds per pair of the last measurement
  ScoreOptions so;
  so.max_length = o.max_length;
  // Least time a configuration of batch B can take: warm-up + 1 measured batch (the
  // pure-forward runs are dropped first when the time budget is short).
  auto min_cost = [&](int B) {
    const double batch = est_pair_s * B;
    return std::min(batch, kMaxWarmupS) + batch;  // the pure-forward runs give way first
  };

  for (size_t di = 0; di < dtypes.size(); ++di) {
    const std::string dname = to_string(dtypes[di]);
    DTypeRun dr;
    dr.dtype = dname;
    auto skip_all = [&](const std::string& why) {
      dr.note = why;
      for (int b : batches) {
        ConfigResult c;
        c.dtype = dname;
        c.batch = b;
        c.status = "skipped";
        c.note = why;
        rep.results.push_back(c);
        progress.step();
      }
      progress.log(dname + ": skipped: " + why);
    };
    if (budget > 0 && est_load_s > 0 && est_pair_s > 0 &&
        seconds_since(t_start) + est_load_s + min_cost(batches.front()) > budget) {
      skip_all("time budget (" + fmt(budget, 0) + " s) would be exceeded; --max-seconds 0 lifts it");
      rep.dtypes.push_back(dr);
      continue;
    }
    EngineOptions eo;
    eo.backend = backend;
    eo.dtype = dtypes[di];
    eo.threads = o.threads;
    eo.deterministic = o.deterministic;
    // Probe the dtype on a tiny model first: an unsupported dtype is then reported in
    // milliseconds instead of after building a large model's weights.
    if (dtypes[di] != DType::kFp32) {
      try {
        (void)Engine::open("synthetic:tiny-xlmr", eo);
      } catch (const std::exception& e) {
        const std::string msg = e.what();
        if (msg.find(dname) != std::string::npos) {
          skip_all(msg);
          rep.dtypes.push_back(dr);
          continue;
        }
      }
    }
    std::unique_ptr<Engine> engine;
    progress.status("loading " + o.model + " (" + dname + ")");
    dr.rss_before_mb = rss_bytes() / 1048576.0;
    const auto tl = Clock::now();
    try {
      engine = Engine::open(o.model, eo);
    } catch (const std::exception& e) {
      skip_all(e.what());
      rep.dtypes.push_back(dr);
      continue;
    }
    dr.load_s = seconds_since(tl);
    est_load_s = dr.load_s;
    dr.baseline_rss_mb = rss_bytes() / 1048576.0;
    dr.ok = true;
    dr.backend = to_string(engine->backend());
    dr.describe = engine->describe();
    {
      const GateVerdict v = quality_gate(dtypes[di], engine->backend(), dr.describe, engine_config(*engine).arch->int8_gate_gap());
      dr.gated = v.passed;
      dr.gate = v.why;
    }
    dr.threads = omp_get_max_threads();
    rep.threads = dr.threads;
    rep.model = engine->info();
    progress.log(dname + ": loaded " + o.model + " in " + fmt(dr.load_s) + " s, RSS " + fmt(dr.baseline_rss_mb, 0) +
                 " MB, backend " + dr.backend + ", " + std::to_string(dr.threads) + " threads");
    if (!spec.seedlike && fixed.empty()) fixed = make_fixed_len(engine_config(*engine), engine_tokenizer(*engine), spec.len, pool_n);  // may throw (bad len)
    rep.dtypes.push_back(dr);

    for (size_t bi = 0; bi < batches.size(); ++bi) {
      const int B = batches[bi];
      ConfigResult c;
      c.dtype = dname;
      c.batch = B;
      const std::string label = dname + " batch " + std::to_string(B);
      // Remaining work in "pairs", used to share the time budget among configurations.
      double remaining_pairs = 0;
      for (size_t k = bi; k < batches.size(); ++k) remaining_pairs += batches[k];
      const int later_dtypes = static_cast<int>(dtypes.size() - di - 1);
      remaining_pairs += later_dtypes * std::accumulate(batches.begin(), batches.end(), 0.0);
      auto remaining_s = [&] {
        return budget - seconds_since(t_start) - later_dtypes * std::max(0.0, est_load_s);
      };
      if (budget > 0 && est_pair_s > 0 && min_cost(B) > remaining_s()) {
        c.status = "skipped";
        c.note = "time budget (" + fmt(budget, 0) + " s) would be exceeded (~" + fmt(min_cost(B), 0) +
                 " s needed); --max-seconds 0 lifts it";
        rep.results.push_back(c);
        progress.step();
        progress.log(label + ": skipped: " + c.note);
        continue;
      }
      // Batch r of this configuration: pairs [r*B, r*B + B) of the pool, cyclically.
      auto window = [&](int r) {
        std::vector<int> idx(B);
        for (int i = 0; i < B; ++i) idx[i] = static_cast<int>((static_cast<long long>(r) * B + i) % pool_n);
        return idx;
      };
      auto score_window = [&](int r, int limit = 0) {
        std::vector<Pair> ps;
        for (int i : window(r)) ps.push_back({seed[i].query, seed[i].document});
        if (limit > 0 && limit < B) ps.resize(limit);
        ScoreOptions s = so;
        s.batch_size = B;
        const auto t0 = Clock::now();
        (void)engine->score(ps, s);
        return seconds_since(t0);
      };
      auto forward_ptrs = [&](const std::vector<const EncodedPair*>& ptrs) {
        const auto t0 = Clock::now();
        (void)engine->forward(ptrs);
        return seconds_since(t0);
      };
      auto fixed_window = [&](int r, int limit = 0) {
        std::vector<const EncodedPair*> ptrs;
        for (int i : window(r)) ptrs.push_back(&fixed[i]);
        if (limit > 0 && limit < B) ptrs.resize(limit);
        return ptrs;
      };
      try {
        reset_peak_rss();
        (void)peak_device_mb(engine->backend(), true);
        progress.status(label + " warm-up");
        // Warm-up: the whole first batch, or its first pairs when a whole batch would take
        // more than kMaxWarmupS (large models on few cores; JIT, thread pools and first-touch
        // memory are primed just as well).
        int wp = B;
        if (o.warmup_pairs > 0) wp = std::min(o.warmup_pairs, B);
        else if (est_pair_s > 0 && est_pair_s * B > kMaxWarmupS)
          wp = std::clamp(static_cast<int>(kMaxWarmupS / est_pair_s), 1, B);
        c.warmup_pairs = wp;
        const double warm_raw = spec.seedlike ? score_window(0, wp) : forward_ptrs(fixed_window(0, wp));
        c.warmup_ms = warm_raw * 1e3;
        const double warm = warm_raw * B / wp;  // estimated time of a full batch
        est_pair_s = warm / B;
        int R = o.repeats;
        if (budget > 0) {  // --repeats (given or default) is then an upper bound
          const double share = remaining_s() * B / remaining_pairs;
          const double per_repeat = warm * (spec.seedlike && !o.score_only ? 1.5 : 1.0);  // + every other forward
          R = std::clamp(static_cast<int>(share / std::max(per_repeat, 1e-9)), 1, o.repeats);
        }
        c.repeats = R;
        double total_s = 0, total_tokens = 0, total_flops = 0, tok_s = 0, cpu_s = 0;
        std::vector<std::vector<EncodedPair>> encoded;  // seedlike: tokenized windows 1..R
        for (int r = 1; r <= R; ++r) {
          if (r > 1 && o.measure_seconds > 0 && total_s >= o.measure_seconds) {
            R = r - 1;
            break;
          }
          progress.status(label + " repeat " + std::to_string(r) + "/" + std::to_string(R));
          double t;
          std::vector<int> lens;
          const double cpu0 = process_cpu_s();
          if (spec.seedlike) {
            t = score_window(r);
            cpu_s += process_cpu_s() - cpu0;
            // Tokenize the same pairs again, in parallel as score does, for token counts,
            // the tokenization share and the pure-forward runs.
            const std::vector<int> idx = window(r);
            std::vector<EncodedPair> enc(B);
            std::vector<std::string> err(B);
            const auto t0 = Clock::now();
#pragma omp parallel for schedule(dynamic, 16)
            for (int i = 0; i < B; ++i) {
              try {
                enc[i] = engine->encode(seed[idx[i]].query, seed[idx[i]].document, so);
              } catch (const std::exception& e) {
                err[i] = e.what();
              }
            }
            tok_s += seconds_since(t0);
            for (const auto& e : err)
              if (!e.empty()) throw Error(e);
            for (const auto& e : enc) lens.push_back(static_cast<int>(e.ids.size()));
            encoded.push_back(std::move(enc));
          } else {
            t = forward_ptrs(fixed_window(r));
            cpu_s += process_cpu_s() - cpu0;
            for (int i = 0; i < B; ++i) lens.push_back(spec.len);
          }
          c.batch_ms.push_back(t * 1e3);
          c.batch_pairs.push_back(B);
          total_s += t;
          for (int L : lens) {
            total_tokens += L;
            total_flops += engine_config(*engine).arch->pair_flops(engine_config(*engine), L);
          }
        }
        // Pure forward time.
        c.repeats = R;
        if (spec.seedlike && o.score_only) {
          c.forward_repeats = 0;
          c.forward_ms = c.forward_pairs_per_s = std::nan("");
          c.tokenize_ms = tok_s / R * 1e3;
        } else if (spec.seedlike) {
          int F = std::max(1, (R + 1) / 2);
          if (budget > 0) {  // as many as the remaining share of the budget allows
            const double share = remaining_s() * B / remaining_pairs;
            F = std::min(F, static_cast<int>(std::max(0.0, share) / std::max(est_pair_s * B, 1e-9)));
          }
          double fs = 0;
          for (int f = 0; f < F; ++f) {
            progress.status(label + " forward " + std::to_string(f + 1) + "/" + std::to_string(F));
            std::vector<const EncodedPair*> ptrs;
            for (const auto& e : encoded[f]) ptrs.push_back(&e);
            std::stable_sort(ptrs.begin(), ptrs.end(),
                             [](const EncodedPair* a, const EncodedPair* b) { return a->ids.size() > b->ids.size(); });
            fs += forward_ptrs(ptrs);
          }
          c.forward_repeats = F;
          c.forward_ms = F ? fs / F * 1e3 : std::nan("");
          c.forward_pairs_per_s = F ? F * B / fs : std::nan("");
          if (!F) c.note = "pure forward not measured (time budget)";
          c.tokenize_ms = tok_s / R * 1e3;
        } else {
          c.forward_repeats = R;
          c.forward_ms = total_s / R * 1e3;
          c.forward_pairs_per_s = R * B / total_s;
          c.tokenize_ms = 0;
        }
        const double pairs = static_cast<double>(R) * B;
        c.latency = compute_stats(c.batch_ms);
        c.pair_ms = total_s / pairs * 1e3;
        c.pairs_per_s = pairs / total_s;
        c.tokens_per_s = total_tokens / total_s;
        c.tokens_per_pair = total_tokens / pairs;
        c.tokenize_share = c.latency.mean > 0 ? c.tokenize_ms / c.latency.mean : 0;
        c.gflop_per_pair = total_flops / pairs / 1e9;
        c.gflops = total_flops / total_s / 1e9;
        if (const GemmPeak* pk = peak_of(dname)) {
          c.pct_peak = 100.0 * c.gflops / pk->gflops;
          if (pk->cpu_seconds > 0 && cpu_s > 0)
            c.pct_peak_cpu = 100.0 * (total_flops / cpu_s) /
                             (2.0 * pk->m * pk->n * pk->k * pk->iterations / pk->cpu_seconds);
        }
        c.cpu_s = cpu_s;
        c.cpu_util = cpu_s / (total_s * std::max(1, dr.threads));
        c.pairs_per_cpu_s = cpu_s > 0 ? pairs / cpu_s : std::nan("");
        c.peak_rss_mb = peak_rss_bytes() / 1048576.0;
        c.peak_device_mb = peak_device_mb(engine->backend());
        c.activation_mb = c.peak_rss_mb - dr.baseline_rss_mb;
        est_pair_s = total_s / pairs;
        progress.log(label + ": " + fmt(c.pairs_per_s, 2) + " pairs/s, batch p50 " + fmt(c.latency.p50) + " ms, p90 " +
                     fmt(c.latency.p90) + " ms, peak RSS " + fmt(c.peak_rss_mb, 0) + " MB, CPU util " +
                     fmt(100 * c.cpu_util, 0) + " % (" + std::to_string(R) + " repeats)");
      } catch (const std::exception& e) {
        c = ConfigResult{};
        c.dtype = dname;
        c.batch = B;
        c.status = "failed";
        c.note = e.what();
        progress.log(label + ": failed: " + c.note);
      }
      rep.results.push_back(c);
      progress.step();
    }
    engine.reset();
    malloc_trim(0);  // give the freed weights back, so the next dtype's baseline is its own
  }
  progress.finish();
  if (rep.model.name.empty()) {
    std::string why;
    for (const auto& d : rep.dtypes) why += (why.empty() ? "" : "; ") + d.dtype + ": " + d.note;
    throw Error("no dtype could be run (" + why + ")");
  }
  if (rep.input_fallback) rep.notes.push_back("inputs cut from built-in sample text: " + rep.input_source);
  rep.notes.push_back("Timings were taken on a machine that may be shared; load average at the end: " + [] {
    std::ifstream in("/proc/loadavg");
    std::string a;
    in >> a;
    return a.empty() ? std::string("unknown") : a;
  }());

  recommend(rep);
  rep.total_s = seconds_since(t_start);
  const std::string text =
      o.format == "json" ? render_json(rep) : o.format == "csv" ? render_csv(rep) : render_md(rep);
  write_text_output(o.output, text);
  if (!o.plot.empty() && o.plot != "-") write_text_output(o.plot, render_svg(rep));
  bool any_ok = false;
  for (const auto& c : rep.results) any_ok |= c.status == "ok";
  if (!any_ok) throw Error("no configuration completed (see the notes in the report)");
  return 0;
}

}  // namespace crossrank::bench
