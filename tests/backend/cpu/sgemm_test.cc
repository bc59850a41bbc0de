// sgemm_det (src/backend/cpu/sgemm.h): every output is fixed-chunk fma chains over k in order,
// added in order, so a row's result is bit-identical alone, in any batch, at any position and
// thread count.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "backend/cpu/isa.h"
#include "backend/cpu/sgemm.h"

namespace crossrank::cpu {
namespace {

// The contract, written out: per chunk of kSgemmChunk, s_j = a[k] w[k] + ... with one rounding
// per fma from 0; the result is ((init + s_0) + s_1) + ...
float chain(const float* a, const float* w, int K, float init) {
  float run = init;
  for (int k0 = 0; k0 < K; k0 += kSgemmChunk) {
    float s = 0.f;
    for (int k = k0; k < std::min(K, k0 + kSgemmChunk); ++k) s = std::fma(a[k], w[k], s);
    run += s;
  }
  return run;
}

struct Data {
  int M, N, K;
  std::vector<float> A, W, b;
  Data(int M_, int N_, int K_, unsigned seed) : M(M_), N(N_), K(K_) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd;
    A.resize(static_cast<std::size_t>(M) * K);
    W.resize(static_cast<std::size_t>(N) * K);
    b.resize(N);
    for (auto& x : A) x = nd(rng);
    for (auto& x : W) x = nd(rng) * 0.1f;
    for (auto& x : b) x = nd(rng);
  }
};

TEST(Sgemm, EqualsTheChainOnAwkwardShapes) {
  const int shapes[][3] = {{1, 1, 1}, {7, 17, 3}, {63, 33, 384}, {513, 16, 65}, {6, 100, 1024}, {9, 31, 300}, {13, 40, 2500}};
  for (const auto& s : shapes) {
    Data d(s[0], s[1], s[2], 5);
    for (bool with_bias : {false, true}) {
      const PackedF32 P(d.W.data(), d.N, d.K, with_bias ? d.b.data() : nullptr);
      std::vector<float> C(static_cast<std::size_t>(d.M) * d.N);
      sgemm_det(d.A.data(), d.K, d.M, P, C.data(), d.N);
      int bad = 0;
      for (int m = 0; m < d.M; ++m)
        for (int n = 0; n < d.N; ++n)
          bad += C[static_cast<std::size_t>(m) * d.N + n] !=
                 chain(&d.A[static_cast<std::size_t>(m) * d.K], &d.W[static_cast<std::size_t>(n) * d.K], d.K,
                       with_bias ? d.b[n] : 0.f);
      EXPECT_EQ(bad, 0) << "M " << d.M << " N " << d.N << " K " << d.K << " isa " << to_string(cpu_isa());
    }
  }
}

TEST(Sgemm, AccumulateContinuesFromC) {
  Data d(11, 40, 700, 9);
  const PackedF32 P(d.W.data(), d.N, d.K);
  std::vector<float> C(static_cast<std::size_t>(d.M) * d.N, 0.25f);
  sgemm_det(d.A.data(), d.K, d.M, P, C.data(), d.N, /*accumulate=*/true);
  for (int m = 0; m < d.M; ++m)
    for (int n = 0; n < d.N; ++n)
      ASSERT_EQ(C[static_cast<std::size_t>(m) * d.N + n],
                chain(&d.A[static_cast<std::size_t>(m) * d.K], &d.W[static_cast<std::size_t>(n) * d.K], d.K, 0.25f));
}

TEST(Sgemm, RowIsBatchAndThreadInvariant) {
  Data d(300, 96, 1024, 13);
  const PackedF32 P(d.W.data(), d.N, d.K, d.b.data());
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  std::vector<float> ref(static_cast<std::size_t>(d.M) * d.N);
  for (int m = 0; m < d.M; ++m)  // every row alone, one thread
    sgemm_det(&d.A[static_cast<std::size_t>(m) * d.K], d.K, 1, P, &ref[static_cast<std::size_t>(m) * d.N], d.N);
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    for (int M : {2, 7, 64, 97, 300}) {
      std::vector<float> C(static_cast<std::size_t>(M) * d.N);
      sgemm_det(d.A.data(), d.K, M, P, C.data(), d.N);
      EXPECT_EQ(std::memcmp(C.data(), ref.data(), C.size() * 4), 0) << "M " << M << " threads " << threads;
    }
  }
  omp_set_num_threads(saved);
}

}  // namespace
}  // namespace crossrank::cpu
