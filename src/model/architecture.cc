// The registry of model families, synthetic shapes, and checks shared by templates.
#include "model/architecture.h"

#include <algorithm>
#include <cmath>

#include "model/encoder.h"
#include "model/modernbert.h"
#include "model/qwen3.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace crossrank {

const std::vector<const Architecture*>& architectures() {
  static const std::vector<const Architecture*> all{&xlm_roberta_architecture(), &bert_architecture(),
                                                     &modernbert_architecture(), &qwen3_architecture()};
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

std::unique_ptr<Tokenizer> Architecture::synthetic_tokenizer(const ModelConfig&) const {
  throw Error(ErrorCode::kUnsupported, std::string("the ") + family() + " family has no built-in synthetic tokenizer");
}

EncodedPair Architecture::fixed_len_pair(const ModelConfig&, const Tokenizer*, int, std::uint64_t) const {
  throw Error(ErrorCode::kUnsupported, std::string("the ") + family() + " family has no fixed-length bench inputs");
}

double Architecture::pair_flops(const ModelConfig& c, double L) const {
  const double H = c.hidden, Dq = double(c.heads) * c.head_dim, Dkv = double(c.kv_heads) * c.head_dim;
  const double I = c.intermediate, ffn = (ffn_gated() ? 3.0 : 2.0) * H * I;
  return c.layers * (2.0 * L * (2.0 * H * Dq + 2.0 * H * Dkv + ffn) + 4.0 * L * L * Dq) + 2.0 * (H * H + H);
}

std::string Architecture::flops_formula() const {
  return std::string("FLOPs per pair of L tokens = layers x (2*L*(2*H*Dq + 2*H*Dkv + ") +
         (ffn_gated() ? "3" : "2") +
         "*H*I) + 4*L^2*Dq) + 2*(H^2 + H) (H hidden, Dq = heads x head_dim, Dkv = kv_heads x head_dim, I "
         "intermediate; projections, FFN and attention matmuls plus the head; embeddings, norms, softmax and "
         "activations not counted)";
}

EncodedPair fixed_len_from_template(const std::vector<std::int32_t>& head, const std::vector<std::int32_t>& mid,
                                    const std::vector<std::int32_t>& tail, int len, int max_length, std::int32_t lo,
                                    std::int32_t vocab, int second_type, std::uint64_t seed) {
  const int specials = static_cast<int>(head.size() + mid.size() + tail.size());
  if (len < specials + 2 || len > max_length)
    throw Error("--inputs len:" + std::to_string(len) + " is outside [" + std::to_string(specials + 2) + ", " +
                std::to_string(max_length) + "] for this model");
  // splitmix64 (state = mix(seed), then mix(state) per draw): the same ids on every platform.
  auto mix = [](std::uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  std::uint64_t state = mix(seed);
  auto next = [&]() { return state = mix(state); };
  const std::int32_t span = std::max<std::int32_t>(1, vocab - lo);
  const int content = len - specials;
  const int q = std::max(1, static_cast<int>(std::lround(content * 0.13)));
  const int d = content - q;
  EncodedPair e;
  e.ids = head;
  for (int k = 0; k < q; ++k) e.ids.push_back(lo + static_cast<std::int32_t>(next() % span));
  e.ids.insert(e.ids.end(), mid.begin(), mid.end());
  const std::size_t second = e.ids.size();
  for (int k = 0; k < d; ++k) e.ids.push_back(lo + static_cast<std::int32_t>(next() % span));
  e.ids.insert(e.ids.end(), tail.begin(), tail.end());
  e.type_ids.assign(e.ids.size(), 0);
  if (second_type)
    for (std::size_t k = second; k < e.ids.size(); ++k) e.type_ids[k] = second_type;
  return e;
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
