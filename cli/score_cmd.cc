#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "util/output.h"
#include "util/pairs_jsonl.h"
#include "util/error.h"

namespace crossrank {

int run_score(const ScoreArgs& a) {
  std::vector<OwnedPair> owned;
  if (!a.input.empty()) {
    check(a.query.empty() && a.docs.empty(), "give either --input or --query with --doc, not both");
    if (a.input == "-") {
      owned = read_pairs_jsonl(std::cin, "<stdin>");
    } else {
      check(!std::filesystem::is_directory(a.input), a.input + ": is a directory, not a pairs.jsonl file");
      std::ifstream in(a.input);
      if (!in) throw Error(a.input + ": cannot open");
      owned = read_pairs_jsonl(in, a.input);
    }
  } else {
    check(!a.query.empty() || !a.docs.empty(), "give --query with --doc, or --input pairs.jsonl");
    for (const auto& d : a.docs) owned.push_back({a.query, d});
  }
  check(!owned.empty(), "no pairs to score");
  check_output_path(a.output);
  auto engine = Engine::open(a.model, a.engine);
  ScoreOptions so = a.score;
  if (so.max_length == 0) so.max_length = std::min(512, engine->info().max_length);  // as serve does
  std::vector<Pair> pairs;
  pairs.reserve(owned.size());
  for (const auto& p : owned) pairs.push_back({p.query, p.document});
  const std::vector<double> scores = engine->score(pairs, so);
  std::ofstream file;
  std::ostream* out = &std::cout;
  if (!a.output.empty() && a.output != "-") {
    file.open(a.output);
    if (!file) throw Error(a.output + ": cannot open for writing");
    out = &file;
  }
  for (size_t i = 0; i < scores.size(); ++i) {
    nlohmann::json j = {{"index", i}, {"score", scores[i]}};
    *out << j.dump() << '\n';
  }
  out->flush();
  return 0;
}

}  // namespace crossrank
