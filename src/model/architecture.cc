// The registry of model families, synthetic shapes, and checks shared by templates.
#include "model/architecture.h"

#include "model/encoder.h"
#include "model/qwen3.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace crossrank {

const std::vector<const Architecture*>& architectures() {
  static const std::vector<const Architecture*> all{&xlm_roberta_architecture(), &bert_architecture(),
                                                     &qwen3_architecture()};
  return all;
}

const Architecture* find_architecture(std::string_view hf_class) {
  for (const Architecture* a : architectures())
    for (const std::string& n : a->hf_classes())
      if (n == hf_class) return a;
  return nullptr;
}

std::string supported_architectures() {
  std::string r;
  for (const Architecture* a : architectures())
    for (const std::string& n : a->hf_classes()) r += (r.empty() ? "" : ", ") + n;
  return r;
}

ModelConfig synthetic_config(const std::string& name) {
  for (const Architecture* a : architectures())
    for (auto& [n, c] : a->synthetic_shapes())
      if (n == name) return c;
  throw Error(ErrorCode::kNotFound, "unknown synthetic model '" + name + "' (known: " + synthetic_model_names() + ")");
}

std::string synthetic_model_names() {
  std::string r;
  for (const Architecture* a : architectures())
    for (auto& [n, c] : a->synthetic_shapes()) r += (r.empty() ? "" : ", ") + n;
  return r;
}

void check_pair_inputs(const ModelConfig& c, std::string_view query, std::string_view document, int max_length,
                       int lo) {
  check(max_length >= lo && max_length <= c.max_length,
        "max_length " + std::to_string(max_length) + " outside [" + std::to_string(lo) + ", " +
            std::to_string(c.max_length) + "] for this model");
  check(!query.empty(), "query is empty");
  check(!document.empty(), "document is empty");
  check_utf8(query, "query");
  check_utf8(document, "document");
}

}  // namespace crossrank
