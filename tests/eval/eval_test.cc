// `crossrank eval`: metric functions on hand-computed lists, the dataset loaders on the
// real shared/data files, and the command end to end on a synthetic model.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "eval/data.h"
#include "eval/metrics.h"
#include "crossrank/crossrank.h"
#include "test_util.h"

using namespace crossrank;
using namespace crossrank::eval;
using namespace crossrank::test;
namespace fs = std::filesystem;

namespace {

std::string shared_dir() { return CROSSRANK_SHARED_DIR; }
bool have_data() { return fs::exists(shared_dir() + "/data/SOURCES.md"); }

using V = std::vector<double>;

}  // namespace

// ---------------------------------------------------------------- metrics

TEST(Eval, NdcgGradedByHand) {
  // Ranked gains 0,3,1,2 (scores descending); ideal 3,2,1,0; linear gain, log2(i+2).
  const V scores{0.9, 0.8, 0.7, 0.6}, gains{0, 3, 1, 2};
  const double dcg = 3 / std::log2(3.0) + 1 / std::log2(4.0) + 2 / std::log2(5.0);
  const double idcg = 3 + 2 / std::log2(3.0) + 1 / std::log2(4.0);
  EXPECT_NEAR(ndcg_at_k(scores, gains, 10), dcg / idcg, 1e-12);
  EXPECT_NEAR(ndcg_at_k(scores, gains, 10), 0.6833763936083916, 1e-12);
  // Cut at 2: DCG 3/log2(3), IDCG 3 + 2/log2(3).
  EXPECT_NEAR(ndcg_at_k(scores, gains, 2), 0.44412286644879784, 1e-12);
  // Input order does not matter, only scores.
  EXPECT_NEAR(ndcg_at_k(V{0.6, 0.7, 0.9, 0.8}, V{2, 1, 0, 3}, 10), 0.6833763936083916, 1e-12);
  // Perfect ranking, no positive gain, beyond-k relevance.
  EXPECT_DOUBLE_EQ(ndcg_at_k(V{3, 2, 1}, V{2, 1, 0}, 10), 1.0);
  EXPECT_DOUBLE_EQ(ndcg_at_k(V{3, 2, 1}, V{0, 0, 0}, 10), 0.0);
  V s(12), g(12, 0.0);
  for (int i = 0; i < 12; ++i) s[i] = 12 - i;
  g[11] = 1;  // the only relevant candidate ranks 12th
  EXPECT_DOUBLE_EQ(ndcg_at_k(s, g, 10), 0.0);
}

TEST(Eval, TiesAreBrokenByCandidateOrder) {
  // Equal scores: the earlier candidate ranks first, whatever its label.
  EXPECT_EQ(rank_order(V{1, 1, 0, 1}), (std::vector<size_t>{0, 1, 3, 2}));
  EXPECT_NEAR(ndcg_at_k(V{1, 1, 0}, V{0, 1, 0}, 10), 1 / std::log2(3.0), 1e-12);
  EXPECT_DOUBLE_EQ(ndcg_at_k(V{1, 1, 0}, V{1, 0, 0}, 10), 1.0);
  EXPECT_DOUBLE_EQ(mrr_at_k(V{5, 5, 5}, V{0, 0, 1}, 10, 1), 1.0 / 3);
  EXPECT_DOUBLE_EQ(average_precision(V{5, 5, 5}, V{1, 0, 1}, 1), (1.0 + 2.0 / 3) / 2);
  // Deterministic: the same call gives the same value.
  EXPECT_EQ(ndcg_at_k(V{2, 2, 2, 2}, V{0, 1, 2, 3}, 3), ndcg_at_k(V{2, 2, 2, 2}, V{0, 1, 2, 3}, 3));
}

TEST(Eval, MrrAt10ByHand) {
  EXPECT_DOUBLE_EQ(mrr_at_k(V{0.9, 0.8, 0.7, 0.1}, V{0, 0, 1, 1}, 10, 1), 1.0 / 3);
  EXPECT_DOUBLE_EQ(mrr_at_k(V{0.9, 0.8, 0.7, 0.1}, V{0, 0, 0, 0}, 10, 1), 0.0);
  // Graded labels with threshold 2 (TREC DL): grade 1 does not count.
  EXPECT_DOUBLE_EQ(mrr_at_k(V{0.9, 0.8, 0.7}, V{1, 1, 3}, 10, 2), 1.0 / 3);
  EXPECT_DOUBLE_EQ(mrr_at_k(V{0.9, 0.8, 0.7}, V{1, 1, 3}, 10, 1), 1.0);
  // First relevant at rank 11: outside the cut.
  V s(11), l(11, 0.0);
  for (int i = 0; i < 11; ++i) s[i] = 11 - i;
  l[10] = 1;
  EXPECT_DOUBLE_EQ(mrr_at_k(s, l, 10, 1), 0.0);
  EXPECT_DOUBLE_EQ(mrr_at_k(s, l, 11, 1), 1.0 / 11);
}

TEST(Eval, MapByHand) {
  // Ranked relevance 1,0,1,0,1: AP = (1/1 + 2/3 + 3/5) / 3.
  EXPECT_NEAR(average_precision(V{5, 4, 3, 2, 1}, V{1, 0, 1, 0, 1}, 1), 0.7555555555555555, 1e-12);
  EXPECT_DOUBLE_EQ(average_precision(V{5, 4, 3}, V{0, 0, 0}, 1), 0.0);
  EXPECT_DOUBLE_EQ(average_precision(V{1, 2, 3}, V{3, 2, 1}, 2), (1.0 / 2 + 2.0 / 3) / 2);
}

TEST(Eval, RankCorrelationsByHand) {
  const V a{1, 2, 2, 3, 5}, b{2, 1, 3, 3, 4};
  EXPECT_NEAR(spearman(a, b), 0.7631578947368421, 1e-12);  // scipy.stats.spearmanr
  EXPECT_NEAR(kendall_tau_b(a, b), 0.6666666666666666, 1e-12);  // scipy.stats.kendalltau (tau-b)
  EXPECT_DOUBLE_EQ(spearman(V{1, 2, 3}, V{10, 20, 30}), 1.0);
  EXPECT_DOUBLE_EQ(kendall_tau_b(V{1, 2, 3}, V{3, 2, 1}), -1.0);
  EXPECT_DOUBLE_EQ(spearman(V{1, 1}, V{1, 1}), 1.0);
  EXPECT_THROW(spearman(V{1, 2}, V{1}), Error);
}

// ---------------------------------------------------------------- loaders

namespace {

void check_lists(const EvalDataset& ds) {
  ASSERT_FALSE(ds.lists.empty()) << ds.name;
  std::set<std::string> qids;
  for (const auto& l : ds.lists) {
    EXPECT_FALSE(l.query.empty()) << ds.name << " " << l.qid;
    ASSERT_FALSE(l.docs.empty()) << ds.name << " " << l.qid;
    ASSERT_EQ(l.docs.size(), l.labels.size());
    ASSERT_EQ(l.docs.size(), l.doc_ids.size());
    EXPECT_TRUE(std::any_of(l.labels.begin(), l.labels.end(), [&](double x) { return x >= ds.relevant_threshold; }))
        << ds.name << " " << l.qid << " has no relevant candidate";
    std::set<std::string> ids(l.doc_ids.begin(), l.doc_ids.end());
    EXPECT_EQ(ids.size(), l.doc_ids.size()) << ds.name << " " << l.qid << ": duplicate candidates";
    for (const auto& d : l.docs) EXPECT_FALSE(d.empty());
    qids.insert(l.qid);
  }
  EXPECT_EQ(qids.size(), ds.lists.size()) << ds.name << ": duplicate query ids";
}

}  // namespace

TEST(Eval, LoadsMsmarcoTrecDl) {
  if (!have_data()) GTEST_SKIP() << "no " << shared_dir();
  const auto ds = load_dataset("msmarco-trecdl", shared_dir(), {});
  check_lists(ds);
  EXPECT_EQ(ds.lists.size(), 43u);  // the judged TREC DL 2019 queries
  EXPECT_EQ(ds.relevant_threshold, 2.0);
  size_t judged = 0;
  for (const auto& l : ds.lists) {
    EXPECT_LE(l.docs.size(), 100u);
    EXPECT_GE(l.docs.size(), 10u);  // short lists padded to --min-candidates
    for (size_t i = 0; i < l.labels.size(); ++i) {
      EXPECT_TRUE(l.labels[i] >= 0 && l.labels[i] <= 3);
      EXPECT_EQ(l.labels[i] == 0, i >= l.docs.size() - l.padded);  // judged ones are graded 1-3
    }
    judged += l.docs.size() - l.padded;
  }
  EXPECT_GT(judged, 2500u);
  // --top and --queries.
  const auto small = load_dataset("msmarco-trecdl", shared_dir(), {.top = 5, .queries = 3, .min_candidates = 10});
  ASSERT_EQ(small.lists.size(), 3u);
  for (const auto& l : small.lists) EXPECT_EQ(l.docs.size(), 5u);
  EXPECT_EQ(small.lists[0].qid, ds.lists[0].qid);
}

TEST(Eval, LoadsWikiQa) {
  if (!have_data()) GTEST_SKIP();
  const auto ds = load_dataset("wikiqa", shared_dir(), {});
  check_lists(ds);
  EXPECT_EQ(ds.lists.size(), 243u);  // the filtered test-gold split
  EXPECT_EQ(ds.pairs(), 2351u);
  EXPECT_EQ(ds.dropped, 0u);
  for (const auto& l : ds.lists) {
    EXPECT_EQ(l.padded, 0u);
    for (double x : l.labels) EXPECT_TRUE(x == 0 || x == 1);
  }
}

TEST(Eval, LoadsXquadZhEnAndCmrc) {
  if (!have_data()) GTEST_SKIP();
  for (const char* name : {"xquad-zh", "xquad-en", "cmrc2018"}) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto ds = load_dataset(name, shared_dir(), {});
    check_lists(ds);
    EXPECT_EQ(ds.lists.size(), std::string(name) == "cmrc2018" ? 3219u : 1190u) << name;
    for (const auto& l : ds.lists) {
      EXPECT_EQ(l.docs.size(), 10u) << name;
      EXPECT_EQ(std::count(l.labels.begin(), l.labels.end(), 1.0), 1) << name << " " << l.qid;
      EXPECT_EQ(l.padded, std::string(name) == "cmrc2018" ? 9u : 5u) << name;
    }
    // Without padding: the article's paragraphs only (XQuAD: 5, CMRC: 1).
    const auto bare = load_dataset(name, shared_dir(), {.top = 100, .queries = 0, .min_candidates = 0});
    EXPECT_EQ(bare.lists[0].docs.size(), std::string(name) == "cmrc2018" ? 1u : 5u);
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 20.0) << name;
  }
  // Parallel sets: same question ids, same gold position.
  const auto zh = load_dataset("xquad-zh", shared_dir(), {.top = 100, .queries = 20, .min_candidates = 0});
  const auto en = load_dataset("xquad-en", shared_dir(), {.top = 100, .queries = 20, .min_candidates = 0});
  ASSERT_EQ(zh.lists.size(), en.lists.size());
  for (size_t i = 0; i < zh.lists.size(); ++i) {
    EXPECT_EQ(zh.lists[i].qid, en.lists[i].qid);
    EXPECT_EQ(zh.lists[i].labels, en.lists[i].labels);
  }
}

TEST(Eval, BadDatasetAndSharedDirAreErrors) {
  EXPECT_THROW(load_dataset("nope", shared_dir(), {}), Error);
  try {
    load_dataset("wikiqa", "/nonexistent-crossrank-shared", {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("WikiQA-test-gold.tsv"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------- CLI end to end

namespace {

bool model_opens(const std::string& m) {
  try {
    (void)Engine::open(m);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

TEST(Eval, CliEndToEndJsonAndCompare) {
  if (!have_data()) GTEST_SKIP();
  const std::string model = "synthetic:tiny-bert";
  if (!model_opens(model)) GTEST_SKIP() << model << " cannot open (tokenizer files missing?)";
  auto r = run_cmd(cli() + " eval --model " + model + " --dataset msmarco-trecdl --queries 3 --top 10 --format json"
                   " --compare int8 --shared-dir " + shared_dir());
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["queries"], 3);
  EXPECT_EQ(j["pairs"], 30);
  ASSERT_EQ(j["results"].size(), 2u);
  for (const auto& res : j["results"]) {
    for (const char* m : {"ndcg@10", "mrr@10", "map"}) {
      EXPECT_GE(res[m].get<double>(), 0.0);
      EXPECT_LE(res[m].get<double>(), 1.0);
    }
    EXPECT_GT(res["pairs_per_s"].get<double>(), 0.0);
  }
  EXPECT_EQ(j["results"][1]["dtype"], "int8");
  const auto& c = j["compare"];
  EXPECT_GT(c["ndcg@10_vs_reference"].get<double>(), 0.5);
  EXPECT_LE(c["ndcg@10_vs_reference"].get<double>(), 1.0 + 1e-12);
  EXPECT_GE(c["max_abs_delta"].get<double>(), 0.0);
  EXPECT_LE(c["spearman"].get<double>(), 1.0 + 1e-12);
}

TEST(Eval, CliEndToEndMarkdownEveryDataset) {
  if (!have_data()) GTEST_SKIP();
  const std::string model = "synthetic:tiny-bert";
  if (!model_opens(model)) GTEST_SKIP() << model << " cannot open (tokenizer files missing?)";
  for (const char* d : {"wikiqa", "xquad-zh", "xquad-en", "cmrc2018"}) {
    auto r = run_cmd(cli() + " eval -m " + model + " -d " + d + " --queries 3 --long-doc chunk --max-length 128");
    ASSERT_EQ(r.code, 0) << d << ": " << r.err;
    EXPECT_NE(r.out.find("| NDCG@10 | MRR@10 | MAP |"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("3 queries"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("long_doc chunk"), std::string::npos) << r.out;
  }
}

TEST(Eval, CliErrorsAreOneLine) {
  auto r = run_cmd(cli() + " eval -m synthetic:tiny-bert -d nope --queries 3");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("unknown dataset 'nope'"), std::string::npos) << r.err;
  r = run_cmd(cli() + " eval -m synthetic:tiny-bert -d wikiqa --format xml");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--format"), std::string::npos) << r.err;
  r = run_cmd(cli() + " eval -m synthetic:tiny-bert -d wikiqa --compare fp64");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("unknown dtype"), std::string::npos) << r.err;
}
