// The Open Inference Protocol v2 (KServe / Triton REST) of `crossrank serve`: the wire
// format (src/server/v2.h) directly, then the routes over loopback: health, metadata,
// readiness, infer against Engine::score (JSON and binary tensor data), every bad-tensor
// error, unknown model/version, auth, metrics, several models. The real clients
// (tritonclient, kserve) are driven by scripts/test_kserve_clients.py.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "crossrank/crossrank.h"
#include "server/api.h"
#include "server/server.h"
#include "server/v2.h"
#include <httplib.h>

using namespace crossrank;
using nlohmann::json;

namespace {

Engine& engine() {
  static std::unique_ptr<Engine> e = Engine::open("synthetic:tiny-xlmr");
  return *e;
}

ServerOptions opts() {
  ServerOptions o;
  o.port = 0;
  o.max_length = 512;
  o.keep_alive_seconds = 1;
  o.max_client_batch_size = 8;
  o.served_model_name = "ranker";
  return o;
}

const std::string kQuery = "what is a giant panda?";
const std::vector<std::string> kDocs = {"hi", "The giant panda is a bear species endemic to China.",
                                        "Paris is the capital of France."};

std::vector<double> engine_scores(Engine& e, const std::vector<std::string>& docs, bool normalize) {
  std::vector<Pair> pairs;
  for (const auto& d : docs) pairs.push_back({kQuery, d});
  ScoreOptions so;
  so.max_length = 512;
  so.normalize = normalize;
  return e.score(pairs, so);
}

json tensor(const std::string& name, const json& shape, const json& data, const std::string& dtype = "BYTES") {
  return {{"name", name}, {"datatype", dtype}, {"shape", shape}, {"data", data}};
}

json infer_body(const std::vector<std::string>& docs = kDocs) {
  return {{"inputs", json::array({tensor("query", {1}, {kQuery}), tensor("documents", {docs.size()}, docs)})}};
}

// <uint32 LE length><bytes> per element.
std::string bytes_tensor(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    const auto n = static_cast<std::uint32_t>(s.size());
    for (int k = 0; k < 4; ++k) out += static_cast<char>((n >> (8 * k)) & 0xff);
    out += s;
  }
  return out;
}

// Expects decode_v2_infer to refuse `body` with a 400 whose message contains `needle`.
void expect_bad(const json& body, const std::string& needle) {
  DecodeLimits lim;
  lim.max_documents = 8;
  try {
    decode_v2_infer(body.dump(), std::nullopt, "m", lim);
    ADD_FAILURE() << "accepted: " << body.dump();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 400) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what() << " (wanted: " << needle << ")";
  }
}

httplib::Client client(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(30, 0);
  return c;
}

}  // namespace

TEST(ServerV2, PathParsing) {
  EXPECT_EQ(parse_v2_path("/v2")->route, V2Route::kServerMeta);
  EXPECT_EQ(parse_v2_path("/v2/health/live")->route, V2Route::kLive);
  EXPECT_EQ(parse_v2_path("/v2/health/ready")->route, V2Route::kReady);
  auto p = parse_v2_path("/v2/models/bge%2Dm3/versions/1/infer");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->route, V2Route::kInfer);
  EXPECT_EQ(p->model, "bge-m3");
  EXPECT_EQ(p->version, "1");
  EXPECT_EQ(parse_v2_path("/v2/models/m")->route, V2Route::kModelMeta);
  EXPECT_EQ(parse_v2_path("/v2/models/m/ready")->route, V2Route::kModelReady);
  EXPECT_EQ(parse_v2_path("/v2/models/m/versions/2")->version, "2");
  for (const char* bad : {"/v2/rerank", "/v2/models", "/v2/models/", "/v2/models//infer", "/v2/models/m/config",
                          "/v2/models/m/infer/x", "/v2/models/%zz/infer", "/v2/models/m%2/infer", "/v2/health", "/rerank"})
    EXPECT_FALSE(parse_v2_path(bad)) << bad;
}

TEST(ServerV2, DecodeJsonTensors) {
  DecodeLimits lim;
  V2InferRequest r = decode_v2_infer(infer_body().dump(), std::nullopt, "m", lim);
  EXPECT_EQ(r.rerank.dialect, Dialect::kV2);
  EXPECT_EQ(r.rerank.query, kQuery);
  EXPECT_EQ(r.rerank.documents, kDocs);
  EXPECT_TRUE(r.rerank.raw_scores);
  EXPECT_FALSE(r.binary_output);
  // Parameters, id, nested data (row-major), the outputs field naming scores.
  json b = infer_body();
  b["id"] = "req-7";
  b["parameters"] = {{"normalize", true}, {"instruction", "find pandas"}, {"truncate", false}, {"other", 1}};
  b["inputs"][1]["data"] = json::array({json::array({kDocs[0], kDocs[1]}), json::array({kDocs[2]})});
  b["outputs"] = json::array({{{"name", "scores"}, {"parameters", {{"binary_data", true}}}}});
  r = decode_v2_infer(b.dump(), std::nullopt, "m", lim);
  EXPECT_EQ(r.id, "req-7");
  EXPECT_FALSE(r.rerank.raw_scores);
  EXPECT_EQ(r.rerank.instruction, "find pandas");
  EXPECT_EQ(r.rerank.truncate, std::optional<bool>(false));
  EXPECT_EQ(r.rerank.documents, kDocs);
  EXPECT_TRUE(r.binary_output);
}

TEST(ServerV2, DecodeRefusesBadTensors) {
  expect_bad(json::array(), "JSON object");
  expect_bad(json::object(), "missing `inputs`");
  expect_bad({{"inputs", "x"}}, "`inputs` must be an array");
  json b = infer_body();
  b["inputs"][0]["name"] = "question";
  expect_bad(b, "unexpected input `question`");
  b = infer_body();
  b["inputs"][1] = b["inputs"][0];
  expect_bad(b, "input `query` given twice");
  b = infer_body();
  b["inputs"].erase(1);
  expect_bad(b, "missing input `documents`");
  b = infer_body();
  b["inputs"][0]["datatype"] = "FP32";
  expect_bad(b, "datatype must be BYTES, got FP32");
  b = infer_body();
  b["inputs"][0]["shape"] = {2};
  expect_bad(b, "shape must be [1], got [2]");
  b = infer_body();
  b["inputs"][1]["shape"] = {1, 3};
  expect_bad(b, "shape must be [N] (one dimension)");
  b = infer_body();
  b["inputs"][1]["shape"] = {-1};
  expect_bad(b, "non-negative integers");
  b = infer_body();
  b["inputs"][1]["shape"] = {4};
  expect_bad(b, "needs 4 element(s), `data` has 3");
  b = infer_body();
  b["inputs"][1]["shape"] = {2};
  expect_bad(b, "needs 2 element(s), `data` has more");
  b = infer_body();
  b["inputs"][1]["data"][1] = 5;
  expect_bad(b, "BYTES data must be strings, element 1 is 5");
  b = infer_body();
  b["inputs"][1]["data"][1] = "";
  expect_bad(b, "element 1 is empty");
  b = infer_body();
  b["inputs"][1].erase("data");
  expect_bad(b, "input `documents`: missing `data`");
  b = infer_body();
  b["inputs"][1]["shape"] = {0};
  b["inputs"][1]["data"] = json::array();
  expect_bad(b, "empty");
  b = infer_body(std::vector<std::string>(9, "doc"));
  expect_bad(b, "batch size 9 > maximum allowed batch size 8");
  b = infer_body();
  b["parameters"] = {{"normalize", "yes"}};
  expect_bad(b, "parameter `normalize` must be a boolean");
  b = infer_body();
  b["id"] = 3;
  expect_bad(b, "`id` must be a string");
  b = infer_body();
  b["outputs"] = json::array({{{"name", "logits"}}});
  expect_bad(b, "unknown output `logits`");
  b = infer_body();
  b["inputs"][1]["data"] = json::parse(std::string(20, '[') + "\"x\"" + std::string(20, ']'));
  b["inputs"][1]["shape"] = {1};
  expect_bad(b, "nested deeper");
  b = infer_body();
  b["inputs"][1]["parameters"] = {{"binary_data_size", 4}};
  b["inputs"][1].erase("data");
  expect_bad(b, "without an Inference-Header-Content-Length");
  DecodeLimits lim;
  try {
    decode_v2_infer("{\"inputs\": [", std::nullopt, "m", lim);
    ADD_FAILURE();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 400);
    EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos) << e.what();
  }
}

TEST(ServerV2, BinaryTensorData) {
  json b = infer_body();
  const std::string qbin = bytes_tensor({kQuery}), dbin = bytes_tensor(kDocs);
  b["inputs"][0].erase("data");
  b["inputs"][0]["parameters"] = {{"binary_data_size", qbin.size()}};
  b["inputs"][1].erase("data");
  b["inputs"][1]["parameters"] = {{"binary_data_size", dbin.size()}};
  b["parameters"] = {{"binary_data_output", true}};
  const std::string head = b.dump();
  DecodeLimits lim;
  V2InferRequest r = decode_v2_infer(head + qbin + dbin, head.size(), "m", lim);
  EXPECT_EQ(r.rerank.query, kQuery);
  EXPECT_EQ(r.rerank.documents, kDocs);
  EXPECT_TRUE(r.binary_output);
  auto bad = [&](const std::string& body, std::size_t hl, const std::string& needle) {
    try {
      decode_v2_infer(body, hl, "m", lim);
      ADD_FAILURE() << "accepted";
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status, 400);
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  bad(head + qbin + dbin + "x", head.size(), "binary byte(s) after the JSON header");
  bad(head + qbin + dbin.substr(0, dbin.size() - 1), head.size(), "exceeds the");
  bad(head, head.size() + 5, "exceeds the body");
  std::string broken = dbin;
  broken[0] = static_cast<char>(0xff);  // the first length now runs past the tensor
  bad(head + qbin + broken, head.size(), "declares");
  std::string bad_utf8 = bytes_tensor({"\xff\xfe"});
  json one = b;
  one["inputs"][0]["parameters"]["binary_data_size"] = bad_utf8.size();
  const std::string head1 = one.dump();
  bad(head1 + bad_utf8 + dbin, head1.size(), "not valid UTF-8");

  // Binary output: the JSON header, then N little-endian floats.
  const std::vector<double> scores = {0.5, -1.25};
  V2Response out = encode_v2_infer("id-1", true, "m", scores);
  ASSERT_TRUE(out.header_length);
  const json h = json::parse(out.body.substr(0, *out.header_length));
  EXPECT_EQ(h["id"], "id-1");
  EXPECT_EQ(h["outputs"][0]["parameters"]["binary_data_size"], 8);
  ASSERT_EQ(out.body.size(), *out.header_length + 8);
  float f[2];
  std::memcpy(f, out.body.data() + *out.header_length, 8);
  EXPECT_EQ(f[0], 0.5f);
  EXPECT_EQ(f[1], -1.25f);
  out = encode_v2_infer("", false, "m", scores);
  EXPECT_FALSE(out.header_length);
  const json j = json::parse(out.body);
  EXPECT_FALSE(j.contains("id"));
  EXPECT_EQ(j["outputs"][0]["data"], json::array({0.5, -1.25}));
  EXPECT_EQ(j["outputs"][0]["shape"], json::array({2}));
  EXPECT_EQ(j["outputs"][0]["datatype"], "FP32");
}

TEST(ServerV2, RoutesOverLoopback) {
  Server s(engine(), opts());
  const int port = s.start();
  auto c = client(port);
  for (const char* path : {"/v2/health/live", "/v2/health/ready", "/v2/models/ranker/ready",
                           "/v2/models/ranker/versions/1/ready"}) {
    auto res = c.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 200) << path << res->body;
  }
  auto res = c.Get("/v2");
  ASSERT_TRUE(res);
  EXPECT_EQ(json::parse(res->body)["name"], "crossrank");
  res = c.Get("/v2/models/ranker");
  ASSERT_TRUE(res);
  json meta = json::parse(res->body);
  EXPECT_EQ(meta["name"], "ranker");
  EXPECT_EQ(meta["versions"], json::array({"1"}));
  EXPECT_EQ(meta["platform"], "crossrank");
  EXPECT_EQ(meta["inputs"][0], json({{"name", "query"}, {"datatype", "BYTES"}, {"shape", {1}}}));
  EXPECT_EQ(meta["inputs"][1], json({{"name", "documents"}, {"datatype", "BYTES"}, {"shape", {-1}}}));
  EXPECT_EQ(meta["outputs"][0], json({{"name", "scores"}, {"datatype", "FP32"}, {"shape", {-1}}}));

  // Infer: raw logits in input order, as Engine::score; normalize -> sigmoid; id echoed.
  const std::vector<double> raw = engine_scores(engine(), kDocs, false), sig = engine_scores(engine(), kDocs, true);
  for (const char* path : {"/v2/models/ranker/infer", "/v2/models/ranker/versions/1/infer"}) {
    json b = infer_body();
    b["id"] = "abc";
    res = c.Post(path, b.dump(), "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    const json j = json::parse(res->body);
    EXPECT_EQ(j["model_name"], "ranker");
    EXPECT_EQ(j["model_version"], "1");
    EXPECT_EQ(j["id"], "abc");
    ASSERT_EQ(j["outputs"].size(), 1u);
    EXPECT_EQ(j["outputs"][0]["name"], "scores");
    EXPECT_EQ(j["outputs"][0]["shape"], json::array({kDocs.size()}));
    for (std::size_t i = 0; i < kDocs.size(); ++i)
      EXPECT_NEAR(j["outputs"][0]["data"][i].get<double>(), raw[i], 1e-5 * (1 + std::fabs(raw[i])));
  }
  json b = infer_body();
  b["parameters"] = {{"normalize", true}};
  res = c.Post("/v2/models/ranker/infer", b.dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  for (std::size_t i = 0; i < kDocs.size(); ++i)
    EXPECT_NEAR(json::parse(res->body)["outputs"][0]["data"][i].get<double>(), sig[i], 1e-6);

  // Binary tensor data both ways (what tritonclient sends by default).
  b = infer_body();
  const std::string qbin = bytes_tensor({kQuery}), dbin = bytes_tensor(kDocs);
  b["inputs"][0].erase("data");
  b["inputs"][0]["parameters"] = {{"binary_data_size", qbin.size()}};
  b["inputs"][1].erase("data");
  b["inputs"][1]["parameters"] = {{"binary_data_size", dbin.size()}};
  b["parameters"] = {{"binary_data_output", true}};
  const std::string head = b.dump();
  res = c.Post("/v2/models/ranker/infer", {{"Inference-Header-Content-Length", std::to_string(head.size())}},
               head + qbin + dbin, "application/octet-stream");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  ASSERT_TRUE(res->has_header("Inference-Header-Content-Length"));
  const std::size_t hl = std::stoul(res->get_header_value("Inference-Header-Content-Length"));
  ASSERT_EQ(res->body.size(), hl + 4 * kDocs.size());
  for (std::size_t i = 0; i < kDocs.size(); ++i) {
    float f;
    std::memcpy(&f, res->body.data() + hl + 4 * i, 4);
    EXPECT_NEAR(f, raw[i], 1e-5 * (1 + std::fabs(raw[i])));
  }

  // Errors: {"error": ...} with 400 (bad tensor), 404 (model, version), 405.
  auto expect_error = [&](const httplib::Result& r, int status, const std::string& needle) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << r->body;
    const json j = json::parse(r->body);
    ASSERT_TRUE(j.is_object() && j.contains("error") && j["error"].is_string()) << r->body;
    EXPECT_NE(j["error"].get<std::string>().find(needle), std::string::npos) << r->body;
  };
  b = infer_body();
  b["inputs"][1]["datatype"] = "INT32";
  expect_error(c.Post("/v2/models/ranker/infer", b.dump(), "application/json"), 400, "datatype must be BYTES");
  expect_error(c.Post("/v2/models/ranker/infer", "not json", "application/json"), 400, "not valid JSON");
  expect_error(c.Post("/v2/models/ranker/infer", {{"Inference-Header-Content-Length", "x1"}}, "{}", "application/json"),
               400, "Inference-Header-Content-Length");
  expect_error(c.Post("/v2/models/other/infer", infer_body().dump(), "application/json"), 404,
               "model 'other' is not served here (served: ranker)");
  expect_error(c.Post("/v2/models/ranker/versions/2/infer", infer_body().dump(), "application/json"), 404,
               "has no version '2'");
  expect_error(c.Get("/v2/models/other"), 404, "not served");
  expect_error(c.Get("/v2/models/ranker/infer"), 405, "not allowed");
  expect_error(c.Get("/v2/models/ranker/stats"), 404, "no route");
  // truncate=false on an over-long pair: 400, named.
  ServerOptions small = opts();
  small.max_length = 16;
  Server s2(engine(), small);
  const int port2 = s2.start();
  b = infer_body({std::string(400, 'a') + " panda"});
  b["parameters"] = {{"truncate", false}};
  expect_error(client(port2).Post("/v2/models/ranker/infer", b.dump(), "application/json"), 400, "`documents[0]`");

  // Metrics: one route label for every infer path.
  res = c.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_NE(res->body.find("crossrank_requests_total{route=\"/v2/models/{name}/infer\",outcome=\"success\"} 4"),
            std::string::npos)
      << res->body.substr(0, 3000);
  EXPECT_NE(res->body.find("crossrank_requests_total{route=\"/v2/models/{name}/infer\",outcome=\"validation\"} 3"),
            std::string::npos);
  EXPECT_NE(res->body.find("crossrank_requests_total{route=\"/v2/models/{name}/infer\",outcome=\"not_found\"} 2"),
            std::string::npos);

  // The OpenAPI document lists the routes.
  res = c.Get("/openapi.json");
  ASSERT_TRUE(res);
  const json doc = json::parse(res->body);
  for (const char* p : {"/v2", "/v2/health/live", "/v2/health/ready", "/v2/models/{model_name}",
                        "/v2/models/{model_name}/ready", "/v2/models/{model_name}/infer",
                        "/v2/models/{model_name}/versions/{model_version}/infer"})
    EXPECT_TRUE(doc["paths"].contains(p)) << p;
}

TEST(ServerV2, SeveralModelsAndApiKey) {
  static std::unique_ptr<Engine> bert = Engine::open("synthetic:tiny-bert");
  ServerOptions o = opts();
  o.api_key = "sekret";
  Server s({{"xlmr", &engine()}, {"bert", bert.get()}}, o);
  auto c = client(s.start());
  // Probes need no key; metadata and infer do.
  EXPECT_EQ(c.Get("/v2/health/ready")->status, 200);
  EXPECT_EQ(c.Get("/v2/models/bert/ready")->status, 200);
  EXPECT_EQ(c.Get("/v2/models/bert")->status, 401);
  EXPECT_EQ(c.Post("/v2/models/bert/infer", infer_body().dump(), "application/json")->status, 401);
  const httplib::Headers auth = {{"Authorization", "Bearer sekret"}};
  for (const auto& [name, eng] : std::vector<std::pair<std::string, Engine*>>{{"xlmr", &engine()}, {"bert", bert.get()}}) {
    auto res = c.Get(("/v2/models/" + name).c_str(), auth);
    ASSERT_TRUE(res);
    EXPECT_EQ(json::parse(res->body)["name"], name);
    res = c.Post(("/v2/models/" + name + "/infer").c_str(), auth, infer_body().dump(), "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    const json j = json::parse(res->body);
    EXPECT_EQ(j["model_name"], name);
    const std::vector<double> raw = engine_scores(*eng, kDocs, false);
    for (std::size_t i = 0; i < kDocs.size(); ++i)
      EXPECT_NEAR(j["outputs"][0]["data"][i].get<double>(), raw[i], 1e-5 * (1 + std::fabs(raw[i]))) << name;
  }
  EXPECT_EQ(c.Post("/v2/models/nope/infer", auth, infer_body().dump(), "application/json")->status, 404);
}
