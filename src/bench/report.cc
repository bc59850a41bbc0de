#include "bench/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace crossrank::bench {

Stats compute_stats(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / v.size();
  s.min = v.front();
  s.max = v.back();
  auto pct = [&](double p) {
    const double pos = p * (v.size() - 1);
    const size_t lo = static_cast<size_t>(std::floor(pos));
    const size_t hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (v[hi] - v[lo]) * (pos - lo);
  };
  s.p50 = pct(0.5);
  s.p90 = pct(0.9);
  return s;
}

void recommend(Report& r) {
  r.best = r.best_within = -1;
  for (int i = 0; i < static_cast<int>(r.results.size()); ++i) {
    auto& c = r.results[i];
    c.tags.clear();
    if (c.status != "ok") continue;
    // Only dtypes that passed the real-weight quality gate are recommended.
    bool gated = false;
    for (const auto& d : r.dtypes)
      if (d.dtype == c.dtype && d.ok) gated = d.gated;
    if (!gated) continue;
    if (r.best < 0 || c.pairs_per_s > r.results[r.best].pairs_per_s) r.best = i;
    if (c.latency.p90 <= r.latency_budget_ms &&
        (r.best_within < 0 || c.pairs_per_s > r.results[r.best_within].pairs_per_s))
      r.best_within = i;
  }
  if (r.best >= 0) r.results[r.best].tags.push_back("best_throughput");
  if (r.best_within >= 0) r.results[r.best_within].tags.push_back("best_within_budget");
}

namespace {

// About 3 significant digits, no exponent for the magnitudes a benchmark produces.
std::string num(double x) {
  if (!std::isfinite(x)) return "-";
  char buf[64];
  const double a = std::fabs(x);
  if (a >= 100 || a == 0) std::snprintf(buf, sizeof buf, "%.0f", x);
  else if (a >= 10) std::snprintf(buf, sizeof buf, "%.1f", x);
  else if (a >= 1) std::snprintf(buf, sizeof buf, "%.2f", x);
  else if (a >= 0.01) std::snprintf(buf, sizeof buf, "%.3f", x);
  else std::snprintf(buf, sizeof buf, "%.2g", x);
  return buf;
}

std::string fixed(double x, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return buf;
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

std::string md_escape(std::string s) {
  std::string o;
  for (char c : s) {
    if (c == '|') o += "\\|";
    else if (c == '\n') o += ' ';
    else o += c;
  }
  return o;
}

std::string params(long long p) {
  return p >= 1000000 ? fixed(p / 1e6, 1) + "M" : fixed(p / 1e3, 1) + "k";
}

std::string describe(const Report& r, const ConfigResult& c) {
  return c.dtype + ", batch " + std::to_string(c.batch) + ": " + num(c.pairs_per_s) + " pairs/s, " +
         num(c.pair_ms) + " ms/pair, batch latency p50 " + num(c.latency.p50) + " ms / p90 " + num(c.latency.p90) +
         " ms";
}

}  // namespace

std::string render_md(const Report& r) {
  std::ostringstream o;
  const ModelInfo& m = r.model;
  o << "# crossrank bench: " << m.name << "\n\n";
  o << "`" << r.command << "`\n\n";
  o << "- **model**: " << m.architecture << ", " << m.layers << " layers x " << m.hidden << " hidden, " << m.heads
    << " heads, " << m.intermediate << " intermediate, " << params(m.parameters) << " parameters\n";
  o << "- **machine**: " << r.cpu.model << "; " << r.cpu.usable_cpus << " usable CPUs (" << r.cpu.logical_cpus
    << " logical), " << r.threads << " threads used\n";
  o << "- **ISA**: " << r.cpu.isa_string() << " (" << r.onednn << ")\n";
  o << "- **GEMM peak** (the GEMM crossrank runs, named per dtype: oneDNN matmul with weights format_tag::any, "
       "or crossrank's own kernel; measured now; best of 512x4096x1024 and the model's QKV/FFN shapes at M=512 "
       "and 2048):";
  for (size_t i = 0; i < r.peaks.size(); ++i) {
    const auto& p = r.peaks[i];
    o << (i ? ";" : "") << " " << p.dtype << " ";
    if (p.ok)
      o << num(p.gflops) << (p.dtype == "int8" ? " GOP/s" : " GFLOP/s") << " (" << p.kind << ", " << p.impl << ", "
        << p.m << "x" << p.n << "x" << p.k << ")";
    else o << "n/a (" << p.note << ")";
  }
  o << "\n";
  o << "- **inputs**: " << r.inputs;
  if (r.inputs == "seedlike")
    o << ": " << r.pool_pairs << " distinct pairs, " << fixed(100 * r.zh_share, 0)
      << " % Chinese / " << fixed(100 * (1 - r.zh_share), 0)
      << " % English, query ~18 words, passage ~120 words (Chinese: 1.5 characters per word), from "
      << r.input_source << "; scored with Engine::score (tokenize + sort + batch + forward), max_length "
      << r.max_length;
  else
    o << ": " << r.pool_pairs << " pairs of exactly " << r.inputs.substr(4)
      << " tokens (random ids in the model's pair template) run through Engine::forward (no tokenizer)";
  o << "\n";
  o << "- **model resident baseline**:";
  for (size_t i = 0; i < r.dtypes.size(); ++i) {
    const auto& d = r.dtypes[i];
    o << (i ? ";" : "") << " " << d.dtype << " ";
    if (d.ok)
      o << num(d.baseline_rss_mb) << " MB RSS after load (+" << num(d.baseline_rss_mb - d.rss_before_mb)
        << " MB for the model; load " << num(d.load_s) << " s, " << (d.describe.empty() ? "backend " + d.backend : md_escape(d.describe)) << ")";
    else
      o << "not run (" << md_escape(d.note) << ")";
  }
  o << "\n\n";

  o << "## Results\n\n";
  // A GPU backend adds its peak device memory per configuration (last column).
  bool device_mem = false;
  for (const auto& c : r.results) device_mem = device_mem || c.peak_device_mb >= 0;
  o << "| dtype | batch | reps | batch ms mean | p50 | p90 | ms/pair | pairs/s | tokens/s | tokens/pair | "
       "forward ms | tokenize % | CPU util % | peak RSS MB | activations MB | GFLOP/s | % GEMM peak (wall / CPU) |"
    << (device_mem ? " peak device MB |" : "") << "\n";
  o << "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|" << (device_mem ? "---:|" : "")
    << "\n";
  for (const auto& c : r.results) {
    if (c.status != "ok") {
      o << "| " << c.dtype << " | " << c.batch << " | " << c.status << ": " << md_escape(c.note)
        << " | | | | | | | | | | | | | | |\n";
      continue;
    }
    std::string mark;
    if (!c.tags.empty()) mark = " *";
    o << "| " << c.dtype << " | " << c.batch << mark << " | " << c.repeats << " | " << num(c.latency.mean) << " | "
      << num(c.latency.p50) << " | " << num(c.latency.p90) << " | " << num(c.pair_ms) << " | "
      << num(c.pairs_per_s) << " | " << num(c.tokens_per_s) << " | " << num(c.tokens_per_pair) << " | "
      << num(c.forward_ms) << " | " << fixed(100 * c.tokenize_share, 1) << " | " << fixed(100 * c.cpu_util, 0)
      << " | " << num(c.peak_rss_mb) << " | "
      << num(c.activation_mb) << " | " << num(c.gflops) << " | "
      << (c.pct_peak >= 0 ? fixed(c.pct_peak, 0) + " / " + (c.pct_peak_cpu >= 0 ? fixed(c.pct_peak_cpu, 0) : "-") : "-")
      << " |" << (device_mem ? " " + (c.peak_device_mb >= 0 ? num(c.peak_device_mb) : std::string("-")) + " |" : "")
      << "\n";
  }
  bool first_note = true;
  for (const auto& c : r.results)
    if (c.status == "ok" && !c.note.empty()) {
      o << (first_note ? "\n" : "") << "- " << c.dtype << " batch " << c.batch << ": " << md_escape(c.note) << "\n";
      first_note = false;
    }
  o << "\n## Recommendation\n\n";
  if (r.best >= 0) {
    o << "- **Best throughput**: " << describe(r, r.results[r.best]) << "\n";
    o << "- **Best throughput within " << num(r.latency_budget_ms) << " ms** (p90 batch latency): ";
    if (r.best_within >= 0) {
      const auto& c = r.results[r.best_within];
      o << "**--dtype " << c.dtype << " --batch-size " << c.batch << "**: " << describe(r, c) << "\n";
    } else {
      double lo = 0;
      int at = -1;
      for (int i = 0; i < static_cast<int>(r.results.size()); ++i)
        if (r.results[i].status == "ok" && (at < 0 || r.results[i].latency.p90 < lo)) lo = r.results[i].latency.p90, at = i;
      o << "none: the fastest batch measured (" << r.results[at].dtype << ", batch " << r.results[at].batch
        << ") has p90 " << num(lo) << " ms; raise --latency-budget-ms or use a smaller model\n";
    }
  } else {
    o << "- no quality-gated configuration completed\n";
  }
  o << "- Only configurations whose dtype passed the real-weight quality gate are recommended "
       "(tests/engine/real_weights_test.cc, in CI):\n";
  for (const auto& d : r.dtypes)
    if (d.ok) o << "  - " << (d.gated ? "gated: " : "**not recommended**: ") << md_escape(d.gate) << "\n";
  o << "\n## Notes\n\n";
  o << "- Batch latency: wall time of one Engine::score call over `batch` pairs with batch_size = batch "
       "(seedlike: tokenization, length sorting, packing and the forward pass), or of one Engine::forward "
       "call (len:N). One warm-up batch per configuration is not counted (only its first pairs when a whole batch would take over 5 s). pairs/s and tokens/s = measured "
       "pairs (real tokens; packed batches have no padding) / total measured time; ms/pair = its inverse.\n";
  o << "- forward ms: Engine::forward alone on the same pre-tokenized batches (sorted longest first, as "
       "score does); tokenize %: parallel tokenization time of the batch / batch latency.\n";
  o << "- CPU util %: process CPU time (user + sys, getrusage) during the measured batches / (wall time x "
       "threads). Below 100 % the threads were idle or waiting: serial parts of a pass, or other load on the "
       "machine (then the wall-clock numbers are pessimistic; pairs per CPU-second, in the JSON and CSV, are "
       "not affected by other load).\n";
  o << "- Peak RSS: VmHWM from /proc/self/status"
    << (r.hwm_reset ? ", reset before each configuration (echo 5 > /proc/self/clear_refs)"
                    : " (could not be reset: peak since process start)")
    << "; activations MB = peak RSS - the dtype's resident baseline.\n";
  o << "- GFLOP/s is end-to-end (batch latency, tokenization included); " << r.flops_formula
    << ". % GEMM peak compares with the measured peak of the same dtype (int8: GOP/s of the int8 GEMM that runs): wall = FLOP/s "
       "over GEMM-peak FLOP/s; CPU = FLOPs per CPU-second over the GEMM's FLOPs per CPU-second, which stays "
       "meaningful when other load hit the two measurements differently (wall over 100 % is a sign of that).\n";
  o << "- `*` marks the recommended rows. Total run time: " << num(r.total_s) << " s"
    << (r.max_seconds > 0 ? " (time budget " + num(r.max_seconds) + " s; --max-seconds 0 lifts it)" : "") << ".\n";
  for (const auto& n : r.notes) o << "- " << md_escape(n) << "\n";
  return o.str();
}

std::string render_csv(const Report& r) {
  std::ostringstream o;
  auto q = [](const std::string& s) {
    std::string x = "\"";
    for (char c : s) x += c == '"' ? std::string("\"\"") : std::string(1, c);
    return x + "\"";
  };
  auto v = [](double x) { return std::isfinite(x) ? fixed(x, 6) : std::string(); };
  o << "model,dtype,batch_size,status,repeats,forward_repeats,batch_ms_mean,batch_ms_p50,batch_ms_p90,pair_ms,"
       "pairs_per_s,tokens_per_s,tokens_per_pair,forward_ms,forward_pairs_per_s,tokenize_ms,tokenize_share,"
       "cpu_seconds,cpu_util,pairs_per_cpu_s,peak_rss_mb,activation_mb,gflops,pct_gemm_peak,pct_gemm_peak_cpu,recommendation,note\n";
  for (const auto& c : r.results) {
    const bool ok = c.status == "ok";
    o << q(r.model.name) << "," << c.dtype << "," << c.batch << "," << c.status << ",";
    if (ok) {
      o << c.repeats << "," << c.forward_repeats << "," << v(c.latency.mean) << "," << v(c.latency.p50) << ","
        << v(c.latency.p90) << "," << v(c.pair_ms) << "," << v(c.pairs_per_s) << "," << v(c.tokens_per_s) << ","
        << v(c.tokens_per_pair) << "," << v(c.forward_ms) << "," << v(c.forward_pairs_per_s) << ","
        << v(c.tokenize_ms) << "," << v(c.tokenize_share) << "," << v(c.cpu_s) << "," << v(c.cpu_util) << ","
        << v(c.pairs_per_cpu_s) << "," << v(c.peak_rss_mb) << "," << v(c.activation_mb)
        << "," << v(c.gflops) << "," << (c.pct_peak >= 0 ? v(c.pct_peak) : "") << ","
        << (c.pct_peak_cpu >= 0 ? v(c.pct_peak_cpu) : "") << ",";
    } else {
      o << ",,,,,,,,,,,,,,,,,,,,,";
    }
    o << join(c.tags, ";") << "," << q(c.note) << "\n";
  }
  return o.str();
}

std::string render_json(const Report& r) {
  using nlohmann::json;
  auto nn = [](double x) -> json { return std::isfinite(x) ? json(x) : json(nullptr); };
  json j;
  j["crossrank_version"] = r.version;
  j["command"] = r.command;
  const ModelInfo& m = r.model;
  j["model"] = {{"name", m.name},         {"architecture", m.architecture}, {"layers", m.layers},
                {"hidden", m.hidden},     {"heads", m.heads},               {"intermediate", m.intermediate},
                {"vocab_size", m.vocab_size}, {"max_length", m.max_length}, {"parameters", m.parameters}};
  json isa = json::object();
  for (const auto& [f, p] : r.cpu.isa) isa[f] = p;
  json peaks = json::object();
  for (const auto& p : r.peaks)
    peaks[p.dtype] = {{"ok", p.ok},
                      {"gflops", p.ok ? json(p.gflops) : json(nullptr)},
                      {"kind", p.kind},
                      {"impl", p.impl},
                      {"shape", {{"M", p.m}, {"N", p.n}, {"K", p.k}}},
                      {"shapes_tried", p.shapes},
                      {"iterations", p.iterations},
                      {"seconds", p.seconds},
                      {"cpu_seconds", p.cpu_seconds},
                      {"note", p.note}};
  j["machine"] = {{"cpu", r.cpu.model},
                  {"logical_cpus", r.cpu.logical_cpus},
                  {"usable_cpus", r.cpu.usable_cpus},
                  {"threads", r.threads},
                  {"isa", isa},
                  {"onednn", r.onednn},
                  {"gemm_peak", peaks}};
  j["inputs"] = {{"kind", r.inputs},
                 {"pairs", r.pool_pairs},
                 {"source", r.input_source},
                 {"builtin_fallback", r.input_fallback},
                 {"zh_share", r.zh_share},
                 {"max_length", r.max_length}};
  j["settings"] = {{"latency_budget_ms", r.latency_budget_ms}, {"max_seconds", r.max_seconds},
                   {"peak_rss_reset", r.hwm_reset}};
  json dts = json::array();
  for (const auto& d : r.dtypes)
    dts.push_back({{"dtype", d.dtype},
                   {"ok", d.ok},
                   {"note", d.note},
                   {"backend", d.backend},
                   {"describe", d.describe},
                   {"quality_gate", {{"passed", d.gated}, {"why", d.gate}}},
                   {"threads", d.threads},
                   {"load_s", d.load_s},
                   {"rss_before_mb", d.rss_before_mb},
                   {"baseline_rss_mb", d.baseline_rss_mb},
                   {"model_rss_mb", d.ok ? json(d.baseline_rss_mb - d.rss_before_mb) : json(nullptr)}});
  j["dtypes"] = dts;
  json res = json::array();
  for (const auto& c : r.results) {
    json x = {{"dtype", c.dtype}, {"batch_size", c.batch}, {"status", c.status}, {"note", c.note},
              {"recommendation", c.tags}};
    if (c.status == "ok") {
      x["repeats"] = c.repeats;
      x["forward_repeats"] = c.forward_repeats;
      x["warmup_ms"] = c.warmup_ms;
      x["warmup_pairs"] = c.warmup_pairs;
      x["batch_ms"] = {{"mean", c.latency.mean}, {"p50", c.latency.p50}, {"p90", c.latency.p90},
                       {"min", c.latency.min},   {"max", c.latency.max},  {"samples", c.batch_ms}};
      x["batch_pairs"] = c.batch_pairs;
      x["pair_ms"] = nn(c.pair_ms);
      x["pairs_per_s"] = nn(c.pairs_per_s);
      x["tokens_per_s"] = nn(c.tokens_per_s);
      x["tokens_per_pair"] = nn(c.tokens_per_pair);
      x["forward_ms"] = nn(c.forward_ms);
      x["forward_pairs_per_s"] = nn(c.forward_pairs_per_s);
      x["tokenize_ms"] = nn(c.tokenize_ms);
      x["tokenize_share"] = nn(c.tokenize_share);
      x["cpu_seconds"] = nn(c.cpu_s);
      x["cpu_util"] = nn(c.cpu_util);
      x["pairs_per_cpu_s"] = nn(c.pairs_per_cpu_s);
      x["peak_rss_mb"] = nn(c.peak_rss_mb);
      x["activation_mb"] = nn(c.activation_mb);
      if (c.peak_device_mb >= 0) x["peak_device_mb"] = nn(c.peak_device_mb);
      x["gflop_per_pair"] = nn(c.gflop_per_pair);
      x["gflops"] = nn(c.gflops);
      x["pct_gemm_peak"] = c.pct_peak >= 0 ? json(c.pct_peak) : json(nullptr);
      x["pct_gemm_peak_cpu"] = c.pct_peak_cpu >= 0 ? json(c.pct_peak_cpu) : json(nullptr);
    }
    res.push_back(x);
  }
  j["results"] = res;
  auto rec = [&](int i) -> json {
    if (i < 0) return nullptr;
    const auto& c = r.results[i];
    return {{"dtype", c.dtype}, {"batch_size", c.batch}, {"pairs_per_s", c.pairs_per_s},
            {"pair_ms", c.pair_ms}, {"batch_ms_p50", c.latency.p50}, {"batch_ms_p90", c.latency.p90}};
  };
  j["recommendation"] = {{"best_throughput", rec(r.best)},
                         {"latency_budget_ms", r.latency_budget_ms},
                         {"best_within_budget", rec(r.best_within)},
                         {"budget_rule", "p90 batch latency <= latency_budget_ms"}};
  j["flops_formula"] = r.flops_formula;
  j["notes"] = r.notes;
  j["total_seconds"] = r.total_s;
  return j.dump(2) + "\n";
}

namespace {

// 1-2-5 tick step giving about `n` intervals over [0, hi].
double nice_step(double hi, int n) {
  if (hi <= 0) return 1;
  const double raw = hi / n, p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * p) return m * p;
  return 10 * p;
}

std::string xml_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '&': o += "&amp;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

}  // namespace

std::string render_svg(const Report& r) {
  const int W = 980, H = 460, pw = 400, ph = 300, top = 70, left0 = 80, gap = 90;
  const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"};
  // Series per dtype, in first-seen order.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const ConfigResult*>> series;
  std::set<int> xs;
  for (const auto& c : r.results) {
    if (c.status != "ok") continue;
    if (!series.count(c.dtype)) order.push_back(c.dtype);
    series[c.dtype].push_back(&c);
    xs.insert(c.batch);
  }
  const double xmin = xs.empty() ? 0 : std::log2(*xs.begin()), xmax = xs.empty() ? 1 : std::log2(*xs.rbegin());
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H << "\" viewBox=\"0 0 " << W
    << " " << H << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << W / 2 << "\" y=\"24\" text-anchor=\"middle\" font-size=\"16\">crossrank bench: "
    << xml_escape(r.model.name) << " (" << xml_escape(r.inputs) << ", " << r.threads << (r.threads == 1 ? " thread" : " threads")
    << ")</text>\n";
  o << "<text x=\"" << W / 2 << "\" y=\"44\" text-anchor=\"middle\" fill=\"#555\">" << xml_escape(r.cpu.model)
    << "</text>\n";
  for (int panel = 0; panel < 2; ++panel) {
    const int x0 = left0 + panel * (pw + gap), y0 = top;
    auto val = [&](const ConfigResult* c) { return panel == 0 ? c->pairs_per_s : c->pair_ms; };
    double ymax = 0;
    for (const auto& [d, v] : series)
      for (const auto* c : v) ymax = std::max(ymax, val(c));
    const double step = nice_step(ymax * 1.05, 5);
    const double ytop = std::max(step, std::ceil(ymax * 1.05 / step) * step);
    const int tick_digits = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
    auto px = [&](int b) {
      if (xmax <= xmin) return x0 + pw / 2.0;
      return x0 + 20 + (pw - 40) * (std::log2(b) - xmin) / (xmax - xmin);
    };
    auto py = [&](double y) { return y0 + ph - ph * y / ytop; };
    o << "<g>\n<rect x=\"" << x0 << "\" y=\"" << y0 << "\" width=\"" << pw << "\" height=\"" << ph
      << "\" fill=\"none\" stroke=\"#333\"/>\n";
    for (double y = 0; y <= ytop * 1.0001; y += step) {
      o << "<line x1=\"" << x0 << "\" y1=\"" << fixed(py(y), 1) << "\" x2=\"" << x0 + pw << "\" y2=\""
        << fixed(py(y), 1) << "\" stroke=\"#ddd\"/>";
      o << "<text x=\"" << x0 - 6 << "\" y=\"" << fixed(py(y) + 4, 1) << "\" text-anchor=\"end\">" << fixed(y, tick_digits)
        << "</text>\n";
    }
    for (int b : xs) {
      o << "<line x1=\"" << fixed(px(b), 1) << "\" y1=\"" << y0 + ph << "\" x2=\"" << fixed(px(b), 1) << "\" y2=\""
        << y0 + ph + 5 << "\" stroke=\"#333\"/>";
      o << "<text x=\"" << fixed(px(b), 1) << "\" y=\"" << y0 + ph + 19 << "\" text-anchor=\"middle\">" << b
        << "</text>\n";
    }
    o << "<text x=\"" << x0 + pw / 2 << "\" y=\"" << y0 + ph + 40
      << "\" text-anchor=\"middle\">batch size (pairs per forward pass, log scale)</text>\n";
    const std::string ylabel = panel == 0 ? "throughput (pairs/s)" : "latency per pair (ms)";
    o << "<text transform=\"translate(" << x0 - 52 << "," << y0 + ph / 2 << ") rotate(-90)\" text-anchor=\"middle\">"
      << ylabel << "</text>\n";
    o << "<text x=\"" << x0 + pw / 2 << "\" y=\"" << y0 - 8 << "\" text-anchor=\"middle\" font-weight=\"bold\">"
      << (panel == 0 ? "pairs/s vs batch size" : "per-pair latency vs batch size") << "</text>\n";
    for (size_t k = 0; k < order.size(); ++k) {
      const char* col = colors[k % 5];
      std::string pts;
      for (const auto* c : series[order[k]]) pts += fixed(px(c->batch), 1) + "," + fixed(py(val(c)), 1) + " ";
      o << "<polyline fill=\"none\" stroke=\"" << col << "\" stroke-width=\"2\" points=\"" << pts << "\"/>\n";
      for (const auto* c : series[order[k]])
        o << "<circle cx=\"" << fixed(px(c->batch), 1) << "\" cy=\"" << fixed(py(val(c)), 1) << "\" r=\"3.5\" fill=\""
          << col << "\"><title>" << c->dtype << " batch " << c->batch << ": " << num(val(c))
          << (panel == 0 ? " pairs/s" : " ms/pair") << "</title></circle>\n";
    }
    o << "</g>\n";
  }
  // Legend.
  for (size_t k = 0; k < order.size(); ++k) {
    const int lx = left0 + static_cast<int>(k) * 110, ly = H - 22;
    o << "<line x1=\"" << lx << "\" y1=\"" << ly << "\" x2=\"" << lx + 24 << "\" y2=\"" << ly << "\" stroke=\""
      << colors[k % 5] << "\" stroke-width=\"3\"/><text x=\"" << lx + 30 << "\" y=\"" << ly + 4 << "\">"
      << xml_escape(order[k]) << "</text>\n";
  }
  if (order.empty())
    o << "<text x=\"" << W / 2 << "\" y=\"" << H / 2 << "\" text-anchor=\"middle\">no completed configuration</text>\n";
  o << "</svg>\n";
  return o.str();
}

}  // namespace crossrank::bench
