// igemm_s16s8 (src/backend/cpu/igemm.h): the exact 16-bit-lane GEMM of CPUs without VNNI,
// against a naive integer loop, on awkward shapes, extreme values (u8 x s8 products that
// vpmaddubsw would saturate, and the ends of igemm_range) and batch compositions.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <algorithm>
#include <string>
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

// u8 activations as the s16 operands igemm_s16s8 takes (values 0..255 are in range).
std::vector<int16_t> widen(const std::vector<uint8_t>& a) { return {a.begin(), a.end()}; }

struct Case {
  int M, N, K;
};

TEST(Igemm, MatchesNaiveOnAwkwardShapes) {
  std::mt19937 rng(7);
  const Case cases[] = {{1, 1, 1},     {7, 17, 3},    {63, 16, 384}, {513, 33, 65}, {4, 100, 1024},
                        {97, 48, 257}, {6, 15, 4096}, {1, 1536, 384}, {200, 64, 300},
                        {13, 40, 3200}, {12, 16, 1537}};
  for (const Case& c : cases) {
    std::vector<uint8_t> A(static_cast<std::size_t>(c.M) * c.K);
    std::vector<int8_t> W(static_cast<std::size_t>(c.N) * c.K);
    for (auto& a : A) a = static_cast<uint8_t>(rng());
    for (auto& w : W) w = static_cast<int8_t>(rng());  // includes -128
    const PackedS8 P(W.data(), c.N, c.K);
    const auto want = naive(A, W, c.M, c.N, c.K);
    std::vector<int32_t> got(want.size(), -1), scalar(want.size(), -1);
    const std::vector<int16_t> A16 = widen(A);
    igemm_s16s8(A16.data(), c.K, c.M, P, got.data(), c.N);
    igemm_s16s8_scalar(A16.data(), c.K, c.M, P, scalar.data(), c.N);
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
  igemm_s16s8(widen(A).data(), K, M, P, C.data(), N);
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
  const std::vector<int16_t> A16 = widen(A);
  igemm_s16s8(A16.data(), K, M, P, all.data(), N);
  // Each row alone, into a wider output (ldc > N), equals its row in the batch.
  for (int m : {0, 5, 64, 130}) {
    std::vector<int32_t> one(N + 9, -7);
    igemm_s16s8(A16.data() + static_cast<std::size_t>(m) * K, K, 1, P, one.data(), N + 9);
    for (int n = 0; n < N; ++n) EXPECT_EQ(one[n], all[static_cast<std::size_t>(m) * N + n]);
    EXPECT_EQ(one[N], -7);  // nothing written past N
  }
}

// The epilogue form hands every output to the callback exactly once, in blocks of at most
// 16 columns starting at a panel, with the same sums the stored form writes.
TEST(Igemm, EpilogueSeesEverySumOnce) {
  std::mt19937 rng(17);
  for (const Case& c : {Case{1, 1, 1}, Case{7, 17, 3}, Case{200, 40, 1537}, Case{97, 48, 4096}}) {
    std::vector<uint8_t> A(static_cast<std::size_t>(c.M) * c.K);
    std::vector<int8_t> W(static_cast<std::size_t>(c.N) * c.K);
    for (auto& a : A) a = static_cast<uint8_t>(rng());
    for (auto& w : W) w = static_cast<int8_t>(rng());
    const PackedS8 P(W.data(), c.N, c.K);
    const auto want = naive(A, W, c.M, c.N, c.K);
    const std::vector<int16_t> A16 = widen(A);
    std::vector<int32_t> got(want.size(), -1);
    std::vector<int> seen(want.size(), 0);
    igemm_s16s8(A16.data(), c.K, c.M, P, [&](int m0, int rows, int n0, int nvalid, const int32_t* sums) {
      ASSERT_EQ(n0 % 16, 0);
      ASSERT_TRUE(nvalid >= 1 && nvalid <= 16 && n0 + nvalid <= c.N);
      for (int r = 0; r < rows; ++r)
        for (int j = 0; j < nvalid; ++j) {
          const std::size_t i = static_cast<std::size_t>(m0 + r) * c.N + n0 + j;
#pragma omp atomic
          ++seen[i];
          got[i] = sums[16 * r + j];
        }
    });
    EXPECT_EQ(got, want) << "M " << c.M << " N " << c.N << " K " << c.K << " isa " << to_string(cpu_isa());
    EXPECT_EQ(seen, std::vector<int>(want.size(), 1));
  }
}

// Extra rows (the 16-bit pooled rows) ride along with the epilogue form: their sums are
// stored exactly, the main rows still reach the epilogue once, whatever M and K.
TEST(Igemm, ExtraRowsRideAlong) {
  std::mt19937 rng(19);
  for (const Case& c : {Case{1, 17, 3}, Case{7, 40, 1537}, Case{200, 33, 4096}, Case{97, 16, 384}}) {
    for (int M2 : {1, 2, 6, 9}) {
      std::vector<uint8_t> A(static_cast<std::size_t>(c.M + M2) * c.K);
      std::vector<int8_t> W(static_cast<std::size_t>(c.N) * c.K);
      for (auto& a : A) a = static_cast<uint8_t>(rng());
      for (auto& w : W) w = static_cast<int8_t>(rng());
      const PackedS8 P(W.data(), c.N, c.K);
      const auto want = naive(A, W, c.M + M2, c.N, c.K);  // main rows, then the extra rows
      const std::vector<int16_t> A16 = widen(A);
      std::vector<int32_t> got(static_cast<std::size_t>(c.M) * c.N, -1), extra(static_cast<std::size_t>(M2) * (c.N + 3), -7);
      const IgemmExtra x{A16.data() + static_cast<std::size_t>(c.M) * c.K, static_cast<std::size_t>(c.K), M2, extra.data(),
                         static_cast<std::size_t>(c.N + 3)};
      igemm_s16s8(A16.data(), c.K, c.M, P, [&](int m0, int rows, int n0, int nvalid, const int32_t* sums) {
        for (int r = 0; r < rows; ++r)
          for (int j = 0; j < nvalid; ++j) got[static_cast<std::size_t>(m0 + r) * c.N + n0 + j] = sums[16 * r + j];
      }, &x);
      const std::string at = "M " + std::to_string(c.M) + " M2 " + std::to_string(M2) + " N " + std::to_string(c.N) +
                             " K " + std::to_string(c.K) + " isa " + to_string(cpu_isa());
      EXPECT_TRUE(std::equal(got.begin(), got.end(), want.begin())) << at;
      for (int r = 0; r < M2; ++r) {
        for (int n = 0; n < c.N; ++n)
          ASSERT_EQ(extra[static_cast<std::size_t>(r) * (c.N + 3) + n], want[static_cast<std::size_t>(c.M + r) * c.N + n]) << at;
        ASSERT_EQ(extra[static_cast<std::size_t>(r) * (c.N + 3) + c.N], -7) << at;  // nothing past N
      }
    }
  }
}

// igemm_s16s8 with weights and activations at the ends of igemm_range(K): exact, no s32
// overflow, on the scalar and the dispatched kernel, for the K of published rerankers.
TEST(Igemm, S16AtTheRangeLimitsIsExact) {
  std::mt19937 rng(13);
  for (int K : {1, 7, 384, 1024, 1536, 3072, 4096, 9728, 12288}) {
    const IgemmRange r = igemm_range(K);
    ASSERT_GE(r.w, 127) << K;  // never narrower than 8-bit weights at these K
    ASSERT_LT(static_cast<double>(r.w) * r.a * K, 2147483648.0) << K;
    ASSERT_LT(255.0 * r.w * K, 2147483648.0) << K;
    const int M = 9, N = 21;
    std::vector<int16_t> A(static_cast<std::size_t>(M) * K), W(static_cast<std::size_t>(N) * K);
    // Rows 0-1: all at +-a x +-w (the largest sums); the rest random within the range.
    for (int m = 0; m < M; ++m)
      for (int k = 0; k < K; ++k)
        A[static_cast<std::size_t>(m) * K + k] =
            m == 0 ? r.a : m == 1 ? -r.a : static_cast<int16_t>(static_cast<int>(rng() % (2 * r.a + 1)) - r.a);
    for (int n = 0; n < N; ++n)
      for (int k = 0; k < K; ++k)
        W[static_cast<std::size_t>(n) * K + k] =
            n % 3 == 0 ? r.w : n % 3 == 1 ? -r.w : static_cast<int16_t>(static_cast<int>(rng() % (2 * r.w + 1)) - r.w);
    const PackedS8 P(W.data(), N, K);
    std::vector<int32_t> got(static_cast<std::size_t>(M) * N), scalar(got.size());
    igemm_s16s8(A.data(), K, M, P, got.data(), N);
    igemm_s16s8_scalar(A.data(), K, M, P, scalar.data(), N);
    for (int m = 0; m < M; ++m)
      for (int n = 0; n < N; ++n) {
        int64_t want = 0;
        for (int k = 0; k < K; ++k)
          want += int64_t{A[static_cast<std::size_t>(m) * K + k]} * W[static_cast<std::size_t>(n) * K + k];
        ASSERT_EQ(got[static_cast<std::size_t>(m) * N + n], want) << "K " << K << " m " << m << " n " << n;
        ASSERT_EQ(scalar[static_cast<std::size_t>(m) * N + n], want) << "K " << K;
      }
  }
}

}  // namespace
}  // namespace crossrank::cpu
