// Open Inference Protocol v2 wire format (see v2.h): path parsing, infer request
// decoding with JSON or binary tensor data, response and metadata encoding.
#include "server/v2.h"

#include <bit>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>

namespace crossrank {

using nlohmann::json;

namespace {

[[noreturn]] void bad(const std::string& msg) { throw ApiError(400, "Validation", msg); }

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes one path segment; nullopt for a malformed escape or an empty result.
std::optional<std::string> decode_segment(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::string shape_text(const json& shape) { return shape.dump(); }

// "[1, 2]" style text of a JSON value that is not a valid shape, cut short.
std::string short_text(const json& v) {
  std::string s = dump(v);
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

// The shape of input `name`: an array of non-negative integers.
std::vector<std::int64_t> get_shape(const json& in, const std::string& name) {
  auto it = in.find("shape");
  if (it == in.end() || it->is_null()) bad("input `" + name + "`: missing `shape`");
  if (!it->is_array()) bad("input `" + name + "`: `shape` must be an array of integers, got " + short_text(*it));
  std::vector<std::int64_t> shape;
  for (const json& d : *it) {
    if (!d.is_number_integer() || (d.is_number_integer() && !d.is_number_unsigned() && d.get<std::int64_t>() < 0))
      bad("input `" + name + "`: `shape` must be an array of non-negative integers, got " + short_text(*it));
    const bool huge = d.is_number_unsigned() && d.get<std::uint64_t>() > (1ull << 31);
    shape.push_back(huge ? (1ll << 31) : d.get<std::int64_t>());
  }
  return shape;
}

// Appends every element of a (possibly nested, row-major) JSON data array; each must be
// a string. Stops early once more than `limit` elements were found; refuses nesting
// deeper than a tensor's rank could be (the recursion stays bounded).
void flatten_strings(const json& v, const std::string& name, std::vector<std::string>& out, std::size_t limit,
                     int depth = 0) {
  if (depth > 8) bad("input `" + name + "`: `data` is nested deeper than 8 levels");
  for (const json& x : v) {
    if (out.size() > limit) return;
    if (x.is_array()) {
      flatten_strings(x, name, out, limit, depth + 1);
    } else if (x.is_string()) {
      out.push_back(x.get<std::string>());
    } else {
      bad("input `" + name + "`: BYTES data must be strings, element " + std::to_string(out.size()) + " is " +
          short_text(x));
    }
  }
}

// Reads `count` BYTES elements (<uint32 LE length><bytes>) that must fill `data` exactly.
std::vector<std::string> read_binary_bytes(std::string_view data, std::size_t count, const std::string& name) {
  std::vector<std::string> out;
  std::size_t p = 0;
  while (out.size() < count) {
    if (data.size() - p < 4)
      bad("input `" + name + "`: binary data ends inside element " + std::to_string(out.size()) + "'s length prefix");
    std::uint32_t len = 0;
    for (int k = 3; k >= 0; --k) len = (len << 8) | static_cast<unsigned char>(data[p + static_cast<std::size_t>(k)]);
    p += 4;
    if (len > data.size() - p)
      bad("input `" + name + "`: binary element " + std::to_string(out.size()) + " declares " + std::to_string(len) +
          " bytes, only " + std::to_string(data.size() - p) + " remain");
    out.emplace_back(data.substr(p, len));
    p += len;
  }
  if (p != data.size())
    bad("input `" + name + "`: binary_data_size is " + std::to_string(data.size()) + " bytes but its " +
        std::to_string(count) + " element(s) take " + std::to_string(p));
  return out;
}

const json* object_field(const json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  if (!it->is_object()) bad(where + "`" + key + "` must be an object");
  return &*it;
}

std::optional<bool> bool_param(const json& params, const char* key) {
  auto it = params.find(key);
  if (it == params.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) bad("parameter `" + std::string(key) + "` must be a boolean, got " + short_text(*it));
  return it->get<bool>();
}

struct Tensor {
  bool seen = false;
  std::vector<std::int64_t> shape;
  std::vector<std::string> data;
};

}  // namespace

std::optional<V2Path> parse_v2_path(std::string_view path) {
  if (path == "/v2" || path == "/v2/") return V2Path{V2Route::kServerMeta, "", ""};
  if (path == "/v2/health/live") return V2Path{V2Route::kLive, "", ""};
  if (path == "/v2/health/ready") return V2Path{V2Route::kReady, "", ""};
  constexpr std::string_view prefix = "/v2/models/";
  if (path.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::vector<std::string_view> seg;
  std::string_view rest = path.substr(prefix.size());
  while (true) {
    const std::size_t slash = rest.find('/');
    seg.push_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  for (std::string_view s : seg)
    if (s.empty()) return std::nullopt;
  V2Path p;
  auto model = decode_segment(seg[0]);
  if (!model) return std::nullopt;
  p.model = *model;
  std::size_t i = 1;
  if (seg.size() >= 3 && seg[1] == "versions") {
    auto v = decode_segment(seg[2]);
    if (!v) return std::nullopt;
    p.version = *v;
    i = 3;
  }
  if (seg.size() == i) p.route = V2Route::kModelMeta;
  else if (seg.size() == i + 1 && seg[i] == "ready") p.route = V2Route::kModelReady;
  else if (seg.size() == i + 1 && seg[i] == "infer") p.route = V2Route::kInfer;
  else return std::nullopt;
  return p;
}

V2InferRequest decode_v2_infer(std::string_view body, std::optional<std::size_t> header_length,
                               const std::string& model, const DecodeLimits& limits) {
  std::string_view head = body, binary;
  if (header_length) {
    if (*header_length > body.size())
      bad("Inference-Header-Content-Length " + std::to_string(*header_length) + " exceeds the body (" +
          std::to_string(body.size()) + " bytes)");
    head = body.substr(0, *header_length);
    binary = body.substr(*header_length);
  }
  json j;
  try {
    j = parse_body(head);
  } catch (const ApiError& e) {
    bad(e.what());
  }
  if (!j.is_object()) bad("request body must be a JSON object with `inputs`");
  V2InferRequest out;
  RerankRequest& r = out.rerank;
  r.dialect = Dialect::kV2;
  r.model = model;
  r.raw_scores = true;
  if (auto it = j.find("id"); it != j.end() && !it->is_null()) {
    if (!it->is_string()) bad("`id` must be a string");
    out.id = it->get<std::string>();
  }
  if (const json* params = object_field(j, "parameters", "")) {
    if (auto v = bool_param(*params, "normalize")) r.raw_scores = !*v;
    if (auto v = bool_param(*params, "truncate")) r.truncate = *v;
    if (auto v = bool_param(*params, "binary_data_output")) out.binary_output = *v;
    if (auto it = params->find("instruction"); it != params->end() && !it->is_null()) {
      if (!it->is_string()) bad("parameter `instruction` must be a string, got " + short_text(*it));
      r.instruction = it->get<std::string>();
    }
  }

  auto inputs = j.find("inputs");
  if (inputs == j.end() || inputs->is_null())
    bad("missing `inputs`: model " + model + " takes `query` (BYTES [1]) and `documents` (BYTES [N])");
  if (!inputs->is_array()) bad("`inputs` must be an array of tensors");
  Tensor query, docs;
  std::size_t binary_used = 0;
  for (std::size_t k = 0; k < inputs->size(); ++k) {
    const json& in = (*inputs)[k];
    const std::string where = "`inputs[" + std::to_string(k) + "]`";
    if (!in.is_object()) bad(where + " must be an object with name, datatype, shape and data");
    auto nit = in.find("name");
    if (nit == in.end() || !nit->is_string()) bad(where + ": missing string `name`");
    const std::string name = nit->get<std::string>();
    Tensor* t = name == "query" ? &query : name == "documents" ? &docs : nullptr;
    if (!t)
      bad("unexpected input `" + name + "`: model " + model + " takes `query` (BYTES [1]) and `documents` (BYTES [N])");
    if (t->seen) bad("input `" + name + "` given twice");
    t->seen = true;
    auto dit = in.find("datatype");
    if (dit == in.end() || !dit->is_string()) bad("input `" + name + "`: missing string `datatype` (BYTES)");
    if (dit->get<std::string>() != "BYTES")
      bad("input `" + name + "`: datatype must be BYTES, got " + dit->get<std::string>());
    t->shape = get_shape(in, name);
    const json& shape_json = in["shape"];
    std::size_t count = 0;
    if (t == &query) {
      if (t->shape != std::vector<std::int64_t>{1})
        bad("input `query`: shape must be [1], got " + shape_text(shape_json));
      count = 1;
    } else {
      if (t->shape.size() != 1) bad("input `documents`: shape must be [N] (one dimension), got " + shape_text(shape_json));
      if (t->shape[0] == 0) throw ApiError(400, "Empty", "input `documents` is empty (shape [0])");
      if (static_cast<std::uint64_t>(t->shape[0]) > limits.max_documents)
        bad("input `documents`: batch size " + std::to_string(t->shape[0]) + " > maximum allowed batch size " +
            std::to_string(limits.max_documents) + " (--max-client-batch-size)");
      count = static_cast<std::size_t>(t->shape[0]);
    }
    const json* iparams = object_field(in, "parameters", "input `" + name + "`: ");
    std::optional<std::size_t> binary_size;
    if (iparams) {
      auto b = iparams->find("binary_data_size");
      if (b != iparams->end() && !b->is_null()) {
        if (!b->is_number_unsigned()) bad("input `" + name + "`: `binary_data_size` must be a non-negative integer");
        binary_size = static_cast<std::size_t>(std::min<std::uint64_t>(b->get<std::uint64_t>(), SIZE_MAX / 2));
      }
    }
    auto data = in.find("data");
    const bool has_data = data != in.end() && !data->is_null();
    if (binary_size) {
      if (has_data) bad("input `" + name + "`: both `data` and parameters.binary_data_size given");
      if (!header_length)
        bad("input `" + name + "`: binary_data_size without an Inference-Header-Content-Length header");
      if (*binary_size > binary.size() - binary_used)
        bad("input `" + name + "`: binary_data_size " + std::to_string(*binary_size) + " exceeds the " +
            std::to_string(binary.size() - binary_used) + " binary bytes left in the body");
      t->data = read_binary_bytes(binary.substr(binary_used, *binary_size), count, name);
      binary_used += *binary_size;
      for (std::size_t i = 0; i < t->data.size(); ++i)
        if (const std::size_t off = utf8_error_offset(t->data[i]); off != std::string_view::npos)
          bad("input `" + name + "`: element " + std::to_string(i) + " is not valid UTF-8 (byte " +
              std::to_string(off) + ")");
    } else {
      if (!has_data) bad("input `" + name + "`: missing `data`");
      if (!data->is_array()) bad("input `" + name + "`: `data` must be an array of strings");
      flatten_strings(*data, name, t->data, count);
      if (t->data.size() != count)
        bad("input `" + name + "`: shape " + shape_text(shape_json) + " needs " + std::to_string(count) +
            " element(s), `data` has " + (t->data.size() > count ? "more" : std::to_string(t->data.size())));
    }
    for (std::size_t i = 0; i < t->data.size(); ++i)
      if (t->data[i].empty()) bad("input `" + name + "`: element " + std::to_string(i) + " is empty");
  }
  if (header_length && binary_used != binary.size())
    bad("the body has " + std::to_string(binary.size()) + " binary byte(s) after the JSON header, the inputs declare " +
        std::to_string(binary_used));
  if (!query.seen) bad("missing input `query` (BYTES, shape [1])");
  if (!docs.seen) bad("missing input `documents` (BYTES, shape [N])");
  r.query = std::move(query.data[0]);
  if (limits.max_query_bytes > 0 && r.query.size() > limits.max_query_bytes)
    bad("input `query` is too long: " + std::to_string(r.query.size()) + " bytes > " +
        std::to_string(limits.max_query_bytes) + " (250 x --max-length)");
  r.documents = std::move(docs.data);

  if (auto outs = j.find("outputs"); outs != j.end() && !outs->is_null()) {
    if (!outs->is_array()) bad("`outputs` must be an array");
    for (std::size_t k = 0; k < outs->size(); ++k) {
      const json& o = (*outs)[k];
      if (!o.is_object() || !o.contains("name") || !o["name"].is_string())
        bad("`outputs[" + std::to_string(k) + "]` must be an object with a string `name`");
      const std::string name = o["name"].get<std::string>();
      if (name != "scores") bad("unknown output `" + name + "`: model " + model + " has one output, `scores` (FP32 [N])");
      if (const json* op = object_field(o, "parameters", "output `scores`: ")) {
        if (auto v = bool_param(*op, "binary_data")) out.binary_output = *v;
        if (auto c = op->find("classification"); c != op->end() && !c->is_null())
          bad("output `scores`: the classification extension is not supported (scores are one logit per document)");
      }
    }
  }
  return out;
}

V2Response encode_v2_infer(const std::string& id, bool binary, const std::string& model,
                           std::span<const double> scores) {
  static_assert(std::endian::native == std::endian::little, "binary tensor data is little-endian");
  json out = {{"name", "scores"}, {"datatype", "FP32"}, {"shape", json::array({scores.size()})}};
  json j = {{"model_name", model}, {"model_version", kV2Version}};
  if (!id.empty()) j["id"] = id;
  V2Response r;
  if (binary) {
    out["parameters"] = {{"binary_data_size", scores.size() * sizeof(float)}};
    j["outputs"] = json::array({out});
    r.body = dump(j);
    r.header_length = r.body.size();
    for (double s : scores) {
      const float f = static_cast<float>(s);
      char b[sizeof f];
      std::memcpy(b, &f, sizeof f);
      r.body.append(b, sizeof f);
    }
    return r;
  }
  json data = json::array();
  for (double s : scores) data.push_back(static_cast<float>(s));
  out["data"] = std::move(data);
  j["outputs"] = json::array({out});
  r.body = dump(j);
  return r;
}

std::string v2_server_metadata(const std::string& version) {
  return dump({{"name", "crossrank"},
               {"version", version},
               {"extensions", json::array({"binary_tensor_data", "parameters"})}});
}

std::string v2_model_metadata(const std::string& model) {
  return dump({{"name", model},
               {"versions", json::array({kV2Version})},
               {"platform", "crossrank"},
               {"inputs",
                json::array({{{"name", "query"}, {"datatype", "BYTES"}, {"shape", json::array({1})}},
                             {{"name", "documents"}, {"datatype", "BYTES"}, {"shape", json::array({-1})}}})},
               {"outputs", json::array({{{"name", "scores"}, {"datatype", "FP32"}, {"shape", json::array({-1})}}})}});
}

std::string v2_error_body(const std::string& message) { return dump({{"error", message}}); }

}  // namespace crossrank
