// The dynamic batcher and the score cache under `crossrank serve`: budgets, slot mapping,
// requests kept together, memory back-off, the LRU bound, a BERT model's document cap and
// half-closed connections (tests/server/server_test_util.h).
#include "server_test_util.h"

using namespace server_test;

namespace {

// Records every forward pass; the logit of a pair is the sum of its ids, so results can
// be checked against the slot they were submitted for.
class RecordingEngine : public Engine {
 public:
  std::vector<double> score(std::span<const Pair>, const ScoreOptions&) override { return {}; }
  EncodedPair encode(std::string_view, std::string_view, const ScoreOptions&) const override { return {}; }
  std::vector<float> forward(std::span<const EncodedPair* const> batch) override {
    std::lock_guard<std::mutex> lock(mu);
    std::size_t tokens = 0;
    std::vector<float> out;
    for (const EncodedPair* p : batch) {
      tokens += p->ids.size();
      float s = 0;
      for (int id : p->ids) s += static_cast<float>(id);
      out.push_back(s);
    }
    passes.emplace_back(batch.size(), tokens);
    std::vector<int> firsts;  // first id of each pair: identifies its job
    for (const EncodedPair* p : batch) firsts.push_back(p->ids.empty() ? -1 : p->ids[0]);
    pass_ids.push_back(firsts);
    if (oom_once.exchange(false) && batch.size() > 1) throw std::bad_alloc();
    return out;
  }
  // 1 KiB per token against a 64 KiB budget: passes over 64 tokens are memory-bound.
  std::size_t activation_bytes(int t, int, int) const override { return static_cast<std::size_t>(t) << 10; }
  std::size_t memory_budget() const override { return budget; }
  int preferred_batch_tokens() const override { return 2048; }
  const ModelInfo& info() const override { return info_; }
  DType dtype() const override { return DType::kFp32; }
  BackendKind backend() const override { return BackendKind::kReference; }
  std::size_t budget = std::size_t{1} << 40;
  std::atomic<bool> oom_once{false};
  std::vector<std::vector<int>> pass_ids;
  std::mutex mu;
  std::vector<std::pair<std::size_t, std::size_t>> passes;  // (pairs, tokens)
  ModelInfo info_;
};

EncodedPair pair_of_len(std::size_t len, int base) {
  EncodedPair e;
  for (std::size_t i = 0; i < len; ++i) e.ids.push_back(base + static_cast<int>(i));
  e.type_ids.assign(len, 0);
  return e;
}

}  // namespace

TEST(Server, BatcherRespectsBudgetsAndMapsSlots) {
  RecordingEngine eng;
  BatcherOptions bo;
  bo.max_batch_tokens = 100;
  bo.max_batch_requests = 4;
  std::vector<std::shared_ptr<Job>> jobs;
  std::vector<std::vector<float>> want;
  {
    Batcher b(eng, bo);
    for (int j = 0; j < 10; ++j) {
      const std::size_t n = 1 + j % 7;
      auto job = std::make_shared<Job>(n);
      std::vector<std::pair<std::uint32_t, EncodedPair>> pairs;
      std::vector<float> w(n);
      for (std::size_t i = 0; i < n; ++i) {
        EncodedPair e = pair_of_len(3 + (i * 13 + j * 5) % 60, 1000 * j + static_cast<int>(i));
        for (int id : e.ids) w[i] += static_cast<float>(id);
        pairs.emplace_back(static_cast<std::uint32_t>(i), std::move(e));
      }
      b.submit(job, std::move(pairs));
      jobs.push_back(job);
      want.push_back(w);
    }
    for (auto& job : jobs) ASSERT_TRUE(job->wait_for(std::chrono::seconds(10)));
  }  // ~Batcher: stop() joins the worker
  for (std::size_t j = 0; j < jobs.size(); ++j)
    for (std::size_t i = 0; i < want[j].size(); ++i) {
      EXPECT_TRUE(jobs[j]->ok(i));
      EXPECT_EQ(jobs[j]->logit(i), want[j][i]) << j << "/" << i;
    }
  std::size_t total = 0;
  for (auto [pairs, tokens] : eng.passes) {
    EXPECT_LE(pairs, 4u);
    EXPECT_LE(tokens, 100u);
    total += pairs;
  }
  EXPECT_EQ(total, 34u);  // 1+2+...+7+1+2+3
}

TEST(Server, ScoreCacheIsBoundedLru) {
  ScoreCache c(16 * ScoreCache::kEntryBytes * 4);  // 4 entries per shard
  EXPECT_TRUE(c.enabled());
  for (int i = 0; i < 1000; ++i) c.put(c.make_key("s", "q", std::to_string(i)), {static_cast<float>(i), i});
  EXPECT_LE(c.entries(), 64u);
  EXPECT_GT(c.evictions(), 900u);
  CachedScore v;
  EXPECT_TRUE(c.get(c.make_key("s", "q", "999"), &v));  // most recent survives
  EXPECT_EQ(v.logit, 999.0f);
  EXPECT_EQ(v.tokens, 999);
  EXPECT_FALSE(c.get(c.make_key("s", "q", "0"), &v));   // oldest evicted
  EXPECT_FALSE(c.get(c.make_key("t", "q", "999"), &v));  // settings are part of the key
  EXPECT_EQ(c.hits(), 1u);
  EXPECT_EQ(c.misses(), 2u);
  ScoreCache off(0);
  off.put(off.make_key("s", "q", "d"), {1.0f, 1});
  EXPECT_FALSE(off.get(off.make_key("s", "q", "d"), &v));
  EXPECT_EQ(off.entries(), 0u);
}

TEST(Server, BertModelScoresAndDocCap) {
  static std::unique_ptr<Engine> bert = Engine::open("synthetic:tiny-bert");
  auto s = start(*bert);
  auto c = s.client();
  std::vector<Pair> pairs;
  for (const auto& d : kDocs) pairs.push_back({kQuery, d});
  ScoreOptions so;
  so.max_length = std::min(512, bert->info().max_length);
  so.normalize = true;
  const auto want = bert->score(pairs, so);
  json full = post_json(c, "/v2/rerank", {{"query", kQuery}, {"documents", kDocs}}, 200);
  for (const auto& x : full["results"])
    EXPECT_NEAR(x["relevance_score"].get<double>(), want[x["index"].get<std::size_t>()], 1e-6);
  // A cap no document reaches rebuilds exactly the same [CLS] q [SEP] d [SEP] pairs.
  json same = post_json(c, "/v2/rerank", {{"query", kQuery}, {"documents", kDocs}, {"max_tokens_per_doc", 300}}, 200);
  EXPECT_EQ(same["meta"]["tokens"], full["meta"]["tokens"]);
  for (std::size_t k = 0; k < kDocs.size(); ++k)
    EXPECT_NEAR(same["results"][k]["relevance_score"].get<double>(),
                full["results"][k]["relevance_score"].get<double>(), 1e-6);
  // A 1-token cap: query + 1 + 3 specials per pair.
  json one = post_json(c, "/v2/rerank", {{"query", kQuery}, {"documents", kDocs}, {"max_tokens_per_doc", 1}}, 200);
  const int q_tokens = static_cast<int>(bert->encode(kQuery, "x", so).ids.size()) - 4;  // "x" is one token
  EXPECT_EQ(one["meta"]["tokens"]["input_tokens"].get<int>(), static_cast<int>(kDocs.size()) * (q_tokens + 4));
}

TEST(Server, BatcherKeepsRequestsTogetherAndHonoursMemory) {
  // Requests of 6 pairs x 10 tokens under a 30-pair / 1000-token cap: each pass holds
  // whole requests (a decoder's shared prefix K/V stays in one pass), oldest first.
  {
    RecordingEngine eng;
    BatcherOptions bo;
    bo.max_batch_tokens = 1000;
    bo.max_batch_requests = 30;
    std::vector<std::shared_ptr<Job>> jobs;
    {
      Batcher b(eng, bo);
      for (int j = 0; j < 20; ++j) {
        auto job = std::make_shared<Job>(6);
        std::vector<std::pair<std::uint32_t, EncodedPair>> pairs;
        for (int i = 0; i < 6; ++i) {
          EncodedPair e = pair_of_len(10, 0);
          e.ids[0] = j;  // job id in the first position
          pairs.emplace_back(static_cast<std::uint32_t>(i), std::move(e));
        }
        b.submit(job, std::move(pairs));
        jobs.push_back(job);
      }
      for (auto& job : jobs) ASSERT_TRUE(job->wait_for(std::chrono::seconds(10)));
    }
    int split = 0;
    std::vector<int> count(20, 0);
    for (const auto& pass : eng.pass_ids) {
      std::map<int, int> per_job;
      for (int id : pass) ++per_job[id];
      for (auto [id, n] : per_job) {
        if (n != 6) ++split;
        count[id] += n;
      }
    }
    EXPECT_EQ(split, 0) << "a request was split over passes although whole requests fit";
    for (int n : count) EXPECT_EQ(n, 6);
  }
  // The memory estimate (1 KiB per token, 64 KiB budget) caps passes at 64 tokens even
  // though the token cap would allow 1000; a bad_alloc shrinks passes to 3/4 and re-runs.
  {
    RecordingEngine eng;
    eng.budget = 64 << 10;
    eng.oom_once = true;
    BatcherOptions bo;
    bo.max_batch_tokens = 1000;
    auto job = std::make_shared<Job>(40);
    {
      Batcher b(eng, bo);
      std::vector<std::pair<std::uint32_t, EncodedPair>> pairs;
      for (int i = 0; i < 40; ++i) pairs.emplace_back(static_cast<std::uint32_t>(i), pair_of_len(8, i));
      b.submit(job, std::move(pairs));
      ASSERT_TRUE(job->wait_for(std::chrono::seconds(10)));
    }
    for (int i = 0; i < 40; ++i) EXPECT_TRUE(job->ok(static_cast<std::size_t>(i))) << i;
    ASSERT_GE(eng.passes.size(), 2u);
    EXPECT_EQ(eng.passes[0].first, 8u);  // 8 x 8 tokens = the 64 KiB budget; this one failed
    for (std::size_t k = 1; k < eng.passes.size(); ++k) {
      EXPECT_LE(eng.passes[k].second, 64u);
      EXPECT_LE(eng.passes[k].first, 6u);  // 3/4 of the failed pass
    }
  }
}

// A client that half-closes (shutdown(SHUT_WR)) while its request waits for the model is
// still reading: the server's 1xx probe must not mistake it for a disconnect.
TEST(Server, HalfCloseWhileQueuedIsNotADisconnect) {
  GatedEngine g(shared_engine());
  auto s = start_gated(g);
  const int before = g.entered();
  const std::string body = json{{"query", "q"}, {"texts", {"a", "b"}}}.dump();
  const int fd = send_raw(s.port, "POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                                      "\r\n\r\n" + body);
  ASSERT_TRUE(g.wait_entered(before + 1));  // held in forward()
  shutdown(fd, SHUT_WR);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the probe and its check run
  g.open();
  std::string got;
  char buf[4096];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  EXPECT_NE(got.find("HTTP/1.1 100 Continue\r\n\r\n"), std::string::npos) << got;  // the probe
  EXPECT_NE(got.find("HTTP/1.1 200 OK"), std::string::npos) << got;
  auto c = s.client();
  EXPECT_EQ(metric(metrics_text(c), "crossrank_requests_total{route=\"/rerank\",outcome=\"success\"}"), 1);
  EXPECT_EQ(metric(metrics_text(c), "crossrank_dropped_pairs_total"), 0);
}

// Clients that reset the connection (RST) while their request waits for the model: each
// connection is released once its request is dropped. They used to stay counted for ever
// (the connection and its pending response held each other), until the connection cap
// answered 503 to everything, /health included.
TEST(Server, ConnectionsResetWhileHandledAreReleased) {
  GatedEngine g(shared_engine());
  auto s = start_gated(g);
  const int before = g.entered();
  std::vector<int> fds;
  for (int i = 0; i < 8; ++i) {
    const std::string body = json{{"query", "q" + std::to_string(i)}, {"texts", {"a", "b"}}}.dump();
    fds.push_back(send_raw(s.port, "POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                                       std::to_string(body.size()) + "\r\n\r\n" + body));
  }
  ASSERT_TRUE(g.wait_entered(before + 1));  // the first pass is held in forward(), the rest queue
  for (int i = 0; i < 100 && s.server->connections() < fds.size(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  for (int fd : fds) {  // close with RST
    const linger l{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  g.open();
  for (int i = 0; i < 300 && s.server->connections() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(s.server->connections(), 0u);
  auto c = s.client();
  EXPECT_EQ(c.Get("/health")->status, 200);
  expect_permits_returned(*s.server);
}
