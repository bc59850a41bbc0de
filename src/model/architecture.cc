// The registry of model families, synthetic shapes, and checks shared by templates.
#include "model/architecture.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "batch/encode.h"
#include "model/decoder.h"
#include "model/encoder.h"
#include "model/modernbert.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace crossrank {

const std::vector<const Architecture*>& architectures() {
  static const std::vector<const Architecture*> all = [] {
    std::vector<const Architecture*> v{&xlm_roberta_architecture(), &bert_architecture(), &modernbert_architecture()};
    for (const Architecture* a : decoder_architectures()) v.push_back(a);
    return v;
  }();
  return all;
}

const Architecture* find_architecture(std::string_view hf_class) {
  for (const Architecture* a : architectures())
    for (const std::string& n : a->hf_classes())
      if (n == hf_class) return a;
  return nullptr;
}

namespace {

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// The names a model is recognised by: the last component of a folder path or hub id
// ("ORG/NAME@REV" without the revision), and for a hub cache snapshot
// (.../models--ORG--NAME/snapshots/SHA) its repository folder.
std::vector<std::string> model_names(std::string name) {
  while (name.size() > 1 && name.back() == '/') name.pop_back();
  if (const auto at = name.rfind('@'); at != std::string::npos && name.find('/', at) == std::string::npos)
    name.resize(at);
  std::vector<std::string> parts;
  std::size_t b = 0;
  for (std::size_t e; (e = name.find('/', b)) != std::string::npos; b = e + 1) parts.push_back(name.substr(b, e - b));
  parts.push_back(name.substr(b));
  std::vector<std::string> out{lower(parts.back())};
  if (parts.size() >= 3 && parts[parts.size() - 2] == "snapshots") out.push_back(lower(parts[parts.size() - 3]));
  return out;
}

std::string recipes_of(std::string_view hf_class) {
  std::string r;
  for (const Architecture* a : architectures())
    for (const std::string& n : a->hf_classes())
      if (n == hf_class && *a->recipe()) r += (r.empty() ? "" : ", ") + std::string(a->recipe());
  return r;
}

}  // namespace

std::string recipe_list() {
  std::string r;
  for (const Architecture* a : architectures()) {
    if (!*a->recipe()) continue;
    std::string classes;
    for (const std::string& n : a->hf_classes()) classes += (classes.empty() ? "" : ", ") + n;
    r += (r.empty() ? "" : "; ") + std::string(a->recipe()) + " (" + classes + ")";
  }
  return r;
}

const Architecture* resolve_architecture(std::string_view hf_class, const ModelHint& hint, const std::string& where) {
  std::vector<const Architecture*> of;
  for (const Architecture* a : architectures())
    for (const std::string& n : a->hf_classes())
      if (n == hf_class) of.push_back(a);
  if (of.empty()) return nullptr;
  if (!hint.reranker.empty()) {
    for (const Architecture* a : of)
      if (hint.reranker == a->recipe()) return a;
    const std::string mine = recipes_of(hf_class);
    throw Error(ErrorCode::kUnsupported,
                where + ": --reranker '" + hint.reranker + "' does not apply to " + std::string(hf_class) +
                    (mine.empty() ? " (not a decoder reranker; --reranker selects among: " + recipe_list() + ")"
                                  : " (recipes for it: " + mine + "; all recipes: " + recipe_list() + ")"));
  }
  if (!hint.name.empty()) {
    const std::vector<std::string> names = model_names(hint.name);
    for (const Architecture* a : of)
      for (const std::string& p : a->name_patterns())
        for (const std::string& n : names)
          if (n.find(p) != std::string::npos) return a;
  }
  for (const Architecture* a : of)
    if (a->class_default()) return a;
  if (hint.name.empty()) return of.front();
  throw Error(ErrorCode::kUnsupported,
              where + ": '" + hint.name + "' is a " + std::string(hf_class) +
                  " that matches no known reranker recipe, and crossrank does not score with an arbitrary "
                  "language model; if it is one of these rerankers, name its folder after it or pass "
                  "--reranker NAME: " + recipe_list());
}

std::string supported_architectures() {
  std::string r;
  std::vector<std::string> seen;
  for (const Architecture* a : architectures())
    for (const std::string& n : a->hf_classes()) {
      if (std::find(seen.begin(), seen.end(), n) != seen.end()) continue;
      seen.push_back(n);
      r += (r.empty() ? "" : ", ") + n;
    }
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

EncodedPair encode_template_pair(const Tokenizer& tok, const PairTemplate& t, const ModelConfig& c,
                                 std::string_view query, std::string_view document, const ScoreOptions& o) {
  check_pair_inputs(c, query, document, o.max_length, t.specials() + 2);
  std::vector<int32_t> q = tok.encode(query), d = tok.encode(document);
  truncate_for(q, d, o, t.specials());
  return build_pair(q, d, t);
}

std::vector<EncodedPair> encode_template_chunks(const Tokenizer& tok, const PairTemplate& t, const ModelConfig& c,
                                                std::string_view query, std::string_view document,
                                                const ScoreOptions& o) {
  check_pair_inputs(c, query, document, o.max_length, t.specials() + 2);
  std::vector<EncodedPair> out;
  chunk_windows(tok.encode(query), tok.encode(document), o, t.specials(),
                [&](const std::vector<int32_t>& q, const std::vector<int32_t>& part) {
                  out.push_back(build_pair(q, part, t));
                });
  return out;
}

}  // namespace crossrank
