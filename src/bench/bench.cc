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
#include "bench/bench.h"
#include "bench/bench_run.h"
#include "bench/report.h"
#include "hub/hub.h"
#include "util/output.h"
#include "model/config.h"
#include "util/error.h"
#include "util/sysinfo.h"

namespace crossrank::bench {

double process_cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}


std::string fmt(double x, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return buf;
}

double peak_device_mb(BackendKind backend, bool reset) {
  if (backend != BackendKind::kCuda) return -1;
  return static_cast<double>(cuda_device_memory(reset).peak) / 1048576.0;
}


namespace {

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

}  // namespace

const GemmPeak* BenchRun::peak_of(const std::string& d) const {
  for (const auto& p : rep.peaks)
    if (p.dtype == d && p.ok) return &p;
  return nullptr;
}

void BenchRun::run_dtype(std::size_t di) {
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
    return;
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
        return;
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
    return;
  }
  dr.load_s = seconds_since(tl);
  est_load_s = dr.load_s;
  dr.baseline_rss_mb = rss_bytes() / 1048576.0;
  dr.ok = true;
  dr.backend = to_string(engine->backend());
  dr.describe = engine->describe();
  {
    const GateVerdict v =
        quality_gate(dtypes[di], engine->backend(), engine_int8_facts(*engine), engine_config(*engine).arch->int8_gate_gap());
    dr.gated = v.passed;
    dr.gate = v.why;
  }
  dr.threads = omp_get_max_threads();
  rep.threads = dr.threads;
  rep.model = engine->info();
  progress.log(dname + ": loaded " + o.model + " in " + fmt(dr.load_s) + " s, RSS " + fmt(dr.baseline_rss_mb, 0) +
               " MB, backend " + dr.backend + ", " + std::to_string(dr.threads) + " threads");
  if (!spec.seedlike && fixed.empty())  // may throw (bad len)
    fixed = make_fixed_len(engine_config(*engine), engine_tokenizer(*engine), spec.len, pool_n);
  rep.dtypes.push_back(dr);

  for (std::size_t bi = 0; bi < batches.size(); ++bi) {
    rep.results.push_back(run_config(*engine, dr, di, bi));
    progress.step();
  }
  engine.reset();
  malloc_trim(0);  // give the freed weights back, so the next dtype's baseline is its own
}

int run_bench(const BenchOptions& o) {
  const auto t_start = Clock::now();
  // ---- options ----------------------------------------------------------------------
  const InputSpec spec = parse_inputs(o.inputs);
  check_output_path(o.output);
  check_output_path(o.plot);
  check(o.format == "md" || o.format == "csv" || o.format == "json",
        "bad --format '" + o.format + "' (expected md, csv or json)");
  check(o.pairs >= 1, "--pairs must be >= 1");
  check(o.threads >= 0, "--threads must be >= 0");
  check(o.repeats >= 1, "--repeats must be >= 1");
  check(o.latency_budget_ms > 0, "--latency-budget-ms must be > 0");
  check(o.gemm_seconds >= 0 && std::isfinite(o.gemm_seconds), "--gemm-seconds must be a finite number >= 0");
  check(std::isfinite(o.max_seconds) && (o.max_seconds >= 0 || o.max_seconds == -1),
        "--max-seconds must be a finite number of seconds >= 0 (0 = unlimited)");
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

  BenchRun run(o, static_cast<int>(dtypes.size() * batches.size()));
  run.t_start = t_start;
  run.spec = spec;
  run.budget = budget;
  run.batches = batches;
  run.dtypes = dtypes;
  run.backend = backend;
  Report& rep = run.rep;
  Progress& progress = run.progress;
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

  // ---- inputs --------------------------------------------------------------------------
  const int max_batch = batches.back();
  const int pool_n = run.pool_n = std::max(o.pairs, max_batch);
  if (spec.seedlike) {
    const TextPool pool = load_text_pool();
    if (pool.fallback) progress.log("warning: " + pool.source);
    run.seed = make_seedlike(pool, pool_n);
    rep.input_source = pool.source;
    rep.input_fallback = pool.fallback;
    int zh = 0;
    for (const auto& p : run.seed) zh += p.chinese;
    rep.zh_share = static_cast<double>(zh) / run.seed.size();
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


  // ---- measurements -------------------------------------------------------------------
  rep.hwm_reset = reset_peak_rss();
  run.so.max_length = o.max_length;
  for (std::size_t di = 0; di < dtypes.size(); ++di) run.run_dtype(di);
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
