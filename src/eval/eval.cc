// `crossrank eval`: ranking quality (NDCG@10, MRR@10, MAP) of a model on a labelled set
// from shared/data, its throughput, and optionally how far another dtype's rankings move.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "eval/eval.h"
#include "util/log.h"
#include "util/output.h"
#include "eval/data.h"
#include "eval/metrics.h"
#include "util/error.h"

namespace crossrank::eval {

namespace {

using Clock = std::chrono::steady_clock;


// One engine's pass over the dataset.
struct Run {
  std::string dtype, backend;
  std::vector<std::vector<double>> scores;  // per list
  double ndcg10 = 0, mrr10 = 0, map = 0;
  double load_s = 0, score_s = 0, pairs_per_s = 0;
};

// Score every list with a fresh engine, in chunks of lists (a progress line on a terminal).
Run run_engine(const EvalOptions& o, const EvalDataset& ds, DType dtype, const ScoreOptions& so) {
  Run r;
  EngineOptions eo;
  eo.dtype = dtype;
  eo.backend = parse_backend(o.backend);
  eo.threads = o.threads;
  eo.deterministic = o.deterministic;
  const auto t0 = Clock::now();
  auto engine = Engine::open(o.model, eo);
  r.load_s = std::chrono::duration<double>(Clock::now() - t0).count();
  r.dtype = to_string(engine->dtype());
  r.backend = to_string(engine->backend());
  const bool tty = isatty(2) != 0;
  const std::size_t total = ds.pairs(), chunk_pairs = std::max<std::size_t>(1024, 8u * so.batch_size);
  std::size_t done = 0;
  r.scores.resize(ds.lists.size());
  for (std::size_t li = 0; li < ds.lists.size();) {
    std::vector<Pair> pairs;
    const std::size_t first = li;
    while (li < ds.lists.size() && (pairs.empty() || pairs.size() + ds.lists[li].docs.size() <= chunk_pairs)) {
      for (const auto& d : ds.lists[li].docs) pairs.push_back({ds.lists[li].query, d});
      ++li;
    }
    const auto ts = Clock::now();
    const std::vector<double> s = engine->score(pairs, so);
    r.score_s += std::chrono::duration<double>(Clock::now() - ts).count();
    std::size_t k = 0;
    for (std::size_t l = first; l < li; ++l) {
      r.scores[l].assign(s.begin() + k, s.begin() + k + ds.lists[l].docs.size());
      k += ds.lists[l].docs.size();
    }
    done += pairs.size();
    if (tty && li < ds.lists.size())
      std::fprintf(stderr, "\r\033[Kcrossrank eval: %s %zu/%zu pairs, %.0f pairs/s", r.dtype.c_str(), done, total,
                   done / std::max(r.score_s, 1e-9));
  }
  if (tty) std::fprintf(stderr, "\r\033[K");
  r.pairs_per_s = total / std::max(r.score_s, 1e-9);
  for (std::size_t l = 0; l < ds.lists.size(); ++l) {
    const auto& L = ds.lists[l];
    r.ndcg10 += ndcg_at_k(r.scores[l], L.labels, 10);
    r.mrr10 += mrr_at_k(r.scores[l], L.labels, 10, ds.relevant_threshold);
    r.map += average_precision(r.scores[l], L.labels, ds.relevant_threshold);
  }
  const double n = static_cast<double>(std::max<std::size_t>(ds.lists.size(), 1));
  r.ndcg10 /= n;
  r.mrr10 /= n;
  r.map /= n;
  return r;
}

std::string f4(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4f", x);
  return buf;
}
std::string f1(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f", x);
  return buf;
}
std::string g3(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3g", x);
  return buf;
}

}  // namespace

int run_eval(const EvalOptions& o) {
  check_output_path(o.output);
  check(o.format == "md" || o.format == "json", "bad --format '" + o.format + "' (expected md or json)");
  check(o.threads >= 0, "--threads must be >= 0");
  check(o.data.min_candidates >= 0, "--min-candidates must be >= 0");
  ScoreOptions so;
  so.max_length = o.max_length;
  so.batch_size = o.batch_size;
  so.truncation = parse_truncation(o.truncation);
  so.long_doc = parse_long_doc(o.long_doc);
  const DType dtype = parse_dtype(o.dtype);
  const bool comparing = !o.compare.empty();
  const DType cmp_dtype = comparing ? parse_dtype(o.compare) : DType::kFp32;
  const std::string shared = o.shared_dir.empty() ? default_shared_dir() : o.shared_dir;
  check(!shared.empty(),
        "no data folder for eval: pass --shared-dir DIR (the folder holding data/), set CROSSRANK_SHARED_DIR, or "
        "install crossrank (cmake --install) so that <prefix>/share/crossrank/data exists");

  const auto tl = Clock::now();
  const EvalDataset ds = load_dataset(o.dataset, shared, o.data);
  const double data_s = std::chrono::duration<double>(Clock::now() - tl).count();
  check(!ds.lists.empty(), o.dataset + ": no query has a relevant candidate within --top " + std::to_string(o.data.top));
  if (ds.dropped > ds.lists.size())
    log_warn(std::to_string(ds.dropped) + " queries have no relevant candidate within --top " +
             std::to_string(o.data.top) + " and were dropped (" + std::to_string(ds.lists.size()) +
             " kept): the metrics describe the kept ones only; a larger --top keeps more");
  std::size_t padded = 0;
  for (const auto& l : ds.lists) padded += l.padded;

  std::vector<Run> runs;
  runs.push_back(run_engine(o, ds, dtype, so));
  if (comparing) runs.push_back(run_engine(o, ds, cmp_dtype, so));
  Agreement agree;
  if (comparing) agree = ranking_agreement(runs[0].scores, runs[1].scores);

  const char* ld = so.long_doc == LongDoc::kChunk ? "chunk" : "truncate";
  std::string text;
  if (o.format == "json") {
    nlohmann::json j;
    j["dataset"] = ds.name;
    j["model"] = o.model;
    j["candidates"] = ds.candidates;
    j["queries"] = ds.lists.size();
    j["pairs"] = ds.pairs();
    j["dropped_queries"] = ds.dropped;
    j["padded_pairs"] = padded;
    j["relevant_threshold"] = ds.relevant_threshold;
    j["settings"] = {{"top", o.data.top},           {"queries", o.data.queries},
                     {"min_candidates", o.data.min_candidates},
                     {"max_length", so.max_length}, {"truncation", to_string(so.truncation)},
                     {"long_doc", ld},              {"batch_size", so.batch_size}};
    j["data_load_s"] = data_s;
    for (const auto& r : runs)
      j["results"].push_back({{"dtype", r.dtype},
                              {"backend", r.backend},
                              {"ndcg@10", r.ndcg10},
                              {"mrr@10", r.mrr10},
                              {"map", r.map},
                              {"model_load_s", r.load_s},
                              {"score_s", r.score_s},
                              {"pairs_per_s", r.pairs_per_s}});
    if (comparing)
      j["compare"] = {{"reference", runs[0].dtype},
                      {"other", runs[1].dtype},
                      {"ndcg@10_vs_reference", agree.ndcg10},
                      {"spearman", agree.spearman},
                      {"kendall_tau_b", agree.kendall},
                      {"top1_agreement", agree.top1},
                      {"max_abs_delta", agree.max_abs_delta},
                      {"mean_abs_delta", agree.mean_abs_delta}};
    text = j.dump(2) + "\n";
  } else {
    text += "## crossrank eval: " + ds.name + "\n\n";
    text += "- model: `" + o.model + "`; max_length " + std::to_string(so.max_length) + ", truncation " +
            to_string(so.truncation) + ", long_doc " + ld + ", batch_size " + std::to_string(so.batch_size) + "\n";
    text += "- candidates: " + ds.candidates + "\n";
    text += "- " + std::to_string(ds.lists.size()) + " queries, " + std::to_string(ds.pairs()) + " pairs (" +
            std::to_string(padded) + " padding), " + std::to_string(ds.dropped) +
            " of the dataset's queries dropped (no relevant candidate within --top); relevant = label >= " + g3(ds.relevant_threshold) + "\n\n";
    text += "| dtype | backend | NDCG@10 | MRR@10 | MAP | queries | pairs | pairs/s | load s |\n";
    text += "|---|---|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const auto& r : runs)
      text += "| " + r.dtype + " | " + r.backend + " | " + f4(r.ndcg10) + " | " + f4(r.mrr10) + " | " + f4(r.map) +
              " | " + std::to_string(ds.lists.size()) + " | " + std::to_string(ds.pairs()) + " | " +
              f1(r.pairs_per_s) + " | " + f1(r.load_s) + " |\n";
    if (comparing) {
      text += "\n### " + runs[1].dtype + " vs " + runs[0].dtype + " rankings\n\n";
      text += "| NDCG@10 vs " + runs[0].dtype + " | Spearman | Kendall tau-b | top-1 same | max abs diff | mean abs diff |\n";
      text += "|---:|---:|---:|---:|---:|---:|\n";
      text += "| " + f4(agree.ndcg10) + " | " + f4(agree.spearman) + " | " + f4(agree.kendall) + " | " +
              f4(agree.top1) + " | " + g3(agree.max_abs_delta) + " | " + g3(agree.mean_abs_delta) + " |\n\n";
      text += "NDCG@10 vs " + runs[0].dtype + ": " + runs[1].dtype + "'s ranking scored with " + runs[0].dtype +
              "'s scores (minus the list minimum) as graded gains; 1 = same top 10. Correlations are means over "
              "lists; differences are over all pairs (" +
              std::string(so.normalize ? "sigmoid" : "raw logits") + ").\n";
    }
  }
  write_text_output(o.output, text);
  return 0;
}

}  // namespace crossrank::eval
