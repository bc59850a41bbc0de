#pragma once
// The CLI's subcommands: each cli/<name>_cmd.cc declares its flags and calls the library
// code that does the work (src/bench, src/eval, src/server, the Engine).
// Each returns the process exit code; user errors are thrown as crossrank::Error.
#include <functional>
#include <string>
#include <vector>

#include "crossrank/crossrank.h"

namespace crossrank {

struct ScoreArgs {
  std::string model;
  EngineOptions engine;
  ScoreOptions score;
  std::string query;
  std::vector<std::string> docs;
  std::string input;   // pairs.jsonl ("-" = stdin)
  std::string output;  // "" or "-" = stdout
};
// `crossrank score`: one JSON object per pair, in input order: {"index","score"}.
int run_score(const ScoreArgs& args);


}  // namespace crossrank

namespace CLI { class App; }

namespace crossrank {

// Subcommand registration: each adds its options to `sub` and returns the function that
// runs it after parsing (returning the exit code). Defined in cli/<name>_cmd.cc.
std::function<int()> setup_bench(CLI::App* sub);
std::function<int()> setup_serve(CLI::App* sub);
std::function<int()> setup_eval(CLI::App* sub);

}  // namespace crossrank
