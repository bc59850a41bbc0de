// --deterministic through the server: every route (TEI, Cohere, Jina), concurrent clients
// whose pairs the batcher mixes into shared passes, and score-cache hits all return the
// bits of the pair scored alone (docs/determinism.md).
#include <gtest/gtest.h>
#include <httplib.h>

#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "crossrank/crossrank.h"
#include "server/server.h"

using namespace crossrank;
using nlohmann::json;

namespace {

struct Route {
  const char* path;
  const char* docs_key;
  const char* score_key;
  bool raw;  // TEI with raw_scores: the logit; the others: its sigmoid
};
const Route kRoutes[] = {{"/rerank", "texts", "score", true},
                         {"/v2/rerank", "documents", "relevance_score", false},
                         {"/v1/rerank", "documents", "relevance_score", false}};

// Scores of `docs` for `query` through route r, in input order; empty on failure.
std::vector<double> post(int port, const Route& r, const std::string& query, const std::vector<std::string>& docs) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(60, 0);
  json body = {{"query", query}, {r.docs_key, docs}};
  if (r.raw) body["raw_scores"] = true;
  auto res = c.Post(r.path, body.dump(), "application/json");
  if (!res || res->status != 200) return {};
  const json j = json::parse(res->body);
  const json& arr = r.raw ? j : j["results"];
  std::vector<double> out(docs.size());
  for (const auto& x : arr) out[x["index"].get<std::size_t>()] = x[r.score_key].get<double>();
  return out;
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

}  // namespace

TEST(ServerDeterministic, RoutesConcurrencyAndCacheGiveTheBitsOfAPairAlone) {
  EngineOptions eo;
  eo.deterministic = true;
  auto engine = Engine::open("synthetic:tiny-bert", eo);
  std::vector<std::string> queries = {"what is a giant panda?", "capital of france", "bamboo", "fast rerankers"};
  std::vector<std::string> docs;
  for (int k = 0; k < 12; ++k) {
    std::string d = "passage " + std::to_string(k);
    for (int w = 0; w < (k * 13) % 60; ++w) d += w % 3 ? " bamboo" : " forest of china";
    docs.push_back(d);
  }
  // The engine alone, one pair at a time.
  std::map<std::pair<int, int>, double> alone;
  for (std::size_t q = 0; q < queries.size(); ++q)
    for (std::size_t d = 0; d < docs.size(); ++d) {
      const Pair p{queries[q], docs[d]};
      ScoreOptions so;
      so.batch_size = 1;
      alone[std::make_pair(static_cast<int>(q), static_cast<int>(d))] = engine->score(std::span<const Pair>(&p, 1), so)[0];
    }
  for (std::size_t cache_mb : {std::size_t{0}, std::size_t{64}}) {
    SCOPED_TRACE("cache_mb " + std::to_string(cache_mb));
    ServerOptions o;
    o.port = 0;
    o.max_length = 512;
    o.http_threads = 16;
    o.cache_mb = cache_mb;
    o.max_batch_tokens = 512;  // several passes, pairs of different requests mixed
    Server server(*engine, o);
    const int port = server.start();
    // Per route, each pair alone through the server (a cache miss when the cache is on).
    std::map<std::pair<int, int>, std::vector<double>> ref;  // (route, query) -> per doc
    for (int r = 0; r < 3; ++r)
      for (std::size_t q = 0; q < queries.size(); ++q) {
        std::vector<double> v;
        for (const auto& d : docs) {
          const auto one = post(port, kRoutes[r], queries[q], {d});
          ASSERT_EQ(one.size(), 1u) << kRoutes[r].path;
          v.push_back(one[0]);
        }
        ref[std::make_pair(r, static_cast<int>(q))] = v;
        if (kRoutes[r].raw)  // the raw route carries the engine's float logit unchanged
          for (std::size_t d = 0; d < docs.size(); ++d) {
            const double want = alone[std::make_pair(static_cast<int>(q), static_cast<int>(d))];
            EXPECT_EQ(v[d], want) << "doc " << d;
          }
      }
    // Concurrent clients, all routes, whole lists in rotated orders, twice (cache hits).
    std::vector<std::string> failures(8);
    std::vector<std::thread> th;
    for (int t = 0; t < 8; ++t)
      th.emplace_back([&, t] {
        for (int rep = 0; rep < 2; ++rep) {
          const int r = (t + rep) % 3, q = t % static_cast<int>(queries.size());
          std::vector<std::string> rot;
          std::vector<std::size_t> idx;
          for (std::size_t i = 0; i < docs.size(); ++i) idx.push_back((i + t) % docs.size());
          for (std::size_t i : idx) rot.push_back(docs[i]);
          const auto got = post(port, kRoutes[r], queries[q], rot);
          std::vector<double> want;
          for (std::size_t i : idx) want.push_back(ref[std::make_pair(r, q)][i]);
          if (!same_bits(got, want)) failures[t] = std::string(kRoutes[r].path) + " rep " + std::to_string(rep);
        }
      });
    for (auto& x : th) x.join();
    for (const auto& f : failures) EXPECT_TRUE(f.empty()) << "scores differ from the pair alone: " << f;
    server.stop();
  }
}
