// The OpenAPI 3.0 document served at GET /openapi.json (and TEI's /api-doc/openapi.json).
// Request schemas are generated from request_fields() (src/server/api.h), the table the
// decoder validates with, so what the document accepts is what the server accepts:
// optional fields are nullable (null = absent, as the decoder treats it), integers carry
// the decoder's maxima, the query its byte limit. Error responses declare the shape each
// route really sends (/rerank: TEI or, for a documents body, Infinity's).
#include <nlohmann/json.hpp>

#include "server/api.h"
#include "server/server.h"
#include "server/v2.h"

namespace crossrank {

using nlohmann::json;

namespace {

json ref(const std::string& name) { return {{"$ref", "#/components/schemas/" + name}}; }
json json_content(const json& schema) { return {{"application/json", {{"schema", schema}}}}; }
json any_of(std::initializer_list<json> l) {
  json a = json::array();
  for (const json& x : l) a.push_back(x);
  return {{"anyOf", a}};
}

bool reads(const FieldSpec& f, Dialect d) { return (f.dialects >> static_cast<unsigned>(d)) & 1u; }

json documents_schema(Dialect d, const ServerOptions& opts) {
  json item_string = {{"type", "string"}, {"minLength", 1}};
  json items = item_string;
  if (d != Dialect::kTei)
    items = {{"oneOf", json::array({item_string,
                                    {{"type", "object"},
                                     {"required", json::array({"text"})},
                                     {"properties", {{"text", item_string}}}}})}};
  return {{"type", "array"}, {"minItems", 1}, {"maxItems", opts.max_client_batch_size}, {"items", items}};
}

json field_schema(const FieldSpec& f, Dialect d, const ServerOptions& opts, const std::vector<std::string>& models) {
  json s;
  switch (f.type) {
    case FieldType::kString:
      s = {{"type", "string"}};
      if (f.min > 0) s["minLength"] = f.min;
      if (std::string_view(f.name) == "query") s["maxLength"] = static_cast<std::int64_t>(opts.max_length) * 250;
      if (std::string_view(f.name) == "model" && models.size() > 1) s["enum"] = models;
      break;
    case FieldType::kBool: s = {{"type", "boolean"}}; break;
    case FieldType::kInteger: s = {{"type", "integer"}, {"minimum", f.min}, {"maximum", f.max}}; break;
    case FieldType::kEnum: s = {{"type", "string"}, {"enum", f.values}}; break;
    case FieldType::kDocuments: s = documents_schema(d, opts); break;
  }
  if (!f.required) {
    s["nullable"] = true;
    // OpenAPI 3.0: an enum lists every valid value, null included (schemathesis ST201).
    if (s.contains("enum")) s["enum"].push_back(nullptr);
  }
  if (f.default_json) s["default"] = json::parse(f.default_json);
  if (*f.description) s["description"] = f.description;
  return s;
}

// The request schema of dialect `d`, from request_fields().
json request_schema(Dialect d, const ServerOptions& opts, const std::vector<std::string>& models) {
  json props = json::object(), required = json::array();
  for (const FieldSpec& f : request_fields()) {
    if (!reads(f, d)) continue;
    props[f.name] = field_schema(f, d, opts, models);
    if (f.required) required.push_back(f.name);
  }
  return {{"type", "object"}, {"required", required}, {"properties", props}};
}

json error_responses(const json& err, bool auth, bool model_routing) {
  json r = {
      {"400", {{"description", "Empty document list, or malformed HTTP"}, {"content", json_content(err)}}},
      {"405", {{"description", "Method not allowed (Allow header)"}, {"content", json_content(err)}}},
      {"408", {{"description", "Request head or body not received in time"}, {"content", json_content(err)}}},
      {"413", {{"description", "Body over --payload-limit"}, {"content", json_content(err)}}},
      {"422",
       {{"description", "Validation: malformed JSON, invalid UTF-8, a field of the wrong type or out of range (named), "
                        "too many documents, empty query/document, over-long input with truncate=false"},
        {"content", json_content(err)}}},
      {"424", {{"description", "Backend (inference) failure"}, {"content", json_content(err)}}},
      {"429",
       {{"description", "Overloaded: pairs in flight would exceed --max-concurrent-pairs (Retry-After: 1)"},
        {"headers", {{"Retry-After", {{"schema", {{"type", "integer"}}}}}}},
        {"content", json_content(err)}}},
      {"503", {{"description", "Warming up or shutting down"}, {"content", json_content(err)}}},
  };
  if (auth) r["401"] = {{"description", "Missing or wrong API key"}, {"content", json_content(err)}};
  if (model_routing) r["404"] = {{"description", "Unknown model"}, {"content", json_content(err)}};
  return r;
}


// The Open Inference Protocol v2 routes (src/server/v2.h). The infer body's schema is as
// tight as OpenAPI allows; what it cannot say (data length = shape) is a 400 too.
void add_v2_paths(json& paths, json& schemas, const ServerOptions& opts, const std::vector<std::string>& models,
                  const json& sec, bool auth) {
  schemas["V2Error"] = {{"type", "object"},
                        {"required", json::array({"error"})},
                        {"properties", {{"error", {{"type", "string"}}}}}};
  const json err = json_content(ref("V2Error"));
  json bytes_item = {{"type", "string"}, {"minLength", 1}};
  json tensor_params = {{"type", "object"},
                        {"nullable", true},
                        {"properties", {{"binary_data_size", {{"type", "integer"}, {"minimum", 0}}}}}};
  schemas["V2QueryTensor"] = {
      {"type", "object"},
      {"required", json::array({"name", "datatype", "shape", "data"})},
      {"properties",
       {{"name", {{"type", "string"}, {"enum", json::array({"query"})}}},
        {"datatype", {{"type", "string"}, {"enum", json::array({"BYTES"})}}},
        {"shape", {{"type", "array"}, {"minItems", 1}, {"maxItems", 1}, {"items", {{"type", "integer"}, {"enum", json::array({1})}}}}},
        {"data", {{"type", "array"}, {"minItems", 1}, {"maxItems", 1}, {"items", bytes_item}}},
        {"parameters", tensor_params}}}};
  schemas["V2DocumentsTensor"] = {
      {"type", "object"},
      {"required", json::array({"name", "datatype", "shape", "data"})},
      {"properties",
       {{"name", {{"type", "string"}, {"enum", json::array({"documents"})}}},
        {"datatype", {{"type", "string"}, {"enum", json::array({"BYTES"})}}},
        {"shape",
         {{"type", "array"},
          {"minItems", 1},
          {"maxItems", 1},
          {"items", {{"type", "integer"}, {"minimum", 1}, {"maximum", opts.max_client_batch_size}}},
          {"description", "[N]: the number of documents, the length of `data`"}}},
        {"data", {{"type", "array"}, {"minItems", 1}, {"maxItems", opts.max_client_batch_size}, {"items", bytes_item}}},
        {"parameters", tensor_params}}}};
  schemas["V2InferRequest"] = {
      {"type", "object"},
      {"required", json::array({"inputs"})},
      {"properties",
       {{"id", {{"type", "string"}, {"description", "echoed in the response"}}},
        {"parameters",
         {{"type", "object"},
          {"nullable", true},
          {"properties",
           {{"normalize", {{"type", "boolean"}, {"default", false}, {"description", "sigmoid of the logits"}}},
            {"truncate", {{"type", "boolean"}, {"default", true}, {"description", "false: an over-long pair is a 400"}}},
            {"instruction", {{"type", "string"}, {"description", "task instruction of decoder rerankers"}}},
            {"binary_data_output", {{"type", "boolean"}, {"default", false}}}}}}},
        {"inputs",
         {{"type", "array"},
          {"minItems", 2},
          {"maxItems", 2},
          {"items", {{"oneOf", json::array({ref("V2QueryTensor"), ref("V2DocumentsTensor")})}}}}},
        {"outputs",
         {{"type", "array"},
          {"nullable", true},
          {"items",
           {{"type", "object"},
            {"required", json::array({"name"})},
            {"properties",
             {{"name", {{"type", "string"}, {"enum", json::array({"scores"})}}},
              {"parameters",
               {{"type", "object"}, {"nullable", true}, {"properties", {{"binary_data", {{"type", "boolean"}}}}}}}}}}}}}}}};
  schemas["V2InferResponse"] = {
      {"type", "object"},
      {"required", json::array({"model_name", "outputs"})},
      {"properties",
       {{"model_name", {{"type", "string"}}},
        {"model_version", {{"type", "string"}}},
        {"id", {{"type", "string"}}},
        {"outputs",
         {{"type", "array"},
          {"items",
           {{"type", "object"},
            {"required", json::array({"name", "datatype", "shape"})},
            {"properties",
             {{"name", {{"type", "string"}}},
              {"datatype", {{"type", "string"}}},
              {"shape", {{"type", "array"}, {"items", {{"type", "integer"}}}}},
              {"data", {{"type", "array"}, {"items", {{"type", "number"}}}}}}}}}}}}}};
  json tensor_meta = {{"type", "object"},
                      {"required", json::array({"name", "datatype", "shape"})},
                      {"properties",
                       {{"name", {{"type", "string"}}},
                        {"datatype", {{"type", "string"}}},
                        {"shape", {{"type", "array"}, {"items", {{"type", "integer"}}}}}}}};
  schemas["V2ModelMetadata"] = {
      {"type", "object"},
      {"required", json::array({"name", "platform", "inputs", "outputs"})},
      {"properties",
       {{"name", {{"type", "string"}}},
        {"versions", {{"type", "array"}, {"items", {{"type", "string"}}}}},
        {"platform", {{"type", "string"}}},
        {"inputs", {{"type", "array"}, {"items", tensor_meta}}},
        {"outputs", {{"type", "array"}, {"items", tensor_meta}}}}}};
  const json model_param = {{"name", "model_name"},
                            {"in", "path"},
                            {"required", true},
                            {"schema", {{"type", "string"}, {"enum", models}}}};
  const json version_param = {{"name", "model_version"},
                              {"in", "path"},
                              {"required", true},
                              {"schema", {{"type", "string"}, {"enum", json::array({kV2Version})}}}};
  auto get_op = [&](const char* id, const char* summary, const json& ok, bool not_ready, bool model, bool secured) {
    json op = {{"summary", summary},
               {"operationId", id},
               {"tags", json::array({"v2"})},
               {"responses", {{"200", {{"description", "OK"}, {"content", json_content(ok)}}}}}};
    if (not_ready) op["responses"]["503"] = {{"description", "warming up or shutting down"}, {"content", err}};
    if (model) op["responses"]["404"] = {{"description", "unknown model or version"}, {"content", err}};
    if (secured) {
      op["security"] = sec;
      if (auth) op["responses"]["401"] = {{"description", "Missing or wrong API key"}, {"content", err}};
    }
    return op;
  };
  const json flag = [](const char* key) {
    return json{{"type", "object"}, {"required", json::array({key})}, {"properties", {{key, {{"type", "boolean"}}}}}};
  }("ready");
  paths["/v2"]["get"] = get_op("v2_server_metadata", "Server metadata (name, version, extensions)",
                               {{"type", "object"}}, false, false, false);
  paths["/v2/health/live"]["get"] =
      get_op("v2_live", "Liveness: 200 while the process serves HTTP",
             {{"type", "object"}, {"required", json::array({"live"})}, {"properties", {{"live", {{"type", "boolean"}}}}}},
             false, false, false);
  paths["/v2/health/ready"]["get"] = get_op("v2_ready", "Readiness: 200 once every model is warmed up", flag, true, false, false);
  for (const bool versioned : {false, true}) {
    const std::string base = std::string("/v2/models/{model_name}") + (versioned ? "/versions/{model_version}" : "");
    const std::string sfx = versioned ? "_version" : "";
    json params = json::array({model_param});
    if (versioned) params.push_back(version_param);
    paths[base]["get"] = get_op(("v2_model_metadata" + sfx).c_str(), "Model metadata: inputs query, documents; output scores",
                                ref("V2ModelMetadata"), false, true, true);
    paths[base]["parameters"] = params;
    paths[base + "/ready"]["get"] = get_op(("v2_model_ready" + sfx).c_str(), "Model readiness",
                                           {{"type", "object"}}, true, true, false);
    paths[base + "/ready"]["parameters"] = params;
    json infer = {
        {"summary", "Scores: FP32 [N], raw logits in input order (Open Inference Protocol v2)"},
        {"operationId", "v2_infer" + sfx},
        {"tags", json::array({"v2"})},
        {"security", sec},
        {"requestBody", {{"required", true}, {"content", json_content(ref("V2InferRequest"))}}},
        {"responses",
         {{"200", {{"description", "scores"}, {"content", json_content(ref("V2InferResponse"))}}},
          {"400", {{"description", "bad request or tensor (named)"}, {"content", err}}},
          {"404", {{"description", "unknown model or version"}, {"content", err}}},
          {"405", {{"description", "Method not allowed (Allow header)"}, {"content", err}}},
          {"408", {{"description", "Request head or body not received in time"}, {"content", err}}},
          {"413", {{"description", "Body over --payload-limit"}, {"content", err}}},
          {"424", {{"description", "Backend (inference) failure"}, {"content", err}}},
          {"429",
           {{"description", "Overloaded: pairs in flight would exceed --max-concurrent-pairs (Retry-After: 1)"},
            {"headers", {{"Retry-After", {{"schema", {{"type", "integer"}}}}}}},
            {"content", err}}},
          {"503", {{"description", "Warming up or shutting down"}, {"content", err}}}}}};
    if (auth) infer["responses"]["401"] = {{"description", "Missing or wrong API key"}, {"content", err}};
    paths[base + "/infer"]["post"] = infer;
    paths[base + "/infer"]["parameters"] = params;
  }
}

}  // namespace

std::string openapi_document(const ServerOptions& opts, const std::vector<std::string>& models) {
  const bool auth = !opts.api_key.empty();
  const bool routing = models.size() > 1;
  const std::string model = models.empty() ? "" : models[0];
  json schemas;
  schemas["TeiRerankRequest"] = request_schema(Dialect::kTei, opts, models);
  schemas["InfinityRerankRequest"] = request_schema(Dialect::kInfinity, opts, models);
  schemas["CohereRerankRequest"] = request_schema(Dialect::kCohere, opts, models);
  schemas["JinaRerankRequest"] = request_schema(Dialect::kJina, opts, models);
  schemas["TeiRank"] = {{"type", "object"},
                        {"required", json::array({"index", "score"})},
                        {"properties",
                         {{"index", {{"type", "integer"}, {"minimum", 0}}},
                          {"score", {{"type", "number"}}},
                          {"text", {{"type", "string"}}}}}};
  schemas["TeiRerankResponse"] = {{"type", "array"}, {"items", ref("TeiRank")}};
  json usage = {{"type", "object"},
                {"required", json::array({"total_tokens"})},
                {"properties", {{"total_tokens", {{"type", "integer"}}}, {"prompt_tokens", {{"type", "integer"}}}}}};
  auto result = [](const json& document) {
    return json{{"type", "object"},
                {"required", json::array({"index", "relevance_score"})},
                {"properties",
                 {{"index", {{"type", "integer"}, {"minimum", 0}}},
                  {"relevance_score", {{"type", "number"}, {"description", "sigmoid of the logit unless raw_scores"}}},
                  {"document", document}}}};
  };
  json text_doc = {{"type", "object"}, {"required", json::array({"text"})}, {"properties", {{"text", {{"type", "string"}}}}}};
  schemas["RerankResult"] = result(text_doc);
  schemas["InfinityRerankResult"] = result({{"type", "string"}});
  schemas["CohereRerankResponse"] = {
      {"type", "object"},
      {"required", json::array({"id", "results", "meta"})},
      {"properties",
       {{"id", {{"type", "string"}}},
        {"results", {{"type", "array"}, {"items", ref("RerankResult")}}},
        {"meta", {{"type", "object"}}}}}};
  schemas["JinaRerankResponse"] = {{"type", "object"},
                                   {"required", json::array({"model", "usage", "results"})},
                                   {"properties",
                                    {{"id", {{"type", "string"}}},
                                     {"model", {{"type", "string"}}},
                                     {"usage", usage},
                                     {"results", {{"type", "array"}, {"items", ref("RerankResult")}}},
                                     {"meta", {{"type", "object"}}}}}};
  schemas["InfinityRerankResponse"] = {
      {"type", "object"},
      {"required", json::array({"object", "results", "model", "usage", "id", "created"})},
      {"properties",
       {{"object", {{"type", "string"}, {"enum", json::array({"rerank"})}}},
        {"id", {{"type", "string"}}},
        {"created", {{"type", "integer"}}},
        {"model", {{"type", "string"}}},
        {"usage", usage},
        {"results", {{"type", "array"}, {"items", ref("InfinityRerankResult")}}}}}};
  schemas["TeiError"] = {{"type", "object"},
                         {"required", json::array({"error", "error_type"})},
                         {"properties", {{"error", {{"type", "string"}}}, {"error_type", {{"type", "string"}}}}}};
  json err_obj = {{"type", "object"},
                  {"required", json::array({"message", "type", "code"})},
                  {"properties",
                   {{"message", {{"type", "string"}}}, {"type", {{"type", "string"}}}, {"code", {{"type", "integer"}}}}}};
  schemas["CohereError"] = {{"type", "object"},
                            {"required", json::array({"message", "error"})},
                            {"properties", {{"message", {{"type", "string"}}}, {"error", err_obj}}}};
  schemas["JinaError"] = {
      {"type", "object"},
      {"required", json::array({"message", "error", "detail"})},
      {"properties", {{"message", {{"type", "string"}}}, {"error", err_obj}, {"detail", {{"type", "string"}}}}}};
  schemas["Info"] = {{"type", "object"}, {"additionalProperties", true}};

  json paths;
  json sec = auth ? json::array({{{"bearer", json::array()}}}) : json::array();
  // /rerank and its aliases: TEI body ("texts"), or Infinity's ("documents").
  json tei_op = {
      {"summary", "Rerank (TEI). A body with `documents` and no `texts` is answered in Infinity's shape."},
      {"tags", json::array({"rerank"})},
      {"requestBody",
       {{"required", true},
        {"content", json_content(any_of({ref("TeiRerankRequest"), ref("InfinityRerankRequest")}))}}},
      {"responses", error_responses(any_of({ref("TeiError"), ref("JinaError")}), auth, false)},
      {"security", sec}};
  tei_op["responses"]["200"] = {
      {"description", "Documents sorted by score, highest first"},
      {"content", json_content(any_of({ref("TeiRerankResponse"), ref("InfinityRerankResponse")}))}};
  if (routing) tei_op["responses"]["404"] = {{"description", "Unknown model"}, {"content", json_content(ref("TeiError"))}};
  paths["/rerank"]["post"] = tei_op;
  paths["/rerank"]["post"]["operationId"] = "rerank";
  paths["/invocations"]["post"] = tei_op;
  paths["/invocations"]["post"]["operationId"] = "rerank_invocations";
  paths["/v2/rerank"]["post"] = {
      {"summary", "Rerank (Cohere v2, as vLLM serves it)"},
      {"operationId", "rerank_cohere_v2"},
      {"tags", json::array({"rerank"})},
      {"requestBody", {{"required", true}, {"content", json_content(ref("CohereRerankRequest"))}}},
      {"responses", error_responses(ref("CohereError"), auth, routing)},
      {"security", sec}};
  paths["/v2/rerank"]["post"]["responses"]["200"] = {{"description", "Sorted results"},
                                                     {"content", json_content(ref("CohereRerankResponse"))}};
  paths["/v1/rerank"]["post"] = {
      {"summary", "Rerank (Jina; also accepts Cohere v1 bodies)"},
      {"operationId", "rerank_jina"},
      {"tags", json::array({"rerank"})},
      {"requestBody", {{"required", true}, {"content", json_content(ref("JinaRerankRequest"))}}},
      {"responses", error_responses(ref("JinaError"), auth, false)},
      {"security", sec}};
  paths["/v1/rerank"]["post"]["responses"]["200"] = {{"description", "Sorted results"},
                                                     {"content", json_content(ref("JinaRerankResponse"))}};
  json health = {{"tags", json::array({"ops"})},
                 {"responses",
                  {{"200", {{"description", "healthy (empty body)"}}},
                   {"503", {{"description", "unhealthy"}, {"content", json_content(ref("TeiError"))}}}}}};
  paths["/health"]["get"] = health;
  paths["/health"]["get"]["summary"] = "200 once the models are loaded and warmed up; 503 before and during shutdown";
  paths["/health"]["get"]["operationId"] = "health";
  paths["/"]["get"] = health;
  paths["/"]["get"]["summary"] = "Same as /health";
  paths["/"]["get"]["operationId"] = "health_root";
  paths["/"]["post"] = tei_op;
  paths["/"]["post"]["operationId"] = "rerank_root";
  json info_params = json::array({{{"name", "model"},
                                   {"in", "query"},
                                   {"required", false},
                                   {"schema", {{"type", "string"}, {"enum", models}}}}});
  paths["/info"]["get"] = {
      {"summary", "Model, dtype, backend, limits and version (TEI /info fields); ?model=NAME for another model"},
      {"operationId", "info"},
      {"tags", json::array({"ops"})},
      {"security", sec},
      {"parameters", info_params},
      {"responses",
       {{"200", {{"description", "info"}, {"content", json_content(ref("Info"))}}},
        {"404", {{"description", "no such model"}, {"content", json_content(ref("TeiError"))}}}}}};
  if (auth) paths["/info"]["get"]["responses"]["401"] = {{"description", "Missing or wrong API key"},
                                                          {"content", json_content(ref("TeiError"))}};
  paths["/metrics"]["get"] = {
      {"summary", "Prometheus metrics (text format 0.0.4), per model"},
      {"operationId", "metrics"},
      {"tags", json::array({"ops"})},
      {"responses", {{"200", {{"description", "metrics"}, {"content", {{"text/plain", {{"schema", {{"type", "string"}}}}}}}}}}}};
  paths["/openapi.json"]["get"] = {
      {"summary", "This document"},
      {"operationId", "openapi"},
      {"tags", json::array({"ops"})},
      {"responses", {{"200", {{"description", "OpenAPI 3 document"}, {"content", json_content({{"type", "object"}})}}}}}};

  add_v2_paths(paths, schemas, opts, models, sec, auth);

  json doc = {{"openapi", "3.0.3"},
              {"info",
               {{"title", "crossrank rerank server"},
                {"version", version()},
                {"description", "Cross-encoder reranking with TEI, Cohere, Jina and Infinity compatible routes, and the "
                                "Open Inference Protocol v2 (KServe, Triton) under /v2/models. Scores are sigmoid(logit) "
                                "computed in double unless raw_scores is set (v2: raw logits unless parameters.normalize). "
                                "Default model: " +
                                    model + "."}}},
              {"servers", json::array({{{"url", "/"}}})},
              {"paths", paths},
              {"components", {{"schemas", schemas}}}};
  if (auth) doc["components"]["securitySchemes"] = {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}};
  return doc.dump(2);
}

}  // namespace crossrank
