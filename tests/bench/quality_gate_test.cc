// Issue 6's quality gates on real text, through the public Engine API:
//  * int8 ranking agreement: 50 queries x 100 passages from ../shared/data (the 43 judged
//    TREC-DL queries, each with 100 MS MARCO passages, plus 7 XQuAD-en questions, each
//    against 100 paragraphs), scored by the synthetic ms-marco-MiniLM-L-6-v2 (the real
//    architecture and WordPiece vocabulary; seeded random weights) in fp32 and int8.
//    Gate: mean NDCG@10 of the int8 ranking against the fp32 ranking >= 0.99.
//  bf16's gate (max |dlogit| vs the HF goldens) is in cpu_backend_test.cc. Run once on these
//  texts (bf16 is emulated on AVX2, as slow as fp32, so not in CI): NDCG@10 0.99971, worst
//  list 0.99744, max |dlogit| 0.0196.
// Random weights have no activation outlier channels; real weights must be re-checked
// (`crossrank eval --model DIR --dataset msmarco-trecdl --compare int8`).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <vector>

#include <gtest/gtest.h>

#include "eval/data.h"
#include "eval/metrics.h"
#include "crossrank/crossrank.h"

namespace crossrank {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string shared_dir() { return CROSSRANK_SHARED_DIR; }

// 50 lists of 100 candidates each.
std::vector<eval::EvalList> gate_lists() {
  const eval::EvalDataOptions o{.top = 100, .queries = 0, .min_candidates = 100};
  auto ms = eval::load_dataset("msmarco-trecdl", shared_dir(), o);
  auto xq = eval::load_dataset("xquad-en", shared_dir(), {.top = 100, .queries = 50 - static_cast<int>(ms.lists.size()),
                                                          .min_candidates = 100});
  std::vector<eval::EvalList> lists = std::move(ms.lists);
  for (auto& l : xq.lists) lists.push_back(std::move(l));
  return lists;
}

std::vector<std::vector<double>> score_lists(Engine& e, const std::vector<eval::EvalList>& lists, double* secs) {
  std::vector<Pair> pairs;
  for (const auto& l : lists)
    for (const auto& d : l.docs) pairs.push_back({l.query, d});
  ScoreOptions so;
  so.batch_size = 32;
  const auto t0 = Clock::now();
  const auto s = e.score(pairs, so);
  *secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::vector<std::vector<double>> out;
  std::size_t k = 0;
  for (const auto& l : lists) {
    out.emplace_back(s.begin() + k, s.begin() + k + l.docs.size());
    k += l.docs.size();
  }
  return out;
}

// int8 vs fp32 ranking agreement on text lists (TREC-DL + XQuAD, 100 passages each) on the
// synthetic MiniLM shape. `every`: use every every-th of the 50 lists (the full run costs
// ~700 s on 2 Zen 3 cores; the real-weight gates are in tests/engine/real_weights_test.cc).
void check_int8_agreement(int every) {
  if (!fs::exists(shared_dir() + "/data/SOURCES.md")) GTEST_SKIP() << "no " << shared_dir();
  auto all = gate_lists();
  ASSERT_EQ(all.size(), 50u);
  std::vector<eval::EvalList> lists;
  for (std::size_t i = 0; i < all.size(); i += every) lists.push_back(std::move(all[i]));
  std::size_t pairs = 0;
  for (const auto& l : lists) {
    ASSERT_EQ(l.docs.size(), 100u) << l.qid;
    pairs += l.docs.size();
  }
  const std::string model = "synthetic:ms-marco-MiniLM-L-6-v2";
  std::vector<std::vector<double>> ref;
  for (DType dt : {DType::kFp32, DType::kInt8}) {
    EngineOptions eo;
    eo.backend = BackendKind::kCpu;
    eo.dtype = dt;
    auto e = Engine::open(model, eo);
    double secs = 0;
    auto s = score_lists(*e, lists, &secs);
    if (dt == DType::kFp32) {
      ref = std::move(s);
      double lo = 1e30, hi = -1e30;
      for (const auto& l : ref)
        for (double v : l) lo = std::min(lo, v), hi = std::max(hi, v);
      std::printf("    [fp32] %zu pairs in %.1f s; logit range %.4f .. %.4f\n", pairs, secs, lo, hi);
      continue;
    }
    const auto g = eval::ranking_agreement(ref, s);
    std::printf("    [%s vs fp32] %zu pairs in %.1f s: NDCG@10 mean %.5f (worst list %.5f), Spearman %.5f, "
                "top-1 same %.0f%%, max|dlogit| %.4f, mean %.5f\n",
                to_string(dt), pairs, secs, g.ndcg10, g.min_ndcg10, g.spearman, 100 * g.top1, g.max_abs_delta,
                g.mean_abs_delta);
    EXPECT_GE(g.ndcg10, 0.99) << to_string(dt);
  }
}

// Bounded (CI): 10 of the 50 lists.
TEST(QualityGate, Int8RankingAgreementOnText) { check_int8_agreement(5); }
// All 50 lists (label slow).
TEST(QualityGate, SlowInt8RankingAgreementAllLists) { check_int8_agreement(1); }

}  // namespace
}  // namespace crossrank
