// The Qwen3-Reranker model card's prompt and its truncation (the qwen3-reranker recipe, recipes.cc).
#include "model/qwen3.h"

#include "batch/encode.h"
#include "util/error.h"

namespace crossrank {

namespace qwen3 {

std::string document_part(std::string_view document) {
  std::string s;
  s.reserve(document.size() + 1);
  s += ' ';
  s += document;
  return s;
}

std::string body_head(std::string_view instruction, std::string_view query) {
  std::string s;
  s.reserve(instruction.size() + query.size() + 40);
  s += "<Instruct>: ";
  s += instruction;
  s += "\n<Query>: ";
  s += query;
  s += "\n<Document>:";
  return s;
}

EncodedPair build_prompt(const std::vector<int32_t>& prefix, std::vector<int32_t> head, std::vector<int32_t> doc,
                         const std::vector<int32_t>& suffix, const ScoreOptions& o) {
  check(o.max_doc_tokens >= 0, "max_doc_tokens must be >= 0");
  if (o.max_doc_tokens > 0) keep_tokens(doc, static_cast<std::size_t>(o.max_doc_tokens), o.truncation_side);
  const std::size_t fixed = prefix.size() + suffix.size();
  const std::size_t n = fixed + head.size() + doc.size();
  if (n > static_cast<std::size_t>(o.max_length)) {
    if (!o.truncate)
      throw Error(ErrorCode::kTooLong, "the prompt has " + std::to_string(n) + " tokens, more than max_length " +
                                           std::to_string(o.max_length) + ", and truncation is off");
    // The card: tokenizer(body, truncation=..., max_length=max_length - prefix - suffix)
    // cuts the body's tokens from the right: the document's end, then the head's end.
    const std::size_t budget = static_cast<std::size_t>(o.max_length) - fixed;
    if (head.size() >= budget) {
      head.resize(budget);
      doc.clear();
    } else {
      keep_tokens(doc, budget - head.size(), o.truncation_side);
    }
  }
  EncodedPair e;
  e.ids.reserve(fixed + head.size() + doc.size());
  e.ids.insert(e.ids.end(), prefix.begin(), prefix.end());
  e.ids.insert(e.ids.end(), head.begin(), head.end());
  e.ids.insert(e.ids.end(), doc.begin(), doc.end());
  e.ids.insert(e.ids.end(), suffix.begin(), suffix.end());
  e.type_ids.assign(e.ids.size(), 0);
  e.shared_prefix = static_cast<int32_t>(prefix.size() + head.size());
  return e;
}

}  // namespace qwen3

}  // namespace crossrank
