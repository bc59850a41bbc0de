// `crossrank eval` flags (the work is in src/eval/eval.cc).
#include <CLI/CLI.hpp>

#include "commands.h"
#include "engine_flags.h"
#include "eval/eval.h"

namespace crossrank {

std::function<int()> setup_eval(CLI::App* sub) {
  auto o = std::make_shared<eval::EvalOptions>();
  std::string names;
  for (const auto& n : eval::dataset_names()) names += (names.empty() ? "" : " | ") + n;
  sub->add_option("--model,-m", o->model, "model folder, Hugging Face id ORG/NAME[@REVISION] (docs/hub.md) or synthetic:NAME")->required()->envname("CROSSRANK_MODEL");
  sub->add_option("--dataset,-d", o->dataset, names)->required();
  sub->add_option("--top", o->data.top,
                  "candidates per query, at most (default 100). msmarco-trecdl: the query's judged passages in "
                  "passage-id order; wikiqa: the question's sentences; xquad-*/cmrc2018: the paragraphs of the "
                  "question's article");
  sub->add_option("--queries", o->data.queries, "evaluate the first N queries only (default 0 = all)");
  sub->add_option("--min-candidates", o->data.min_candidates,
                  "pad shorter lists (msmarco-trecdl, xquad-*, cmrc2018) with BM25-nearest passages from outside "
                  "the query's list, label 0 (default 10; 0 = no padding)");
  auto ef = std::make_shared<EngineFlags>();
  ef->add(sub, "fp32 | bf16 | int8 | fp16 (GPU)", false);
  sub->add_option("--compare", o->compare, "also run this dtype and report how far its rankings move");
  sub->add_option("--max-length", o->max_length, "tokens per pair incl. specials (default 512)");
  sub->add_option("--batch-size", o->batch_size, "pairs per forward pass (default 32)");
  sub->add_option("--truncation", o->truncation, "flagembedding | longest_first");
  sub->add_option("--long-doc", o->long_doc, "truncate | chunk (max over overlapping windows)");
  sub->add_option("--format", o->format, "md | json (default md)");
  sub->add_option("--output,-o", o->output, "write the report here (default stdout)");
  sub->add_option("--shared-dir,--data-dir", o->shared_dir,
                  "the folder holding data/ (default $CROSSRANK_SHARED_DIR, else the install's share/crossrank)");
  sub->footer(
      "Metrics: NDCG@10 with linear gain (label) and log2 discount, MRR@10, MAP over each candidate list; "
      "equal scores keep candidate order. msmarco-trecdl labels are TREC grades 1-3 (NDCG gain); MRR/MAP count "
      "grade >= 2 as relevant (TREC DL convention); the other sets are 0/1. Lists without a relevant candidate "
      "are dropped. pairs/s counts scoring only (tokenize + forward), not model loading. --compare D: D's "
      "ranking is scored with the first dtype's scores as graded gains (NDCG@10 vs ref), plus Spearman and "
      "Kendall tau-b per list (means) and max/mean |score difference| over all pairs.");
  return [o, ef]() -> int {
    o->dtype = ef->dtype;
    o->backend = ef->backend;
    o->threads = ef->threads;
    o->deterministic = ef->deterministic;
    return eval::run_eval(*o);
  };
}

}  // namespace crossrank
