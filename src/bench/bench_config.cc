// `crossrank bench`: one dtype x batch-size configuration: warm-up, timed repeats (score()
// on text pairs, or forward() on fixed-length ids), the pure-forward runs, and the derived
// figures (pairs/s, latency percentiles, GFLOP/s and % of the GEMM peak, CPU use, memory).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "bench/bench_run.h"
#include "engine/engine_internal.h"
#include "model/architecture.h"
#include "util/error.h"
#include "util/sysinfo.h"

namespace crossrank::bench {

ConfigResult BenchRun::run_config(Engine& eng, const DTypeRun& dr, std::size_t di, std::size_t bi) {
  Engine* engine = &eng;
  const std::string dname = to_string(dtypes[di]);
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
    progress.log(label + ": skipped: " + c.note);
    return c;
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
  return c;
}

}  // namespace crossrank::bench
