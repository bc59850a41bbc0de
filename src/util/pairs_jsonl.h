#pragma once
// pairs.jsonl, the offline input of `crossrank score`: one {"query": str, "document": str}
// object per line ("passage" is accepted for "document"); blank lines are skipped.
#include <istream>
#include <string>
#include <vector>

namespace crossrank {

struct OwnedPair {
  std::string query, document;
};

// Reads every pair of `in`; `name` labels error messages ("name:LINE: problem"). Throws
// Error for a line that is not a JSON object with string fields query and document.
std::vector<OwnedPair> read_pairs_jsonl(std::istream& in, const std::string& name);

}  // namespace crossrank
