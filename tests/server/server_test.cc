// `crossrank serve` over real sockets on 127.0.0.1 (ephemeral ports): every dialect's
// happy path against Engine::score, every error path's status and body shape, metrics,
// the score cache, admission control (429), client disconnects, backend failures,
// concurrency and graceful stop (tests/server/server_test_util.h: the gated Engine wrapper).
#include "server_test_util.h"

using namespace server_test;

TEST(Server, TeiRerankMatchesEngineScore) {
  auto s = start(shared_engine());
  auto c = s.client();
  const auto sig = engine_scores(kQuery, kDocs, true);
  const auto raw = engine_scores(kQuery, kDocs, false);

  json r = post_json(c, "/rerank", {{"query", kQuery}, {"texts", kDocs}, {"return_text", true}}, 200);
  ASSERT_TRUE(r.is_array());
  ASSERT_EQ(r.size(), kDocs.size());
  double prev = INFINITY;
  std::vector<bool> seen(kDocs.size());
  for (const auto& x : r) {
    const std::size_t i = x["index"];
    ASSERT_LT(i, kDocs.size());
    seen[i] = true;
    EXPECT_NEAR(x["score"].get<double>(), sig[i], 1e-6);
    EXPECT_EQ(x["text"], kDocs[i]);
    EXPECT_LE(x["score"].get<double>(), prev);  // sorted, highest first
    prev = x["score"];
  }
  for (bool b : seen) EXPECT_TRUE(b);

  json rr = post_json(c, "/rerank", {{"query", kQuery}, {"texts", kDocs}, {"raw_scores", true}}, 200);
  ASSERT_EQ(rr.size(), kDocs.size());
  for (const auto& x : rr) {
    EXPECT_NEAR(x["score"].get<double>(), raw[x["index"].get<std::size_t>()], 1e-5);
    EXPECT_FALSE(x.contains("text"));
  }
  // Sigmoid is computed in double from the fp32 logit.
  EXPECT_NEAR(r[0]["score"].get<double>(), sigmoid(rr[0]["score"].get<double>()), 1e-6);

  // TEI aliases; top_n is honoured as an extension.
  json a = post_json(c, "/", {{"query", kQuery}, {"texts", kDocs}, {"top_n", 2}}, 200);
  EXPECT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0]["index"], r[0]["index"]);
  json b = post_json(c, "/invocations", {{"query", kQuery}, {"texts", kDocs}}, 200);
  EXPECT_EQ(b.size(), kDocs.size());
}

TEST(Server, CohereV2Shape) {
  auto s = start(shared_engine());
  auto c = s.client();
  const auto sig = engine_scores(kQuery, kDocs, true);
  json r = post_json(c, "/v2/rerank",
                     {{"model", "anything"}, {"query", kQuery}, {"documents", kDocs}, {"top_n", 3}}, 200);
  ASSERT_TRUE(r.is_object());
  EXPECT_TRUE(r["id"].is_string());
  EXPECT_EQ(r["meta"]["api_version"]["version"], "2");
  EXPECT_EQ(r["meta"]["billed_units"]["search_units"], 1);
  EXPECT_GT(r["meta"]["tokens"]["input_tokens"].get<int>(), 0);
  ASSERT_EQ(r["results"].size(), 3u);
  std::vector<double> sorted = sig;
  std::sort(sorted.rbegin(), sorted.rend());
  for (std::size_t k = 0; k < 3; ++k) {
    const auto& x = r["results"][k];
    EXPECT_NEAR(x["relevance_score"].get<double>(), sig[x["index"].get<std::size_t>()], 1e-6);
    EXPECT_NEAR(x["relevance_score"].get<double>(), sorted[k], 1e-6);
    EXPECT_FALSE(x.contains("document"));
  }
  // max_tokens_per_doc caps the documents' tokens.
  json full = post_json(c, "/v2/rerank", {{"query", kQuery}, {"documents", kDocs}}, 200);
  json capped = post_json(c, "/v2/rerank", {{"query", kQuery}, {"documents", kDocs}, {"max_tokens_per_doc", 2}}, 200);
  EXPECT_LT(capped["meta"]["tokens"]["input_tokens"].get<int>(), full["meta"]["tokens"]["input_tokens"].get<int>());
  EXPECT_EQ(full["results"].size(), kDocs.size());
  // A cap at least as long as every document changes nothing.
  json same = post_json(c, "/v2/rerank", {{"query", kQuery}, {"documents", kDocs}, {"max_tokens_per_doc", 400}}, 200);
  for (std::size_t k = 0; k < kDocs.size(); ++k) {
    EXPECT_EQ(same["results"][k]["index"], full["results"][k]["index"]);
    EXPECT_NEAR(same["results"][k]["relevance_score"].get<double>(),
                full["results"][k]["relevance_score"].get<double>(), 1e-6);
  }
}

TEST(Server, JinaShapeOnV1AndOnRerankWithDocuments) {
  auto s = start(shared_engine());
  auto c = s.client();
  const auto sig = engine_scores(kQuery, kDocs, true);
  json docs = json::array();
  for (std::size_t i = 0; i < kDocs.size(); ++i) docs.push_back(i % 2 ? json(kDocs[i]) : json{{"text", kDocs[i]}});
  json r = post_json(c, "/v1/rerank", {{"model", "m"}, {"query", kQuery}, {"documents", docs}, {"top_n", 2}}, 200);
  EXPECT_EQ(r["model"], kModel);
  EXPECT_GT(r["usage"]["total_tokens"].get<int>(), 0);
  EXPECT_EQ(r["usage"]["total_tokens"], r["usage"]["prompt_tokens"]);
  ASSERT_EQ(r["results"].size(), 2u);
  for (const auto& x : r["results"]) {
    const std::size_t i = x["index"];
    EXPECT_NEAR(x["relevance_score"].get<double>(), sig[i], 1e-6);
    EXPECT_EQ(x["document"]["text"], kDocs[i]);  // Jina returns documents by default
  }
  json nodocs = post_json(c, "/v1/rerank", {{"query", kQuery}, {"documents", kDocs}, {"return_documents", false}}, 200);
  ASSERT_EQ(nodocs["results"].size(), kDocs.size());
  EXPECT_FALSE(nodocs["results"][0].contains("document"));
  // /rerank decides by the body's keys: "documents" -> Jina shape (RAGFlow, llama.cpp clients).
  json viarerank = post_json(c, "/rerank", {{"model", "m"}, {"query", kQuery}, {"documents", kDocs}, {"top_n", 5}}, 200);
  ASSERT_TRUE(viarerank.is_object());
  ASSERT_EQ(viarerank["results"].size(), kDocs.size());
  EXPECT_EQ(viarerank["results"][0]["index"], r["results"][0]["index"]);
}

TEST(Server, ErrorStatusesAndShapes) {
  ServerOptions o = test_options();
  o.max_client_batch_size = 3;
  o.max_concurrent_pairs = 16;
  o.payload_limit = 4096;
  o.max_length = 16;
  auto s = start(shared_engine(), o);
  auto c = s.client();
  const std::vector<std::string> three = {"a", "b", "c"};
  // Too many documents -> 422 naming the limit.
  expect_tei_error(post_json(c, "/rerank", {{"query", "q"}, {"texts", {"a", "b", "c", "d"}}}, 422), "Validation",
                   "maximum allowed batch size 3");
  expect_cohere_error(post_json(c, "/v2/rerank", {{"query", "q"}, {"documents", {"a", "b", "c", "d"}}}, 422), 422,
                      "batch size 3");
  // Empty list -> 400 Empty.
  expect_tei_error(post_json(c, "/rerank", {{"query", "q"}, {"texts", json::array()}}, 400), "Empty");
  expect_cohere_error(post_json(c, "/v1/rerank", {{"query", "q"}, {"documents", json::array()}}, 400), 400);
  // Empty query, empty document -> 422.
  expect_tei_error(post_json(c, "/rerank", {{"query", ""}, {"texts", three}}, 422), "Validation", "`query`");
  expect_tei_error(post_json(c, "/rerank", {{"query", "q"}, {"texts", {"a", ""}}}, 422), "Validation", "`texts[1]`");
  // Wrong field types -> 422 naming the field.
  expect_tei_error(post_json(c, "/rerank", {{"query", 3}, {"texts", three}}, 422), "Validation", "`query`");
  expect_tei_error(post_json(c, "/rerank", {{"query", "q"}, {"texts", "abc"}}, 422), "Validation", "`texts`");
  expect_tei_error(post_json(c, "/rerank", {{"query", "q"}, {"texts", {"a", 1}}}, 422), "Validation", "`texts[1]`");
  expect_tei_error(post_json(c, "/rerank", {{"query", "q"}, {"texts", three}, {"raw_scores", "yes"}}, 422),
                   "Validation", "`raw_scores`");
  expect_tei_error(post_json(c, "/rerank", {{"query", "q"}}, 422), "Validation", "missing field `texts`");
  expect_cohere_error(post_json(c, "/v2/rerank", {{"query", "q"}, {"documents", three}, {"top_n", "2"}}, 422), 422,
                      "`top_n`");
  expect_cohere_error(post_json(c, "/v2/rerank", {{"query", "q"}, {"documents", three}, {"top_n", -1}}, 422), 422,
                      "`top_n`");
  expect_cohere_error(post_json(c, "/v2/rerank", {{"query", "q"}, {"documents", three}, {"max_tokens_per_doc", 0}}, 422),
                      422, "`max_tokens_per_doc`");
  expect_cohere_error(post_json(c, "/v1/rerank", {{"query", "q"}, {"documents", {json{{"txt", "a"}}}}}, 422), 422,
                      "`documents[0]`");
  expect_cohere_error(post_json(c, "/v1/rerank", json::array({1, 2}), 422), 422, "JSON object");
  // Malformed JSON and invalid UTF-8 -> 422.
  {
    auto res = c.Post("/rerank", "{\"query\": \"q\", \"texts\": [", "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 422);
    expect_tei_error(json::parse(res->body), "Validation", "not valid JSON");
    auto res2 = c.Post("/v2/rerank", std::string("{\"query\": \"q\", \"documents\": [\"\xff\xfe\"]}"), "application/json");
    ASSERT_TRUE(res2);
    EXPECT_EQ(res2->status, 422);
    expect_cohere_error(json::parse(res2->body), 422, "UTF-8");
    auto res3 = c.Post("/rerank", "", "application/json");
    ASSERT_TRUE(res3);
    EXPECT_EQ(res3->status, 422);
  }
  // Body over --payload-limit -> 413 in the route's shape.
  {
    const std::string big = json{{"query", "q"}, {"texts", {std::string(5000, 'x')}}}.dump();
    auto res = c.Post("/rerank", big, "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 413);
    expect_tei_error(json::parse(res->body), "PayloadTooLarge", "4096");
    auto res2 = c.Post("/v2/rerank", big, "application/json");
    ASSERT_TRUE(res2);
    EXPECT_EQ(res2->status, 413);
    expect_cohere_error(json::parse(res2->body), 413, "--payload-limit");
  }
  // truncate=false with an over-long pair -> 422 naming the limit; default truncates.
  const std::string longdoc = "the giant panda eats bamboo in the mountains of central china every single day";
  expect_tei_error(post_json(c, "/rerank", {{"query", "q"}, {"texts", {longdoc}}, {"truncate", false}}, 422),
                   "Validation", "at most 16 tokens");
  post_json(c, "/rerank", {{"query", "q"}, {"texts", {longdoc}}}, 200);
  post_json(c, "/rerank", {{"query", "q"}, {"texts", {"short"}}, {"truncate", false}}, 200);
  expect_tei_error(post_json(c, "/rerank", {{"query", "q"}, {"texts", three}, {"truncation_direction", "up"}}, 422),
                   "Validation", "`truncation_direction` must be one of");
  post_json(c, "/rerank", {{"query", "q"}, {"texts", three}, {"truncation_direction", "Right"}}, 200);
  post_json(c, "/rerank", {{"query", "q"}, {"texts", three}, {"truncation_direction", "Left"}}, 200);
  // Integers above the documented maximum -> 422 naming the field.
  expect_cohere_error(post_json(c, "/v2/rerank", {{"query", "q"}, {"documents", three}, {"top_n", 1ull << 40}}, 422), 422,
                      "`top_n` must be <=");
  // An outsized query (250 bytes per token of --max-length) -> 422.
  expect_tei_error(post_json(c, "/rerank", {{"query", std::string(4001, 'a')}, {"texts", {"a"}}}, 422), "Validation",
                   "`query` is too long");
  // Unknown route -> 404 JSON.
  expect_tei_error(post_json(c, "/nope", {{"query", "q"}}, 404), "NotFound");
  // Every failure was counted by outcome.
  const std::string m = metrics_text(c);
  EXPECT_GE(metric(m, "crossrank_requests_total{route=\"/rerank\",outcome=\"validation\"}"), 8);
  EXPECT_EQ(metric(m, "crossrank_requests_total{route=\"/rerank\",outcome=\"empty\"}"), 1);
  EXPECT_EQ(metric(m, "crossrank_requests_total{route=\"/rerank\",outcome=\"too_large\"}"), 1);
}

TEST(Server, ApiKey) {
  ServerOptions o = test_options();
  o.api_key = "sekret";
  auto s = start(shared_engine(), o);
  auto c = s.client();
  const json body = {{"query", "q"}, {"texts", {"a"}}};
  expect_tei_error(post_json(c, "/rerank", body, 401), "Unauthorized");
  expect_tei_error(post_json(c, "/rerank", body, 401, {{"Authorization", "Bearer wrong"}}), "Unauthorized");
  expect_cohere_error(post_json(c, "/v2/rerank", {{"query", "q"}, {"documents", {"a"}}}, 401, {{"Authorization", "sekret"}}),
                      401);
  post_json(c, "/rerank", body, 200, {{"Authorization", "Bearer sekret"}});
  auto info = c.Get("/info");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->status, 401);
  auto h = c.Get("/health");  // probes need no key
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
}

TEST(Server, HealthInfoOpenApi) {
  auto s = start(shared_engine());
  auto c = s.client();
  EXPECT_TRUE(s.server->ready());
  auto h = c.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_TRUE(h->body.empty());
  auto i = c.Get("/info");
  ASSERT_TRUE(i);
  ASSERT_EQ(i->status, 200);
  json info = json::parse(i->body);
  EXPECT_EQ(info["model_id"], kModel);
  EXPECT_EQ(info["max_input_length"], 512);
  EXPECT_EQ(info["max_batch_tokens"], 2048);  // auto on CPU: max(2048, max_length)
  EXPECT_EQ(info["max_client_batch_size"], 1000);
  EXPECT_EQ(info["version"], version());
  EXPECT_TRUE(info["model_type"].contains("reranker"));
  EXPECT_EQ(info["model_dtype"], "fp32");
  auto d = c.Get("/openapi.json");
  ASSERT_TRUE(d);
  ASSERT_EQ(d->status, 200);
  json doc = json::parse(d->body);
  EXPECT_EQ(doc["openapi"], "3.0.3");
  for (const char* p : {"/rerank", "/v1/rerank", "/v2/rerank", "/health", "/info", "/metrics"})
    EXPECT_TRUE(doc["paths"].contains(p)) << p;
  EXPECT_TRUE(doc["components"]["schemas"].contains("TeiRerankRequest"));
}

TEST(Server, MetricsAndCacheHits) {
  auto s = start(shared_engine());
  auto c = s.client();
  const std::string m0 = metrics_text(c);
  for (const char* name : {"crossrank_requests_total", "crossrank_pairs_total", "crossrank_queue_size",
                           "crossrank_batch_size_bucket", "crossrank_batch_tokens_bucket",
                           "crossrank_queue_duration_seconds_bucket", "crossrank_inference_duration_seconds_bucket",
                           "crossrank_request_duration_seconds_bucket", "crossrank_cache_hits_total",
                           "crossrank_cache_misses_total", "crossrank_dropped_pairs_total"})
    EXPECT_NE(m0.find(name), std::string::npos) << name;
  EXPECT_EQ(metric(m0, "crossrank_requests_total{route=\"/rerank\",outcome=\"success\"}"), 0);
  const json body = {{"query", "cache me"}, {"texts", kDocs}};
  auto r1 = c.Post("/rerank", body.dump(), "application/json");
  ASSERT_TRUE(r1);
  ASSERT_EQ(r1->status, 200);
  EXPECT_EQ(r1->get_header_value("x-cache-hits"), "0");
  auto r2 = c.Post("/rerank", body.dump(), "application/json");
  ASSERT_TRUE(r2);
  ASSERT_EQ(r2->status, 200);
  EXPECT_EQ(r2->get_header_value("x-cache-hits"), std::to_string(kDocs.size()));
  EXPECT_EQ(r1->body, r2->body);  // same scores, same order
  const std::string m1 = metrics_text(c);
  EXPECT_EQ(metric(m1, "crossrank_requests_total{route=\"/rerank\",outcome=\"success\"}"), 2);
  EXPECT_EQ(metric(m1, "crossrank_pairs_total{route=\"/rerank\",outcome=\"success\"}"), 2.0 * kDocs.size());
  EXPECT_EQ(metric(m1, "crossrank_cache_hits_total") - metric(m0, "crossrank_cache_hits_total"), kDocs.size());
  EXPECT_EQ(metric(m1, "crossrank_cache_misses_total") - metric(m0, "crossrank_cache_misses_total"), kDocs.size());
  EXPECT_GT(metric(m1, "crossrank_batch_size_count"), metric(m0, "crossrank_batch_size_count"));
  EXPECT_EQ(metric(m1, "crossrank_request_duration_seconds_count"), 2);
  // Different settings (a raw-score request shares the logit; truncate=false does not).
  auto r3 = c.Post("/rerank", json{{"query", "cache me"}, {"texts", kDocs}, {"truncate", false}}.dump(), "application/json");
  ASSERT_TRUE(r3);
  EXPECT_EQ(r3->get_header_value("x-cache-hits"), "0");
  auto r4 = c.Post("/rerank", json{{"query", "cache me"}, {"texts", kDocs}, {"raw_scores", true}}.dump(), "application/json");
  ASSERT_TRUE(r4);
  EXPECT_EQ(r4->get_header_value("x-cache-hits"), std::to_string(kDocs.size()));
}

TEST(Server, CacheOffStillScores) {
  ServerOptions o = test_options();
  o.cache_mb = 0;
  auto s = start(shared_engine(), o);
  auto c = s.client();
  const json body = {{"query", "q"}, {"texts", kDocs}};
  auto r1 = c.Post("/rerank", body.dump(), "application/json");
  auto r2 = c.Post("/rerank", body.dump(), "application/json");
  ASSERT_TRUE(r1 && r2);
  EXPECT_EQ(r2->get_header_value("x-cache-hits"), "0");
  EXPECT_EQ(r1->body, r2->body);
}

TEST(Server, BatchEqualsSingle) {
  ServerOptions o = test_options();
  o.cache_mb = 0;
  auto s = start(shared_engine(), o);
  auto c = s.client();
  json batch = post_json(c, "/rerank", {{"query", kQuery}, {"texts", kDocs}, {"raw_scores", true}}, 200);
  std::vector<double> from_batch(kDocs.size());
  for (const auto& x : batch) from_batch[x["index"].get<std::size_t>()] = x["score"];
  for (std::size_t i = 0; i < kDocs.size(); ++i) {
    json one = post_json(c, "/rerank", {{"query", kQuery}, {"texts", {kDocs[i]}}, {"raw_scores", true}}, 200);
    ASSERT_EQ(one.size(), 1u);
    EXPECT_NEAR(one[0]["score"].get<double>(), from_batch[i], 1e-5) << i;
  }
}

TEST(Server, ConcurrentClientsGetCorrectResults) {
  ServerOptions o = test_options();
  o.cache_mb = 0;
  o.max_batch_tokens = 2048;  // several passes, mixed across requests
  auto s = start(shared_engine(), o);
  constexpr int kThreads = 16, kDocsPer = 20;
  std::vector<std::string> queries;
  std::vector<std::vector<std::string>> docs(kThreads);
  std::vector<std::vector<double>> expected(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    queries.push_back("query number " + std::to_string(t) + " about pandas");
    for (int k = 0; k < kDocsPer; ++k) {
      std::string d = "document " + std::to_string(k) + " for client " + std::to_string(t);
      for (int w = 0; w < (k * 7 + t) % 23; ++w) d += " bamboo forest";
      docs[t].push_back(d);
    }
    expected[t] = engine_scores(queries[t], docs[t], true);
  }
  std::atomic<int> ok{0};
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> th;
  for (int t = 0; t < kThreads; ++t) {
    th.emplace_back([&, t] {
      auto c = s.client();
      for (int rep = 0; rep < 2; ++rep) {
        auto res = c.Post("/rerank", json{{"query", queries[t]}, {"texts", docs[t]}}.dump(), "application/json");
        if (!res || res->status != 200) {
          failures[t] = res ? res->body : "no response: " + httplib::to_string(res.error()) + " (rep " +
                                              std::to_string(rep) + ")";
          return;
        }
        json r = json::parse(res->body);
        if (r.size() != static_cast<std::size_t>(kDocsPer)) {
          failures[t] = "wrong size";
          return;
        }
        for (const auto& x : r) {
          const double want = expected[t][x["index"].get<std::size_t>()];
          if (std::fabs(x["score"].get<double>() - want) > 1e-6) {
            failures[t] = "score mismatch " + x.dump() + " want " + std::to_string(want);
            return;
          }
        }
        ++ok;
      }
    });
  }
  for (auto& x : th) x.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_TRUE(failures[t].empty()) << t << ": " << failures[t];
  EXPECT_EQ(ok.load(), 2 * kThreads);
  expect_permits_returned(*s.server);
}

TEST(Server, OverloadGives429WithRetryAfter) {
  GatedEngine g(shared_engine());
  ServerOptions o = test_options();
  o.max_client_batch_size = 4;
  o.max_concurrent_pairs = 4;
  o.cache_mb = 0;
  auto s = start(g, o);
  g.close();
  const int before = g.entered();
  std::thread holder([&] {
    auto c = s.client();
    post_json(c, "/rerank", {{"query", "q"}, {"texts", {"a", "b", "c"}}}, 200);
  });
  ASSERT_TRUE(g.wait_entered(before + 1));  // 3 pairs admitted, held in forward()
  auto c = s.client();
  auto res = c.Post("/rerank", json{{"query", "q"}, {"texts", {"x", "y"}}}.dump(), "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 429);
  EXPECT_EQ(res->get_header_value("Retry-After"), "1");
  expect_tei_error(json::parse(res->body), "Overloaded", "--max-concurrent-pairs");
  expect_cohere_error(post_json(c, "/v2/rerank", {{"query", "q"}, {"documents", {"x", "y"}}}, 429), 429);
  g.open();
  holder.join();
  EXPECT_EQ(metric(metrics_text(c), "crossrank_requests_total{route=\"/rerank\",outcome=\"overloaded\"}"), 1);
}

TEST(Server, DisconnectedClientsPairsAreDropped) {
  GatedEngine g(shared_engine());
  auto s = start_gated(g);
  const int before = g.entered();
  std::thread blocker([&] {
    auto c = s.client();
    post_json(c, "/rerank", {{"query", "q"}, {"texts", {"first"}}}, 200);
  });
  ASSERT_TRUE(g.wait_entered(before + 1));  // the worker is stuck in a pass
  {
    httplib::Client impatient("127.0.0.1", s.port);
    impatient.set_read_timeout(0, 300 * 1000);
    auto res = impatient.Post("/rerank", json{{"query", "q"}, {"texts", {"a", "b", "c"}}}.dump(), "application/json");
    EXPECT_FALSE(res);  // gave up and closed the connection
  }
  // The handler notices the closed socket within its polling interval.
  auto c = s.client();
  double outcome = 0;
  for (int i = 0; i < 100 && outcome < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    outcome = metric(metrics_text(c), "crossrank_requests_total{route=\"/rerank\",outcome=\"dropped\"}");
  }
  EXPECT_EQ(outcome, 1);
  g.open();
  blocker.join();
  double dropped = 0;
  for (int i = 0; i < 100 && dropped < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    dropped = metric(metrics_text(c), "crossrank_dropped_pairs_total");
  }
  EXPECT_EQ(dropped, 3);  // never ran
  expect_permits_returned(*s.server);
}

TEST(Server, BackendFailureIs424AndServerSurvives) {
  GatedEngine g(shared_engine());
  ServerOptions o = test_options();
  o.cache_mb = 0;
  auto s = start(g, o);
  auto c = s.client();
  g.fail_ = true;
  expect_tei_error(post_json(c, "/rerank", {{"query", "q"}, {"texts", {"a", "b"}}}, 424), "Backend",
                   "injected backend failure");
  expect_cohere_error(post_json(c, "/v2/rerank", {{"query", "q"}, {"documents", {"a"}}}, 424), 424);
  g.fail_ = false;
  g.nan_ = true;
  expect_tei_error(post_json(c, "/rerank", {{"query", "q"}, {"texts", {"a"}}}, 424), "Backend", "not finite");
  g.nan_ = false;
  post_json(c, "/rerank", {{"query", "q"}, {"texts", {"a", "b"}}}, 200);
  auto h = c.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
}

TEST(Server, StopFinishesRequestsInFlight) {
  GatedEngine g(shared_engine());
  auto s = start_gated(g);
  const int before = g.entered();
  std::atomic<int> status{0};
  std::thread client([&] {
    auto c = s.client();
    auto res = c.Post("/rerank", json{{"query", "q"}, {"texts", {"a", "b"}}}.dump(), "application/json");
    status = res ? res->status : -1;
  });
  ASSERT_TRUE(g.wait_entered(before + 1));
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    s.server->stop();
    stopped = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(stopped.load());  // waits for the request in flight
  EXPECT_FALSE(s.server->ready());
  g.open();
  stopper.join();
  client.join();
  EXPECT_EQ(status.load(), 200);
  // No longer accepting.
  httplib::Client c2("127.0.0.1", s.port);
  c2.set_connection_timeout(1, 0);
  EXPECT_FALSE(c2.Get("/health"));
}

TEST(Server, RejectsBadOptions) {
  ServerOptions o = test_options();
  o.max_length = 100000;
  EXPECT_THROW(Server(shared_engine(), o), Error);
  o = test_options();
  o.max_batch_tokens = 100;
  EXPECT_THROW(Server(shared_engine(), o), Error);
  o = test_options();
  o.max_concurrent_pairs = 10;
  EXPECT_THROW(Server(shared_engine(), o), Error);
  // Absurd timeouts and thread counts (1e10 s overflowed the deadline into an instant 408;
  // 100000 request workers used up the process ids).
  for (auto set : std::vector<std::function<void(ServerOptions&)>>{
           [](ServerOptions& x) { x.header_timeout_s = 1e10; }, [](ServerOptions& x) { x.body_timeout_s = 1e-9; },
           [](ServerOptions& x) { x.keep_alive_seconds = 0; }, [](ServerOptions& x) { x.prep_threads = 100000; },
           [](ServerOptions& x) { x.http_threads = -1; }, [](ServerOptions& x) { x.reject_delay_ms = 1 << 30; }}) {
    o = test_options();
    set(o);
    EXPECT_THROW(Server(shared_engine(), o), Error);
  }
  // Port already taken.
  auto s = start(shared_engine());
  o = test_options();
  o.port = s.port;
  Server clash(shared_engine(), o);
  EXPECT_THROW(clash.start(), Error);
}

TEST(Server, DecodeUnit) {
  DecodeLimits lim;
  EXPECT_EQ(detect_dialect(json{{"query", "q"}, {"documents", {"a"}}}), Dialect::kInfinity);
  EXPECT_EQ(detect_dialect(json{{"query", "q"}, {"texts", {"a"}}, {"documents", {"a"}}}), Dialect::kTei);
  RerankRequest r = decode_rerank(json{{"query", "q"}, {"texts", {"a", "b"}}, {"truncate", nullptr}}, Dialect::kTei, lim);
  EXPECT_FALSE(r.truncate.has_value());
  EXPECT_EQ(r.documents.size(), 2u);
  try {
    decode_rerank(json{{"query", "q"}, {"documents", {"a", json::object()}}}, Dialect::kCohere, lim);
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 422);
    EXPECT_NE(std::string(e.what()).find("`documents[1]`"), std::string::npos);
  }
  const std::vector<double> sc = {0.1, 0.9, 0.5, 0.9};
  auto ranked = rank_scores(sc, 3);
  ASSERT_EQ(ranked.size(), 3u);
  EXPECT_EQ(ranked[0].index, 1u);  // ties keep input order
  EXPECT_EQ(ranked[1].index, 3u);
  EXPECT_EQ(ranked[2].index, 2u);
  EXPECT_THROW(parse_body("{\"a\": \"\xc0\xaf\"}"), ApiError);  // overlong encoding
  EXPECT_THROW(parse_body("{\"a\": \"\\ud800\"}"), ApiError);   // lone surrogate escape
  EXPECT_THROW(parse_body("{\"top_n\": 1e99999}"), ApiError);      // double overflow (fuzzer find)
}