#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "util/error.h"

namespace crossrank {

namespace {

struct OwnedPair {
  std::string query, document;
};

// Reads pairs.jsonl: one {"query": str, "document": str} object per non-blank line.
std::vector<OwnedPair> read_pairs(std::istream& in, const std::string& name) {
  std::vector<OwnedPair> out;
  std::string line;
  size_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    const std::string where = name + ":" + std::to_string(lineno) + ": ";
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const std::exception&) {
      throw Error(where + "not valid JSON");
    }
    if (!j.is_object()) throw Error(where + "expected a JSON object {\"query\": ..., \"document\": ...}");
    auto field = [&](const char* key, const char* alt) -> std::string {
      const char* k = j.contains(key) ? key : (alt && j.contains(alt) ? alt : nullptr);
      if (!k) throw Error(where + "missing field '" + key + "'");
      if (!j[k].is_string()) throw Error(where + "field '" + k + "' must be a string");
      return j[k].get<std::string>();
    };
    out.push_back({field("query", nullptr), field("document", "passage")});
  }
  return out;
}

}  // namespace

void write_text_output(const std::string& path, const std::string& text) {
  if (!path.empty() && path != "-") {
    std::ofstream out(path, std::ios::binary);
    if (!out) throw Error(path + ": cannot open for writing");
    out << text;
    if (!out.flush()) throw Error(path + ": write failed");
  } else {
    std::cout << text;
    std::cout.flush();
  }
}

int run_score(const ScoreArgs& a) {
  std::vector<OwnedPair> owned;
  if (!a.input.empty()) {
    if (a.input == "-") {
      owned = read_pairs(std::cin, "<stdin>");
    } else {
      std::ifstream in(a.input);
      if (!in) throw Error(a.input + ": cannot open");
      owned = read_pairs(in, a.input);
    }
  } else {
    check(!a.query.empty() || !a.docs.empty(), "give --query with --doc, or --input pairs.jsonl");
    for (const auto& d : a.docs) owned.push_back({a.query, d});
  }
  check(!owned.empty(), "no pairs to score");
  auto engine = Engine::open(a.model, a.engine);
  std::vector<Pair> pairs;
  pairs.reserve(owned.size());
  for (const auto& p : owned) pairs.push_back({p.query, p.document});
  const std::vector<double> scores = engine->score(pairs, a.score);
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
