#include "server/api.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

namespace crossrank {

using nlohmann::json;

const char* to_string(Dialect d) {
  switch (d) {
    case Dialect::kTei: return "tei";
    case Dialect::kCohere: return "cohere";
    case Dialect::kJina: return "jina";
  }
  return "?";
}

namespace {

[[noreturn]] void invalid(const std::string& msg) { throw ApiError(422, "Validation", msg); }

// Offset of the first malformed UTF-8 sequence, or npos (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF).
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

std::string quote(const std::string& field) { return "`" + field + "`"; }

const json* find(const json& body, const char* key) {
  auto it = body.find(key);
  return it == body.end() ? nullptr : &*it;
}

std::string get_string(const json& body, const char* key, bool required) {
  const json* v = find(body, key);
  if (!v || v->is_null()) {
    if (required) invalid("missing field " + quote(key));
    return "";
  }
  if (!v->is_string()) invalid(quote(key) + " must be a string");
  return v->get<std::string>();
}

bool get_bool(const json& body, const char* key, bool dflt) {
  const json* v = find(body, key);
  if (!v || v->is_null()) return dflt;
  if (!v->is_boolean()) invalid(quote(key) + " must be a boolean");
  return v->get<bool>();
}

// A non-negative integer field (null/absent -> dflt); `min` is the smallest accepted value.
std::size_t get_count(const json& body, const char* key, std::size_t dflt, std::int64_t min) {
  const json* v = find(body, key);
  if (!v || v->is_null()) return dflt;
  if (v->is_number_unsigned()) {
    const std::uint64_t u = v->get<std::uint64_t>();
    if (static_cast<std::int64_t>(std::min<std::uint64_t>(u, INT64_MAX)) < min)
      invalid(quote(key) + " must be >= " + std::to_string(min));
    return static_cast<std::size_t>(std::min<std::uint64_t>(u, std::numeric_limits<std::size_t>::max()));
  }
  if (v->is_number_integer()) {
    const std::int64_t x = v->get<std::int64_t>();
    if (x < min) invalid(quote(key) + " must be >= " + std::to_string(min));
    return static_cast<std::size_t>(x);
  }
  invalid(quote(key) + " must be an integer");
}

// The document list: strings (every dialect) or {"text": string} objects (Cohere v1 and
// Jina only).
std::vector<std::string> get_documents(const json& body, const char* key, bool allow_objects,
                                       const DecodeLimits& limits) {
  const json* v = find(body, key);
  if (!v || v->is_null()) invalid("missing field " + quote(key));
  if (!v->is_array()) invalid(quote(key) + " must be an array of strings");
  if (v->empty()) throw ApiError(400, "Empty", quote(key) + " cannot be empty");
  if (v->size() > limits.max_documents)
    invalid("batch size " + std::to_string(v->size()) + " > maximum allowed batch size " +
            std::to_string(limits.max_documents) + " (--max-client-batch-size)");
  std::vector<std::string> out;
  out.reserve(v->size());
  for (std::size_t i = 0; i < v->size(); ++i) {
    const json& d = (*v)[i];
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

const char* openai_type(int status) {
  switch (status) {
    case 400: case 413: case 422: return "invalid_request_error";
    case 401: return "authentication_error";
    case 404: return "not_found_error";
    case 429: return "overloaded_error";
    case 503: return "unavailable_error";
    default: return "server_error";
  }
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
  if (body.is_object() && body.contains("documents") && !body.contains("texts")) return Dialect::kJina;
  return Dialect::kTei;
}

RerankRequest decode_rerank(const json& body, Dialect d, const DecodeLimits& limits) {
  if (!body.is_object()) invalid("request body must be a JSON object");
  RerankRequest r;
  r.dialect = d;
  r.query = get_string(body, "query", true);
  if (d == Dialect::kTei) {
    r.documents = get_documents(body, "texts", false, limits);
    r.raw_scores = get_bool(body, "raw_scores", false);
    r.return_documents = get_bool(body, "return_text", false);
    if (const json* t = find(body, "truncate"); t && !t->is_null()) {
      if (!t->is_boolean()) invalid("`truncate` must be a boolean or null");
      r.truncate = t->get<bool>();
    }
    const std::string dir = get_string(body, "truncation_direction", false);
    if (dir == "left" || dir == "Left") r.truncate_left = true;
    else if (!dir.empty() && dir != "right" && dir != "Right")
      invalid("`truncation_direction` must be \"right\" or \"left\"");
  } else {
    r.model = get_string(body, "model", false);
    r.documents = get_documents(body, "documents", true, limits);
    // Jina (and vLLM) return documents by default; Cohere only when asked (v1 field).
    r.return_documents = get_bool(body, "return_documents", d == Dialect::kJina);
    if (d == Dialect::kCohere) {
      const std::size_t cap = get_count(body, "max_tokens_per_doc", 0, 1);
      r.max_tokens_per_doc = static_cast<int>(std::min<std::size_t>(cap, std::numeric_limits<int>::max()));
    }
  }
  // top_n: Cohere/Jina field; TEI bodies may carry it too (llama.cpp honours it). 0 = all.
  r.top_n = get_count(body, "top_n", 0, 0);
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
    if (req.return_documents) o["document"] = {{"text", req.documents[r.index]}};
    results.push_back(std::move(o));
  }
  json j;
  j["id"] = info.id;
  j["results"] = std::move(results);
  if (req.dialect == Dialect::kCohere) {
    j["meta"] = {{"api_version", {{"version", "2"}, {"is_experimental", false}}},
                 {"billed_units", {{"search_units", 1}}},
                 {"tokens", {{"input_tokens", info.tokens}, {"output_tokens", 0}}}};
  } else {
    j["model"] = info.model;
    j["usage"] = {{"total_tokens", info.tokens}, {"prompt_tokens", info.tokens}};
    j["meta"] = {{"api_version", {{"version", "1"}}}, {"billed_units", {{"search_units", 1}}}};
  }
  return dump(j);
}

std::string encode_error(Dialect d, const ApiError& e) {
  if (d == Dialect::kTei) return dump(json{{"error", e.what()}, {"error_type", e.type}});
  return dump(json{{"message", e.what()},
                   {"error", {{"message", e.what()}, {"type", openai_type(e.status)}, {"code", e.status}}}});
}

double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

}  // namespace crossrank
