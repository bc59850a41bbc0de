#pragma once
// The CLI's subcommands as library functions (cli/main.cc only parses arguments).
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

// Writes a command's report to `path`, or to stdout when path is "" or "-". Throws Error
// naming the file when it cannot be opened.
void write_text_output(const std::string& path, const std::string& text);

}  // namespace crossrank

namespace CLI { class App; }

namespace crossrank {

// Subcommand registration: each adds its options to `sub` and returns the function that
// runs it after parsing (returning the exit code). Defined in src/app/<name>_cmd.cc.
std::function<int()> setup_bench(CLI::App* sub);
std::function<int()> setup_serve(CLI::App* sub);
std::function<int()> setup_eval(CLI::App* sub);

}  // namespace crossrank
