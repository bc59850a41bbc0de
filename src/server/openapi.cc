// The OpenAPI 3.0 document served at GET /openapi.json (and TEI's /api-doc/openapi.json).
#include <nlohmann/json.hpp>

#include "server/server.h"

namespace crossrank {

using nlohmann::json;

namespace {

json ref(const std::string& name) { return {{"$ref", "#/components/schemas/" + name}}; }

json json_content(const json& schema) { return {{"application/json", {{"schema", schema}}}}; }

json error_responses(const std::string& err, bool auth) {
  json r = {
      {"400", {{"description", "Empty document list (`Empty`)"}, {"content", json_content(ref(err))}}},
      {"413", {{"description", "Body over --payload-limit"}, {"content", json_content(ref(err))}}},
      {"422",
       {{"description", "Validation: malformed JSON, invalid UTF-8, wrong field type (named), too many documents, "
                        "empty query/document, query over 250 bytes per token of --max-length, over-long input with "
                        "truncate=false"},
        {"content", json_content(ref(err))}}},
      {"424", {{"description", "Backend (inference) failure"}, {"content", json_content(ref(err))}}},
      {"429",
       {{"description", "Overloaded: pairs in flight would exceed --max-concurrent-pairs (Retry-After: 1)"},
        {"headers", {{"Retry-After", {{"schema", {{"type", "integer"}}}}}}},
        {"content", json_content(ref(err))}}},
      {"503", {{"description", "Shutting down"}, {"content", json_content(ref(err))}}},
  };
  if (auth) r["401"] = {{"description", "Missing or wrong API key"}, {"content", json_content(ref(err))}};
  return r;
}

json documents_schema() {
  return {{"type", "array"},
          {"minItems", 1},
          {"items",
           {{"oneOf",
             json::array({{{"type", "string"}, {"minLength", 1}},
                          {{"type", "object"},
                           {"required", json::array({"text"})},
                           {"properties", {{"text", {{"type", "string"}, {"minLength", 1}}}}}}})}}}};
}

}  // namespace

std::string openapi_document(const ServerOptions& opts, const std::vector<std::string>& models) {
  const std::string model = models.empty() ? "" : models[0];
  const bool auth = !opts.api_key.empty();
  json schemas;
  schemas["TeiRerankRequest"] = {
      {"type", "object"},
      {"required", json::array({"query", "texts"})},
      {"properties",
       {{"query", {{"type", "string"}, {"minLength", 1}, {"example", "What is Deep Learning?"}}},
        {"texts",
         {{"type", "array"},
          {"minItems", 1},
          {"maxItems", opts.max_client_batch_size},
          {"items", {{"type", "string"}, {"minLength", 1}}},
          {"example", json::array({"Deep Learning is ...", "cheese is made of milk"})}}},
        {"raw_scores", {{"type", "boolean"}, {"default", false}, {"description", "raw logits instead of sigmoid"}}},
        {"return_text", {{"type", "boolean"}, {"default", false}}},
        {"truncate",
         {{"type", "boolean"},
          {"nullable", true},
          {"default", true},
          {"description", "false: inputs longer than max_input_length are rejected (422)"}}},
        {"truncation_direction",
         {{"type", "string"},
          {"enum", json::array({"right", "Right", "left", "Left"})},
          {"default", "right"},
          {"description", "only right is supported (left -> 422)"}}},
        {"top_n", {{"type", "integer"}, {"minimum", 0}, {"description", "extension: keep the best n (0 = all)"}}}}}};
  schemas["TeiRank"] = {{"type", "object"},
                        {"required", json::array({"index", "score"})},
                        {"properties",
                         {{"index", {{"type", "integer"}, {"minimum", 0}}},
                          {"score", {{"type", "number"}}},
                          {"text", {{"type", "string"}}}}}};
  schemas["TeiRerankResponse"] = {{"type", "array"}, {"items", ref("TeiRank")}};
  schemas["TeiError"] = {
      {"type", "object"},
      {"required", json::array({"error", "error_type"})},
      {"properties",
       {{"error", {{"type", "string"}}},
        {"error_type",
         {{"type", "string"},
          {"enum", json::array({"Validation", "Empty", "PayloadTooLarge", "Unauthorized", "NotFound", "Overloaded",
                                "Backend", "Unhealthy", "Internal"})}}}}}};
  schemas["CohereRerankRequest"] = {
      {"type", "object"},
      {"required", json::array({"query", "documents"})},
      {"properties",
       {{"model", {{"type", "string"}, {"example", model}, {"description", "accepted, not checked"}}},
        {"query", {{"type", "string"}, {"minLength", 1}}},
        {"documents", documents_schema()},
        {"top_n", {{"type", "integer"}, {"minimum", 0}, {"description", "0 or absent = all"}}},
        {"max_tokens_per_doc", {{"type", "integer"}, {"minimum", 1}}},
        {"return_documents", {{"type", "boolean"}, {"default", false}}}}}};
  json result = {{"type", "object"},
                 {"required", json::array({"index", "relevance_score"})},
                 {"properties",
                  {{"index", {{"type", "integer"}, {"minimum", 0}}},
                   {"relevance_score", {{"type", "number"}, {"description", "sigmoid of the logit"}}},
                   {"document", {{"type", "object"}, {"properties", {{"text", {{"type", "string"}}}}}}}}}};
  schemas["RerankResult"] = result;
  schemas["CohereRerankResponse"] = {
      {"type", "object"},
      {"required", json::array({"id", "results", "meta"})},
      {"properties",
       {{"id", {{"type", "string"}}},
        {"results", {{"type", "array"}, {"items", ref("RerankResult")}}},
        {"meta",
         {{"type", "object"},
          {"properties",
           {{"api_version", {{"type", "object"}}},
            {"billed_units", {{"type", "object"}}},
            {"tokens",
             {{"type", "object"},
              {"properties", {{"input_tokens", {{"type", "integer"}}}, {"output_tokens", {{"type", "integer"}}}}}}}}}}}}}};
  schemas["JinaRerankRequest"] = {
      {"type", "object"},
      {"required", json::array({"query", "documents"})},
      {"properties",
       {{"model", {{"type", "string"}, {"example", model}}},
        {"query", {{"type", "string"}, {"minLength", 1}}},
        {"documents", documents_schema()},
        {"top_n", {{"type", "integer"}, {"minimum", 0}}},
        {"return_documents", {{"type", "boolean"}, {"default", true}}}}}};
  schemas["JinaRerankResponse"] = {
      {"type", "object"},
      {"required", json::array({"model", "usage", "results"})},
      {"properties",
       {{"id", {{"type", "string"}}},
        {"model", {{"type", "string"}}},
        {"usage",
         {{"type", "object"},
          {"properties", {{"total_tokens", {{"type", "integer"}}}, {"prompt_tokens", {{"type", "integer"}}}}}}},
        {"results", {{"type", "array"}, {"items", ref("RerankResult")}}},
        {"meta", {{"type", "object"}}}}}};
  schemas["CohereError"] = {
      {"type", "object"},
      {"required", json::array({"message", "error"})},
      {"properties",
       {{"message", {{"type", "string"}}},
        {"error",
         {{"type", "object"},
          {"properties",
           {{"message", {{"type", "string"}}}, {"type", {{"type", "string"}}}, {"code", {{"type", "integer"}}}}}}}}}};
  schemas["Info"] = {{"type", "object"}, {"additionalProperties", true}};

  json paths;
  json sec = auth ? json::array({{{"bearer", json::array()}}}) : json::array();
  json tei_op = {
      {"summary", "Rerank (TEI). A body with `documents` and no `texts` is answered in the Jina shape."},
      {"tags", json::array({"rerank"})},
      {"requestBody",
       {{"required", true},
        {"content", json_content({{"oneOf", json::array({ref("TeiRerankRequest"), ref("JinaRerankRequest")})}})}}},
      {"responses", error_responses("TeiError", auth)},
      {"security", sec}};
  tei_op["responses"]["200"] = {
      {"description", "Documents sorted by score, highest first"},
      {"content", json_content({{"oneOf", json::array({ref("TeiRerankResponse"), ref("JinaRerankResponse")})}})}};
  paths["/rerank"]["post"] = tei_op;
  paths["/rerank"]["post"]["operationId"] = "rerank";
  paths["/"]["post"] = tei_op;
  paths["/"]["post"]["operationId"] = "rerank_root";
  paths["/invocations"]["post"] = tei_op;
  paths["/invocations"]["post"]["operationId"] = "rerank_invocations";
  paths["/v2/rerank"]["post"] = {
      {"summary", "Rerank (Cohere v2, as vLLM serves it)"},
      {"operationId", "rerank_cohere_v2"},
      {"tags", json::array({"rerank"})},
      {"requestBody", {{"required", true}, {"content", json_content(ref("CohereRerankRequest"))}}},
      {"responses", error_responses("CohereError", auth)},
      {"security", sec}};
  paths["/v2/rerank"]["post"]["responses"]["200"] = {{"description", "Sorted results"},
                                                     {"content", json_content(ref("CohereRerankResponse"))}};
  paths["/v1/rerank"]["post"] = {
      {"summary", "Rerank (Jina; also accepts Cohere v1 bodies)"},
      {"operationId", "rerank_jina"},
      {"tags", json::array({"rerank"})},
      {"requestBody", {{"required", true}, {"content", json_content(ref("JinaRerankRequest"))}}},
      {"responses", error_responses("CohereError", auth)},
      {"security", sec}};
  paths["/v1/rerank"]["post"]["responses"]["200"] = {{"description", "Sorted results"},
                                                     {"content", json_content(ref("JinaRerankResponse"))}};
  paths["/health"]["get"] = {
      {"summary", "200 with an empty body once the model is loaded and warmed up; 503 before and during shutdown"},
      {"operationId", "health"},
      {"tags", json::array({"ops"})},
      {"responses",
       {{"200", {{"description", "healthy"}}},
        {"503", {{"description", "unhealthy"}, {"content", json_content(ref("TeiError"))}}}}}};
  paths["/info"]["get"] = {
      {"summary", "Model, dtype, backend, limits and version (TEI /info fields where they apply)"},
      {"operationId", "info"},
      {"tags", json::array({"ops"})},
      {"security", sec},
      {"responses", {{"200", {{"description", "info"}, {"content", json_content(ref("Info"))}}}}}};
  paths["/metrics"]["get"] = {
      {"summary", "Prometheus metrics (text format 0.0.4)"},
      {"operationId", "metrics"},
      {"tags", json::array({"ops"})},
      {"responses", {{"200", {{"description", "metrics"}, {"content", {{"text/plain", {{"schema", {{"type", "string"}}}}}}}}}}}};
  paths["/openapi.json"]["get"] = {
      {"summary", "This document"},
      {"operationId", "openapi"},
      {"tags", json::array({"ops"})},
      {"responses", {{"200", {{"description", "OpenAPI 3 document"}, {"content", json_content({{"type", "object"}})}}}}}};

  json doc = {{"openapi", "3.0.3"},
              {"info",
               {{"title", "crossrank rerank server"},
                {"version", version()},
                {"description", "Cross-encoder reranking with TEI, Cohere v2 and Jina compatible routes. Scores are "
                                "sigmoid(logit) computed in double unless raw_scores (TEI) is set."}}},
              {"servers", json::array({{{"url", "/"}}})},
              {"paths", paths},
              {"components", {{"schemas", schemas}}}};
  if (auth) doc["components"]["securitySchemes"] = {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}};
  return doc.dump(2);
}

}  // namespace crossrank
