#pragma once
// `crossrank eval`: ranking quality (NDCG@10, MRR@10, MAP) of a model on a shared dataset,
// its throughput, and optionally how far another dtype's rankings move.
#include <string>

#include "eval/data.h"

namespace crossrank::eval {

struct EvalOptions {
  std::string model, dataset, shared_dir;
  EvalDataOptions data;
  std::string dtype = "fp32", compare, backend = "auto", truncation = "flagembedding", long_doc = "truncate";
  std::string format = "md", output;
  int threads = 0;
  bool deterministic = false;  // EngineOptions::deterministic
  int max_length = 512;
  int batch_size = 32;
};

// Runs the evaluation and writes the report; returns the exit code. Throws Error for bad
// options or missing data.
int run_eval(const EvalOptions& o);

}  // namespace crossrank::eval
