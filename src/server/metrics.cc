#include "server/metrics.h"

#include <cmath>
#include <cstdio>

namespace crossrank {

namespace {

std::string num(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

// Label values: escape backslash, double quote and newline.
std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '\\') o += "\\\\";
    else if (c == '"') o += "\\\"";
    else if (c == '\n') o += "\\n";
    else o += c;
  }
  return o;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, const std::string& name, const std::string& labels, double v) {
  out += name;
  if (!labels.empty()) out += "{" + labels + "}";
  out += ' ';
  out += num(v);
  out += '\n';
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

std::vector<double> Histogram::geometric(double start, double factor, int n) {
  std::vector<double> b;
  double v = start;
  for (int i = 0; i < n; ++i, v *= factor) b.push_back(v);
  return b;
}

void Histogram::observe(double v) {
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_[i];
  sum_ += v;
  ++n_;
}

std::uint64_t Histogram::count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return n_;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::uint64_t cum = 0;
  const std::string pre = labels.empty() ? "" : labels + ",";
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    cum += counts_[i];
    const double le = i < bounds_.size() ? bounds_[i] : INFINITY;
    sample(out, name + "_bucket", pre + "le=\"" + num(le) + "\"", static_cast<double>(cum));
  }
  sample(out, name + "_sum", labels, sum_);
  sample(out, name + "_count", labels, static_cast<double>(n_));
}

ServerMetrics::ServerMetrics(std::vector<std::string> routes,
                             std::vector<std::pair<std::string, std::string>> info_labels)
    : info_labels_(std::move(info_labels)),
      request_seconds_(Histogram::geometric(1e-4, 1.5, 36)),  // 0.1 ms .. ~140 s
      queue_seconds_(Histogram::geometric(1e-5, 1.5, 40)),    // 10 us .. ~70 s (TEI: x1.5 from 1e-5)
      inference_seconds_(Histogram::geometric(1e-4, 1.5, 36)),
      batch_size_(Histogram::geometric(1, 2, 14)),            // 1 .. 8192 pairs
      batch_tokens_(Histogram::geometric(16, 2, 14)) {        // 16 .. 131072 tokens
  for (const auto& r : routes) {
    requests_[{r, "success"}] = 0;
    pairs_[{r, "success"}] = 0;
  }
  batches_["success"] = 0;
  batches_["failed"] = 0;
}

void ServerMetrics::count_request(const std::string& route, const std::string& outcome, std::size_t pairs,
                                  double seconds) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++requests_[{route, outcome}];
    pairs_[{route, outcome}] += pairs;
  }
  if (outcome == "success") request_seconds_.observe(seconds);
}

void ServerMetrics::observe_batch(const BatchStats& st) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++batches_[st.failed ? "failed" : "success"];
  }
  batch_size_.observe(static_cast<double>(st.pairs));
  batch_tokens_.observe(static_cast<double>(st.tokens));
  inference_seconds_.observe(st.inference_seconds);
  for (double q : st.queue_seconds) queue_seconds_.observe(q);
}

void ServerMetrics::count_dropped(std::size_t pairs) {
  std::lock_guard<std::mutex> lock(mu_);
  dropped_ += pairs;
}

std::string ServerMetrics::render(const MetricsSnapshot& snap) const { return render_metrics({{"", this, snap}}); }

std::string render_metrics(const std::vector<MetricsView>& views) {
  std::string out;
  out.reserve(16384 * views.size());
  // One model: no model label (the series of a single-model server); several: model="NAME".
  const bool labelled = views.size() > 1;
  auto ml = [&](const MetricsView& v) { return labelled ? "model=\"" + esc(v.model) + "\"" : std::string(); };
  auto with = [&](const MetricsView& v, const std::string& rest) {
    const std::string m = ml(v);
    return m.empty() ? rest : rest.empty() ? m : m + "," + rest;
  };
  header(out, "crossrank_requests_total", "counter", "Rerank requests by route and outcome.");
  for (const auto& v : views) {
    std::lock_guard<std::mutex> lock(v.metrics->mu_);
    for (const auto& [k, n] : v.metrics->requests_)
      sample(out, "crossrank_requests_total", with(v, "route=\"" + esc(k.first) + "\",outcome=\"" + esc(k.second) + "\""),
             static_cast<double>(n));
  }
  header(out, "crossrank_pairs_total", "counter", "(query, passage) pairs of rerank requests by route and outcome.");
  for (const auto& v : views) {
    std::lock_guard<std::mutex> lock(v.metrics->mu_);
    for (const auto& [k, n] : v.metrics->pairs_)
      sample(out, "crossrank_pairs_total", with(v, "route=\"" + esc(k.first) + "\",outcome=\"" + esc(k.second) + "\""),
             static_cast<double>(n));
  }
  header(out, "crossrank_batches_total", "counter", "Forward passes by outcome.");
  for (const auto& v : views) {
    std::lock_guard<std::mutex> lock(v.metrics->mu_);
    for (const auto& [k, n] : v.metrics->batches_)
      sample(out, "crossrank_batches_total", with(v, "outcome=\"" + esc(k) + "\""), static_cast<double>(n));
  }
  header(out, "crossrank_dropped_pairs_total", "counter", "Queued pairs dropped because their client went away.");
  for (const auto& v : views) {
    std::lock_guard<std::mutex> lock(v.metrics->mu_);
    sample(out, "crossrank_dropped_pairs_total", ml(v), static_cast<double>(v.metrics->dropped_));
  }
  auto hist = [&](const char* name, const char* help, Histogram ServerMetrics::*h) {
    header(out, name, "histogram", help);
    for (const auto& v : views) (v.metrics->*h).render(out, name, ml(v));
  };
  hist("crossrank_request_duration_seconds", "End-to-end latency of successful rerank requests.",
       &ServerMetrics::request_seconds_);
  hist("crossrank_queue_duration_seconds", "Per pair: time from enqueue to the start of its forward pass.",
       &ServerMetrics::queue_seconds_);
  hist("crossrank_inference_duration_seconds", "Duration of each forward pass.", &ServerMetrics::inference_seconds_);
  hist("crossrank_batch_size", "Pairs per forward pass.", &ServerMetrics::batch_size_);
  hist("crossrank_batch_tokens", "Tokens per forward pass.", &ServerMetrics::batch_tokens_);
  auto gauge = [&](const char* name, const char* type, const char* help, auto get) {
    header(out, name, type, help);
    for (const auto& v : views) sample(out, name, ml(v), static_cast<double>(get(v.snap)));
  };
  gauge("crossrank_queue_size", "gauge", "Pairs waiting for a forward pass.", [](const MetricsSnapshot& s) { return s.queue_size; });
  gauge("crossrank_pairs_in_flight", "gauge", "Admitted pairs not yet answered (limit: --max-concurrent-pairs).",
        [](const MetricsSnapshot& s) { return s.pairs_in_flight; });
  gauge("crossrank_cache_hits_total", "counter", "Score cache hits.", [](const MetricsSnapshot& s) { return s.cache_hits; });
  gauge("crossrank_cache_misses_total", "counter", "Score cache misses.",
        [](const MetricsSnapshot& s) { return s.cache_misses; });
  gauge("crossrank_cache_evictions_total", "counter", "Score cache LRU evictions.",
        [](const MetricsSnapshot& s) { return s.cache_evictions; });
  gauge("crossrank_cache_entries", "gauge", "Entries in the score cache.",
        [](const MetricsSnapshot& s) { return s.cache_entries; });
  gauge("crossrank_cache_capacity_bytes", "gauge", "Score cache budget (--cache-mb).",
        [](const MetricsSnapshot& s) { return s.cache_capacity_bytes; });
  gauge("crossrank_connections", "gauge", "Open HTTP connections.", [](const MetricsSnapshot& s) { return s.connections; });
  header(out, "crossrank_info", "gauge", "Build and model information.");
  for (const auto& v : views) {
    std::string labels;
    for (const auto& [k, val] : v.metrics->info_labels_) {
      if (!labels.empty()) labels += ',';
      labels += k + "=\"" + esc(val) + "\"";
    }
    sample(out, "crossrank_info", with(v, labels), 1);
  }
  return out;
}

}  // namespace crossrank
