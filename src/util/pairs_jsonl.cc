#include "util/pairs_jsonl.h"

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace crossrank {

std::vector<OwnedPair> read_pairs_jsonl(std::istream& in, const std::string& name) {
  std::vector<OwnedPair> out;
  std::string line;
  std::size_t lineno = 0;
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

}  // namespace crossrank
