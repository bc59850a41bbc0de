#include "server/api.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>

namespace crossrank {

using nlohmann::json;

const char* to_string(Dialect d) {
  switch (d) {
    case Dialect::kTei: return "tei";
    case Dialect::kCohere: return "cohere";
    case Dialect::kJina: return "jina";
    case Dialect::kInfinity: return "infinity";
    case Dialect::kV2: return "v2";
  }
  return "?";
}

namespace {

[[noreturn]] void invalid(const std::string& msg) { throw ApiError(422, "Validation", msg); }

}  // namespace

std::size_t utf8_error_offset(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) { len = 3; lo = 0xA0; }
    else if (c >= 0xE1 && c <= 0xEC) len = 3;
    else if (c == 0xED) { len = 3; hi = 0x9F; }
    else if (c >= 0xEE && c <= 0xEF) len = 3;
    else if (c == 0xF0) { len = 4; lo = 0x90; }
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xF4) { len = 4; hi = 0x8F; }
    else return i;
    if (i + len > n) return i;
    if (p[i + 1] < lo || p[i + 1] > hi) return i;
    for (std::size_t k = 2; k < len; ++k)
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return i;
    i += len;
  }
  return std::string_view::npos;
}

namespace {

std::string quote(const std::string& field) { return "`" + field + "`"; }

constexpr unsigned bit(Dialect d) { return 1u << static_cast<unsigned>(d); }
constexpr unsigned kAll = bit(Dialect::kTei) | bit(Dialect::kCohere) | bit(Dialect::kJina) | bit(Dialect::kInfinity);
constexpr unsigned kDocDialects = bit(Dialect::kCohere) | bit(Dialect::kJina) | bit(Dialect::kInfinity);

const FieldSpec* spec_of(const char* name) {
  for (const FieldSpec& f : request_fields())
    if (std::string_view(f.name) == name) return &f;
  return nullptr;
}

// The value of field `name` for dialect `d`, checked against its FieldSpec: nullptr when
// absent or null (optional fields), else a value of the declared type. Throws ApiError.
const json* field(const json& body, const char* name) {
  const FieldSpec& f = *spec_of(name);
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) {
    if (f.required) invalid("missing field " + quote(name));
    return nullptr;
  }
  const json& v = *it;
  switch (f.type) {
    case FieldType::kString:
      if (!v.is_string()) invalid(quote(name) + " must be a string");
      if (f.min > 0 && v.get_ref<const std::string&>().empty()) invalid(quote(name) + " cannot be empty");
      break;
    case FieldType::kBool:
      if (!v.is_boolean()) invalid(quote(name) + " must be a boolean");
      break;
    case FieldType::kInteger: {
      if (!v.is_number_integer()) invalid(quote(name) + " must be an integer");
      const bool huge = v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX);
      const std::int64_t x = huge ? INT64_MAX : v.get<std::int64_t>();
      if (x < f.min) invalid(quote(name) + " must be >= " + std::to_string(f.min));
      if (x > f.max) invalid(quote(name) + " must be <= " + std::to_string(f.max));
      break;
    }
    case FieldType::kEnum: {
      if (!v.is_string()) invalid(quote(name) + " must be a string");
      bool ok = false;
      for (const char* e : f.values) ok = ok || v.get_ref<const std::string&>() == e;
      if (!ok) {
        std::string list;
        for (const char* e : f.values) list += (list.empty() ? "\"" : ", \"") + std::string(e) + "\"";
        invalid(quote(name) + " must be one of " + list);
      }
      break;
    }
    case FieldType::kDocuments:
      if (!v.is_array()) invalid(quote(name) + " must be an array of strings");
      break;
  }
  return &v;
}

std::string get_string(const json& body, const char* name) {
  const json* v = field(body, name);
  return v ? v->get<std::string>() : std::string();
}
bool get_bool(const json& body, const char* name, bool dflt) {
  const json* v = field(body, name);
  return v ? v->get<bool>() : dflt;
}
std::int64_t get_int(const json& body, const char* name, std::int64_t dflt) {
  const json* v = field(body, name);
  return v ? v->get<std::int64_t>() : dflt;
}

// The document list: strings (every dialect) or {"text": string} objects (not TEI).
std::vector<std::string> get_documents(const json& body, const char* key, bool allow_objects,
                                       const DecodeLimits& limits) {
  const json& v = *field(body, key);
  if (v.empty()) throw ApiError(400, "Empty", quote(key) + " cannot be empty");
  if (v.size() > limits.max_documents)
    invalid("batch size " + std::to_string(v.size()) + " > maximum allowed batch size " +
            std::to_string(limits.max_documents) + " (--max-client-batch-size)");
  std::vector<std::string> out;
  out.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    const json& d = v[i];
    const std::string name = std::string(key) + "[" + std::to_string(i) + "]";
    if (d.is_string()) {
      out.push_back(d.get<std::string>());
    } else if (allow_objects && d.is_object()) {
      auto t = d.find("text");
      if (t == d.end() || !t->is_string()) invalid(quote(name) + " must be a string or an object with a string `text`");
      out.push_back(t->get<std::string>());
    } else {
      invalid(quote(name) + (allow_objects ? " must be a string or an object with a string `text`" : " must be a string"));
    }
    if (out.back().empty()) invalid(quote(name) + " cannot be empty");
  }
  return out;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

json parse_body(std::string_view body) {
  if (const std::size_t bad = utf8_error_offset(body); bad != std::string_view::npos)
    invalid("request body is not valid UTF-8 (byte " + std::to_string(bad) + ")");
  try {
    return json::parse(body);
  } catch (const json::exception& e) {
    // parse_error ("[json.exception.parse_error.101] parse error at line 1, column 2: ...")
    // or out_of_range 406 for a number that overflows a double (found by the fuzzer).
    std::string what = e.what();
    if (auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
    invalid("request body is not valid JSON: " + what);
  }
}

Dialect detect_dialect(const json& body) {
  if (body.is_object() && body.contains("documents") && !body.contains("texts")) return Dialect::kInfinity;
  return Dialect::kTei;
}

const std::vector<FieldSpec>& request_fields() {
  static const std::vector<FieldSpec> fields = [] {
    const unsigned tei = bit(Dialect::kTei), cohere = bit(Dialect::kCohere), jina = bit(Dialect::kJina),
                   inf = bit(Dialect::kInfinity);
    std::vector<FieldSpec> f;
    f.push_back({"model", FieldType::kString, kAll, false, 0, 0, {}, nullptr,
                 "served model name; routes the request when several models are served"});
    f.push_back({"query", FieldType::kString, kAll, true, 1, 0, {}, nullptr, "the search query"});
    f.push_back({"texts", FieldType::kDocuments, tei, true, 0, 0, {}, nullptr, "passages to rank"});
    f.push_back({"documents", FieldType::kDocuments, kDocDialects, true, 0, 0, {}, nullptr,
                 "passages to rank: strings or {\"text\": ...} objects"});
    f.push_back({"top_n", FieldType::kInteger, kAll, false, 0, kMaxIntField, {}, nullptr,
                 "keep the best n results (0 or absent: all)"});
    f.push_back({"raw_scores", FieldType::kBool, tei | inf, false, 0, 0, {}, "false", "raw logits instead of sigmoid"});
    f.push_back({"return_text", FieldType::kBool, tei, false, 0, 0, {}, "false", "echo each passage as `text`"});
    f.push_back({"return_documents", FieldType::kBool, cohere | jina | inf, false, 0, 0, {}, nullptr,
                 "echo each passage as `document` (default: true on Jina, false otherwise)"});
    f.push_back({"truncate", FieldType::kBool, tei, false, 0, 0, {}, "true",
                 "false: a pair longer than max_input_length is refused (422) instead of cut"});
    f.push_back({"truncation_direction", FieldType::kEnum, tei, false, 0, 0, {"right", "Right", "left", "Left"},
                 "\"right\"", "which end of the query and of the passage truncation cuts (TEI)"});
    f.push_back({"max_tokens_per_doc", FieldType::kInteger, cohere, false, 1, kMaxIntField, {}, nullptr,
                 "cap on each document's tokens before pair truncation (Cohere v2)"});
    f.push_back({"max_chunks_per_doc", FieldType::kInteger, cohere | jina, false, 1, kMaxChunksPerDoc, {}, nullptr,
                 "score long documents as overlapping windows (at most this many), the best window counts "
                 "(Cohere v1, OpenVINO Model Server)"});
    f.push_back({"instruction", FieldType::kString, kAll, false, 0, 0, {}, nullptr,
                 "task instruction of decoder rerankers (vLLM, SGLang); ignored by cross-encoders"});
    return f;
  }();
  return fields;
}

RerankRequest decode_rerank(const json& body, Dialect d, const DecodeLimits& limits) {
  if (!body.is_object()) invalid("request body must be a JSON object");
  RerankRequest r;
  r.dialect = d;
  r.query = get_string(body, "query");
  // Every dialect routes on `model` (TEI has no such field; with several models served a
  // TEI body naming one was scored by the default model, 2026-12-08).
  r.model = get_string(body, "model");
  if (limits.max_query_bytes > 0 && r.query.size() > limits.max_query_bytes)
    invalid("`query` is too long: " + std::to_string(r.query.size()) + " bytes > " +
            std::to_string(limits.max_query_bytes) + " (250 x --max-length)");
  if (d == Dialect::kTei) {
    r.documents = get_documents(body, "texts", false, limits);
    r.raw_scores = get_bool(body, "raw_scores", false);
    r.return_documents = get_bool(body, "return_text", false);
    if (const json* t = field(body, "truncate")) r.truncate = t->get<bool>();
    const std::string dir = get_string(body, "truncation_direction");
    r.truncate_left = dir == "left" || dir == "Left";
  } else {
    r.documents = get_documents(body, "documents", true, limits);
    // Jina (and vLLM) return documents by default; Cohere and Infinity only when asked.
    r.return_documents = get_bool(body, "return_documents", d == Dialect::kJina);
    if (d == Dialect::kInfinity) r.raw_scores = get_bool(body, "raw_scores", false);
    if (d == Dialect::kCohere) r.max_tokens_per_doc = static_cast<int>(get_int(body, "max_tokens_per_doc", 0));
    if (d == Dialect::kCohere || d == Dialect::kJina)
      r.max_chunks_per_doc = static_cast<int>(get_int(body, "max_chunks_per_doc", 0));
  }
  r.instruction = get_string(body, "instruction");
  // top_n: Cohere/Jina field; TEI bodies may carry it too (llama.cpp honours it). 0 = all.
  r.top_n = static_cast<std::size_t>(get_int(body, "top_n", 0));
  if (r.query.empty()) invalid("`query` cannot be empty");
  return r;
}

std::vector<RankedResult> rank_scores(std::span<const double> scores, std::size_t top_n) {
  std::vector<RankedResult> out(scores.size());
  for (std::size_t i = 0; i < scores.size(); ++i) out[i] = {i, scores[i]};
  std::stable_sort(out.begin(), out.end(), [](const RankedResult& a, const RankedResult& b) { return a.score > b.score; });
  if (top_n > 0 && top_n < out.size()) out.resize(top_n);
  return out;
}

std::string encode_rerank_response(const RerankRequest& req, std::span<const RankedResult> ranked,
                                   const ResponseInfo& info) {
  if (req.dialect == Dialect::kTei) {
    json arr = json::array();
    for (const auto& r : ranked) {
      json o = {{"index", r.index}, {"score", r.score}};
      if (req.return_documents) o["text"] = req.documents[r.index];
      arr.push_back(std::move(o));
    }
    return dump(arr);
  }
  json results = json::array();
  for (const auto& r : ranked) {
    json o = {{"index", r.index}, {"relevance_score", r.score}};
    if (req.return_documents) {
      // Infinity echoes the plain string; Cohere and Jina an object.
      if (req.dialect == Dialect::kInfinity) o["document"] = req.documents[r.index];
      else o["document"] = {{"text", req.documents[r.index]}};
    }
    results.push_back(std::move(o));
  }
  json j;
  j["id"] = info.id;
  j["results"] = std::move(results);
  if (req.dialect == Dialect::kCohere) {
    j["meta"] = {{"api_version", {{"version", "2"}, {"is_experimental", false}}},
                 {"billed_units", {{"search_units", 1}}},
                 {"tokens", {{"input_tokens", info.tokens}, {"output_tokens", 0}}}};
  } else if (req.dialect == Dialect::kInfinity) {
    j["object"] = "rerank";
    j["model"] = info.model;
    j["usage"] = {{"total_tokens", info.tokens}, {"prompt_tokens", info.tokens}};
    j["created"] = info.created;
  } else {
    j["model"] = info.model;
    j["usage"] = {{"total_tokens", info.tokens}, {"prompt_tokens", info.tokens}};
    j["meta"] = {{"api_version", {{"version", "1"}}}, {"billed_units", {{"search_units", 1}}}};
  }
  return dump(j);
}

double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

}  // namespace crossrank
