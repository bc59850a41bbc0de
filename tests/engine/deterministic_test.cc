// --deterministic (EngineOptions::deterministic): a pair's score is bit-identical whatever
// the batch size, the other pairs, its position, the thread count and the token budget.
// Property tests over random batch compositions, per family and dtype.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/gemm.h"
#include "crossrank/crossrank.h"

using namespace crossrank;

namespace {

std::vector<std::string> words() {
  return {"panda", "bamboo", "river", "the", "of", "graph", "kernel", "reranker", "query", "passage", "tokyo",
          "bear",  "eats",   "a",     "in", "with", "fast", "cache",  "score",    "zhong", "wen",   "日本", "熊猫"};
}

struct Texts {
  std::vector<std::string> q, d;
  std::vector<Pair> pairs;
};

Texts make_texts(int n, unsigned seed) {
  std::mt19937 rng(seed);
  const auto w = words();
  auto sentence = [&](int len) {
    std::string s;
    for (int i = 0; i < len; ++i) s += (i ? " " : "") + w[rng() % w.size()];
    return s;
  };
  Texts t;
  for (int i = 0; i < n; ++i) {
    t.q.push_back(sentence(1 + static_cast<int>(rng() % 6)));
    const int len = i % 7 == 0 ? 150 + static_cast<int>(rng() % 150) : 1 + static_cast<int>(rng() % 40);
    t.d.push_back(sentence(len));
  }
  for (int i = 0; i < n; ++i) t.pairs.push_back({t.q[i % 5], t.d[i]});  // 5 queries, shared
  return t;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

void check_invariance(const std::string& model, DType dtype) {
  SCOPED_TRACE(model + " " + to_string(dtype));
  EngineOptions eo;
  eo.dtype = dtype;
  eo.backend = BackendKind::kCpu;
  eo.deterministic = true;
  auto e = Engine::open(model, eo);
  const Texts t = make_texts(48, 17);
  const int saved = omp_get_max_threads();
  // Reference: every pair alone, one thread.
  omp_set_num_threads(1);
  ScoreOptions one;
  one.batch_size = 1;
  std::vector<double> ref;
  for (const Pair& p : t.pairs) ref.push_back(e->score(std::span<const Pair>(&p, 1), one)[0]);
  std::mt19937 rng(23);
  int checked = 0, differ = 0;
  for (int trial = 0; trial < 10; ++trial) {
    std::vector<int> idx(t.pairs.size());
    for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int>(i);
    std::shuffle(idx.begin(), idx.end(), rng);
    idx.resize(1 + rng() % idx.size());
    std::vector<Pair> sub;
    for (int i : idx) sub.push_back(t.pairs[i]);
    ScoreOptions so;
    const int sizes[] = {1, 2, 3, 7, 16, 64};
    so.batch_size = sizes[rng() % 6];
    so.max_batch_tokens = trial % 3 == 0 ? 0 : 128 << (rng() % 4);
    omp_set_num_threads(1 + static_cast<int>(rng() % 2));
    const auto got = e->score(sub, so);
    for (std::size_t i = 0; i < idx.size(); ++i) {
      ++checked;
      if (!same_bits(got[i], ref[idx[i]])) {
        if (++differ <= 5)
          ADD_FAILURE() << "pair " << idx[i] << " trial " << trial << " batch " << so.batch_size << ": " << got[i]
                        << " vs alone " << ref[idx[i]];
      }
    }
  }
  omp_set_num_threads(saved);
  EXPECT_EQ(differ, 0) << differ << " of " << checked << " scores differ";
  EXPECT_NE(e->describe().find("deterministic"), std::string::npos) << e->describe();
}

}  // namespace

TEST(Deterministic, EncoderFp32) {
  check_invariance("synthetic:tiny-xlmr", DType::kFp32);
  check_invariance("synthetic:tiny-bert", DType::kFp32);
}
TEST(Deterministic, EncoderBf16AndInt8) {
  check_invariance("synthetic:tiny-xlmr", DType::kBf16);
  check_invariance("synthetic:tiny-bert", DType::kInt8);
}
TEST(Deterministic, DecoderQwen3) {
  check_invariance("synthetic:tiny-qwen3", DType::kFp32);
  check_invariance("synthetic:tiny-qwen3", DType::kInt8);
}
// The default mode is not batch-invariant on every CPU (oneDNN picks its K blocking from M),
// but deterministic fp32 stays within fp32 rounding of it.
TEST(Deterministic, MatchesTheDefaultModeWithinRounding) {
  EngineOptions a, b;
  b.deterministic = true;
  auto fast = Engine::open("synthetic:tiny-xlmr", a), det = Engine::open("synthetic:tiny-xlmr", b);
  const Texts t = make_texts(24, 3);
  const auto x = fast->score(t.pairs), y = det->score(t.pairs);
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(x[i], y[i], 1e-5 * std::max(1.0, std::abs(x[i])));
}

// Where fp32 GEMMs run on sgemm_det by default (AVX2 dispatch: cpu::use_sgemm_fp32()), the
// default mode of an encoder is the deterministic one, bit for bit, in fp32 and int8.
TEST(Deterministic, EncoderDefaultModeIsDeterministicOnAvx2) {
  if (!cpu::use_sgemm_fp32()) GTEST_SKIP() << "fp32 GEMMs run on oneDNN by default on this CPU";
  const Texts t = make_texts(24, 5);
  for (const char* model : {"synthetic:tiny-xlmr", "synthetic:tiny-bert"})
    for (DType dt : {DType::kFp32, DType::kInt8}) {
      SCOPED_TRACE(std::string(model) + " " + to_string(dt));
      EngineOptions a, b;
      a.dtype = b.dtype = dt;
      a.backend = b.backend = BackendKind::kCpu;
      b.deterministic = true;
      ScoreOptions so;
      so.batch_size = 7;
      const auto x = Engine::open(model, a)->score(t.pairs, so), y = Engine::open(model, b)->score(t.pairs);
      for (std::size_t i = 0; i < x.size(); ++i) EXPECT_TRUE(same_bits(x[i], y[i])) << i << ": " << x[i] << " vs " << y[i];
    }
}
