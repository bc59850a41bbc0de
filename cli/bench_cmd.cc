// `crossrank bench` flags (the work is in src/bench/bench.cc).
#include <CLI/CLI.hpp>
#include <cstdlib>

#include "bench/bench.h"
#include "commands.h"
#include "engine_flags.h"

namespace crossrank {

std::function<int()> setup_bench(CLI::App* sub) {
  auto o = std::make_shared<bench::BenchOptions>();
  sub->add_option("--model,-m", o->model, "model folder, Hugging Face id ORG/NAME[@REVISION] (docs/hub.md) or synthetic:NAME")->envname("CROSSRANK_MODEL");
  auto* o_batch = sub->add_option("--batch-sizes,-b", o->batch_sizes,
                               std::string("comma-separated pairs per forward pass (default ") + bench::kDefaultBatchSizes + ")");
  auto ef = std::make_shared<EngineFlags>();
  ef->dtype = o->dtypes;
  ef->add(sub, "auto | comma list of fp32,bf16,int8 (auto: fp32, int8, and bf16 where the CPU has native bf16)", false);
  sub->add_option("--inputs", o->inputs, "seedlike (70% zh / 30% en text pairs) | len:N (N-token pairs, no tokenizer)");
  sub->add_option("--format", o->format, "md | csv | json (default md)");
  sub->add_option("--output,-o", o->output, "write the report here (default stdout)");
  sub->add_option("--plot", o->plot, "write an SVG plot of pairs/s and ms/pair vs batch size");
  sub->add_option("--latency-budget-ms", o->latency_budget_ms, "batch latency budget (p90) for the recommendation");
  sub->add_option("--pairs", o->pairs, "distinct input pairs cycled through (default 256, at least the largest batch)");
  auto* o_repeats = sub->add_option("--repeats,-r", o->repeats,
                                 "measured batches per configuration (default: up to 5, fitted to the time budget)");
  sub->add_option("--max-seconds", o->max_seconds,
                  "time budget: fit repeats and skip configurations that would exceed it (default 270 s unless "
                  "--batch-sizes or --repeats is given; 0 = unlimited)");
  sub->add_option("--max-length", o->max_length, "tokens per seedlike pair incl. specials (default 512)");
  auto data_dir = std::make_shared<std::string>();
  sub->add_option("--shared-dir,--data-dir", *data_dir,
                  "the folder holding data/text-corpora for seedlike inputs (default $CROSSRANK_SHARED_DIR, else "
                  "the install's share/crossrank)");
  sub->add_option("--gemm-seconds", o->gemm_seconds, "seconds per GEMM shape of the peak measurement (0 = skip)")->group("");
  sub->add_flag("--score-only", o->score_only, "skip the pure Engine::forward runs")->group("");
  sub->add_option("--measure-seconds", o->measure_seconds, "stop a configuration's repeats after this much")->group("");
  sub->add_option("--warmup-pairs", o->warmup_pairs, "warm up on the first K pairs of the batch only")->group("");
  sub->add_option("--dump-inputs", o->dump_inputs, "write the seedlike pairs (--pairs N) as JSONL and exit")->group("");
  return [o, ef, o_batch, o_repeats, data_dir]() -> int {
    // The data folder is looked up through $CROSSRANK_SHARED_DIR (src/util/paths.h).
    if (!data_dir->empty()) setenv("CROSSRANK_SHARED_DIR", data_dir->c_str(), 1);
    o->dtypes = ef->dtype;
    o->backend = ef->backend;
    o->threads = ef->threads;
    o->deterministic = ef->deterministic;
    o->explicit_batches = o_batch->count() > 0;
    o->explicit_repeats = o_repeats->count() > 0;
    return bench::run_bench(*o);
  };
}

}  // namespace crossrank
