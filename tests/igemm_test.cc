// igemm_u8s8 (src/backend/cpu/igemm.h): the exact u8 x s8 GEMM of CPUs without VNNI,
// against a naive int32 loop, on awkward shapes, extreme values and batch compositions.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "backend/cpu/igemm.h"
#include "backend/cpu/isa.h"

namespace crossrank::cpu {
namespace {

std::vector<int32_t> naive(const std::vector<uint8_t>& A, const std::vector<int8_t>& W, int M, int N, int K) {
  std::vector<int32_t> C(static_cast<std::size_t>(M) * N);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      int32_t s = 0;
      for (int k = 0; k < K; ++k) s += int32_t{A[static_cast<std::size_t>(m) * K + k]} * W[static_cast<std::size_t>(n) * K + k];
      C[static_cast<std::size_t>(m) * N + n] = s;
    }
  return C;
}

struct Case {
  int M, N, K;
};

TEST(Igemm, MatchesNaiveOnAwkwardShapes) {
  std::mt19937 rng(7);
  const Case cases[] = {{1, 1, 1},     {7, 17, 3},    {63, 16, 384}, {513, 33, 65}, {4, 100, 1024},
                        {97, 48, 257}, {6, 15, 4096}, {1, 1536, 384}, {200, 64, 300}};
  for (const Case& c : cases) {
    std::vector<uint8_t> A(static_cast<std::size_t>(c.M) * c.K);
    std::vector<int8_t> W(static_cast<std::size_t>(c.N) * c.K);
    for (auto& a : A) a = static_cast<uint8_t>(rng());
    for (auto& w : W) w = static_cast<int8_t>(rng());  // includes -128
    const PackedS8 P(W.data(), c.N, c.K);
    const auto want = naive(A, W, c.M, c.N, c.K);
    std::vector<int32_t> got(want.size(), -1), scalar(want.size(), -1);
    igemm_u8s8(A.data(), c.K, c.M, P, got.data(), c.N);
    igemm_u8s8_scalar(A.data(), c.K, c.M, P, scalar.data(), c.N);
    EXPECT_EQ(got, want) << "M " << c.M << " N " << c.N << " K " << c.K << " isa " << to_string(cpu_isa());
    EXPECT_EQ(scalar, want) << "M " << c.M << " N " << c.N << " K " << c.K;
  }
}

TEST(Igemm, ExtremesDoNotSaturate) {
  // 255 x 127 and 255 x -128 pairs: the products that vpmaddubsw would saturate.
  const int M = 5, N = 19, K = 4097;
  std::vector<uint8_t> A(static_cast<std::size_t>(M) * K, 255);
  std::vector<int8_t> W(static_cast<std::size_t>(N) * K);
  for (int n = 0; n < N; ++n)
    for (int k = 0; k < K; ++k) W[static_cast<std::size_t>(n) * K + k] = n % 2 ? 127 : -128;
  const PackedS8 P(W.data(), N, K);
  std::vector<int32_t> C(static_cast<std::size_t>(M) * N);
  igemm_u8s8(A.data(), K, M, P, C.data(), N);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) EXPECT_EQ(C[static_cast<std::size_t>(m) * N + n], 255 * (n % 2 ? 127 : -128) * K);
}

TEST(Igemm, RowIsIndependentOfTheBatchAndStrides) {
  std::mt19937 rng(11);
  const int N = 40, K = 777, M = 131;
  std::vector<uint8_t> A(static_cast<std::size_t>(M) * K);
  std::vector<int8_t> W(static_cast<std::size_t>(N) * K);
  for (auto& a : A) a = static_cast<uint8_t>(rng());
  for (auto& w : W) w = static_cast<int8_t>(rng());
  const PackedS8 P(W.data(), N, K);
  std::vector<int32_t> all(static_cast<std::size_t>(M) * N);
  igemm_u8s8(A.data(), K, M, P, all.data(), N);
  // Each row alone, into a wider output (ldc > N), equals its row in the batch.
  for (int m : {0, 5, 64, 130}) {
    std::vector<int32_t> one(N + 9, -7);
    igemm_u8s8(A.data() + static_cast<std::size_t>(m) * K, K, 1, P, one.data(), N + 9);
    for (int n = 0; n < N; ++n) EXPECT_EQ(one[n], all[static_cast<std::size_t>(m) * N + n]);
    EXPECT_EQ(one[N], -7);  // nothing written past N
  }
}

}  // namespace
}  // namespace crossrank::cpu
