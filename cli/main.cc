// crossrank command line: argument parsing only; the work is in the libraries (src/).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "commands.h"
#include "engine_flags.h"

using namespace crossrank;


int main(int argc, char** argv) {
  CLI::App app{"crossrank: fast, exact cross-encoder reranking"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(crossrank::version()));

  // score
  ScoreArgs sa;
  EngineFlags sf;
  std::string s_trunc = "flagembedding";
  auto* score = app.add_subcommand("score", "score (query, passage) pairs");
  score->add_option("--model,-m", sa.model, "model folder, Hugging Face id ORG/NAME[@REVISION] (docs/hub.md) or synthetic:NAME")->required()->envname("CROSSRANK_MODEL");
  score->add_option("--query,-q", sa.query, "query (with --doc)");
  score->add_option("--doc,-d", sa.docs, "passage (repeatable)");
  score->add_option("--input,-i", sa.input, "pairs.jsonl: {\"query\",\"document\"} per line ('-' = stdin)");
  score->add_option("--output,-o", sa.output, "output JSONL (default stdout)");
  sa.score.max_length = 0;  // resolved against the model (run_score)
  score->add_option("--max-length", sa.score.max_length,
                    "tokens per pair incl. specials (default 0: 512, or the model's limit if smaller)");
  score->add_option("--truncation", s_trunc, "flagembedding | longest_first");
  score->add_option("--batch-size", sa.score.batch_size, "pairs per forward pass (default 32)");
  score->add_option("--max-batch-tokens", sa.score.max_batch_tokens, "token cap per pass (0 = none)");
  score->add_flag("--normalize", sa.score.normalize, "sigmoid scores");
  std::string s_long = "truncate";
  score->add_option("--long-doc", s_long, "truncate | chunk (max over overlapping windows)");
  score->add_option("--chunk-overlap", sa.score.chunk_overlap, "chunk mode: tokens shared by windows (64)");
  score->add_option("--instruction", sa.score.instruction,
                    "decoder rerankers: the task instruction (default: the recipe's own, e.g. Qwen3-Reranker's web-search one)");
  sf.add(score);

  auto* bench = app.add_subcommand("bench", "latency / throughput / memory per batch size");
  auto run_bench = setup_bench(bench);
  auto* serve = app.add_subcommand("serve", "HTTP rerank server (TEI, Cohere, Jina routes)");
  auto run_serve = setup_serve(serve);
  auto* eval = app.add_subcommand("eval", "ranking quality (NDCG@10, MRR@10, MAP) on a dataset");
  auto run_eval = setup_eval(eval);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (score->parsed()) {
      sa.engine = sf.get();
      sa.score.truncation = parse_truncation(s_trunc);
      sa.score.long_doc = parse_long_doc(s_long);
      return run_score(sa);
    }
    if (bench->parsed()) return run_bench();
    if (serve->parsed()) return run_serve();
    if (eval->parsed()) return run_eval();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "crossrank: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
