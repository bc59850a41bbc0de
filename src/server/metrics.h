#pragma once
// Prometheus metrics of the server (text exposition format 0.0.4). Thread-safe.
//   crossrank_requests_total{route,outcome}     counter  rerank requests
//   crossrank_pairs_total{route,outcome}        counter  (query, passage) pairs of them
//   crossrank_request_duration_seconds          histogram  successful requests, end to end
//   crossrank_queue_duration_seconds            histogram  per pair: enqueue -> batch start
//   crossrank_inference_duration_seconds        histogram  per forward pass
//   crossrank_batch_size / crossrank_batch_tokens  histograms  pairs / tokens per pass
//   crossrank_batches_total{outcome}            counter
//   crossrank_dropped_pairs_total               counter  pairs of clients that went away
//   crossrank_cache_{hits,misses,evictions}_total  counters; crossrank_cache_entries gauge
//   crossrank_queue_size, crossrank_pairs_in_flight, crossrank_connections  gauges
//   crossrank_info  gauge = 1
// With several models every series carries model="NAME".
// Outcomes: success, validation, empty, too_large, unauthorized, overloaded, backend,
// dropped, unhealthy, internal.
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "scheduler/batcher.h"

namespace crossrank {

class Histogram {
 public:
  // `bounds`: ascending upper bounds; a +Inf bucket is implied.
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  // Appends the _bucket/_sum/_count lines of metric `name`, with `labels` (e.g.
  // model="m", or "") on every line.
  void render(std::string& out, const std::string& name, const std::string& labels = "") const;
  std::uint64_t count() const;

  // `n` bounds start, start*factor, ...
  static std::vector<double> geometric(double start, double factor, int n);

 private:
  mutable std::mutex mu_;
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;  // per bucket (not cumulative), last = +Inf
  double sum_ = 0;
  std::uint64_t n_ = 0;
};

// Point-in-time values owned by other components, passed in at render time.
struct MetricsSnapshot {
  std::size_t queue_size = 0, pairs_in_flight = 0;
  std::uint64_t cache_hits = 0, cache_misses = 0, cache_evictions = 0;
  std::size_t cache_entries = 0, cache_capacity_bytes = 0;
  std::size_t connections = 0;  // open HTTP connections (server-wide)
};

class ServerMetrics;
// One model's metrics and point-in-time values, for render_metrics.
struct MetricsView {
  std::string model;
  const ServerMetrics* metrics = nullptr;
  MetricsSnapshot snap;
};
// The exposition text of several models: each family once, each series labelled
// model="NAME" when there is more than one view (none with a single model).
std::string render_metrics(const std::vector<MetricsView>& views);

class ServerMetrics {
 public:
  // `routes` are pre-registered with outcome "success" so the series exist from the start;
  // `info_labels` are rendered on crossrank_info, e.g. {"model","..."}.
  ServerMetrics(std::vector<std::string> routes, std::vector<std::pair<std::string, std::string>> info_labels);

  // One finished rerank request of `pairs` pairs; `seconds` is observed only on success.
  void count_request(const std::string& route, const std::string& outcome, std::size_t pairs, double seconds);
  // One forward pass (called from the batcher's worker).
  void observe_batch(const BatchStats& st);
  void count_dropped(std::size_t pairs);
  // The exposition text (render_metrics of this one model).
  std::string render(const MetricsSnapshot& snap) const;

 private:
  friend std::string render_metrics(const std::vector<MetricsView>& views);
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, std::uint64_t> requests_, pairs_;
  std::map<std::string, std::uint64_t> batches_;
  std::uint64_t dropped_ = 0;
  std::vector<std::pair<std::string, std::string>> info_labels_;
  Histogram request_seconds_, queue_seconds_, inference_seconds_, batch_size_, batch_tokens_;
};

}  // namespace crossrank
