// The int8 ceiling of this CPU's vector units, in operations per cycle, from register-only
// instruction mixes (no memory traffic): how far int8 can go beyond fp32 on this CPU, whatever
// the GEMM kernel around it does. Issue 19 asks int8 on AVX2 for >= 1.7x fp32; this bench says
// whether the instructions allow it.
//
//   fp32 FMA          vfmadd231ps ymm (2 flops x 8 lanes)   - the fp32 GEMM's inner op
//   s16 madd          vpmaddwd alone (16 MACs)              - an upper bound, sums not kept
//   s16 madd + add    vpmaddwd + vpaddd, 8 accumulators     - igemm_s16s8's inner loop (exact)
//   u8s8 maddubs      vpmaddubsw + vpmaddwd(1) + vpaddd     - oneDNN's AVX2 int8 (saturates
//                                                             s16 pair sums; 7-bit operands)
//   VNNI vpdpbusd     zmm (64 MACs), AVX-512 VNNI only
// The clock is not known to user code: each rate is reported per FMA slot (fp32 FMA = 2 per
// cycle on every x86 core crossrank targets), so "x fp32" is the ratio of the int8 peak to
// the fp32 peak that any kernel built on that mix can reach.
//
// Usage: build/bench/isa_ceiling_bench
#include <immintrin.h>

#include <chrono>
#include <cstdio>

#include "backend/cpu/isa.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr long kIters = 100000000;

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

#define CR_KEEP(...) __asm__ volatile("" : __VA_ARGS__)

__attribute__((target("avx2,fma"), noinline)) double fma_rate() {
  __m256 a0 = _mm256_set1_ps(1.f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0;
  const __m256 b = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
  const auto t = Clock::now();
  for (long n = 0; n < kIters; ++n) {
#define F(x) x = _mm256_fmadd_ps(x, b, c)
    F(a0); F(a1); F(a2); F(a3); F(a4); F(a5); F(a6); F(a7); F(a8); F(a9);
#undef F
    CR_KEEP("+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5), "+x"(a6), "+x"(a7), "+x"(a8), "+x"(a9));
  }
  return 10.0 * kIters / since(t);  // instructions per second
}

__attribute__((target("avx2"), noinline)) double madd_rate() {
  __m256i a0 = _mm256_set1_epi16(1), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0;
  const __m256i w = _mm256_set1_epi16(1);
  const auto t = Clock::now();
  for (long n = 0; n < kIters; ++n) {
#define M(x) x = _mm256_madd_epi16(x, w)
    M(a0); M(a1); M(a2); M(a3); M(a4); M(a5); M(a6); M(a7); M(a8); M(a9);
#undef M
    CR_KEEP("+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5), "+x"(a6), "+x"(a7), "+x"(a8), "+x"(a9));
  }
  return 10.0 * kIters / since(t);
}

// The 4 x 16 tile's arithmetic: 8 accumulators, 2 weight vectors, 4 broadcast rows.
__attribute__((target("avx2"), noinline)) double madd_add_rate() {
  __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
  __m256i w0 = _mm256_set1_epi16(1), w1 = _mm256_set1_epi16(2), b0 = _mm256_set1_epi16(3), b1 = _mm256_set1_epi16(4),
          b2 = _mm256_set1_epi16(5), b3 = _mm256_set1_epi16(6);
  const auto t = Clock::now();
  for (long n = 0; n < kIters; ++n) {
#define S(c, b, w) c = _mm256_add_epi32(c, _mm256_madd_epi16(b, w))
    S(c0, b0, w0); S(c1, b0, w1); S(c2, b1, w0); S(c3, b1, w1); S(c4, b2, w0); S(c5, b2, w1); S(c6, b3, w0); S(c7, b3, w1);
#undef S
    CR_KEEP("+x"(c0), "+x"(c1), "+x"(c2), "+x"(c3), "+x"(c4), "+x"(c5), "+x"(c6), "+x"(c7), "+x"(w0), "+x"(w1));
  }
  return 8.0 * kIters / since(t);  // vpmaddwd per second
}

__attribute__((target("avx2"), noinline)) double maddubs_rate() {
  __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
  __m256i w0 = _mm256_set1_epi8(1), w1 = _mm256_set1_epi8(2), b0 = _mm256_set1_epi8(3), b1 = _mm256_set1_epi8(4),
          b2 = _mm256_set1_epi8(5), b3 = _mm256_set1_epi8(6);
  const __m256i one = _mm256_set1_epi16(1);
  const auto t = Clock::now();
  for (long n = 0; n < kIters; ++n) {
#define S(c, b, w) c = _mm256_add_epi32(c, _mm256_madd_epi16(_mm256_maddubs_epi16(b, w), one))
    S(c0, b0, w0); S(c1, b0, w1); S(c2, b1, w0); S(c3, b1, w1); S(c4, b2, w0); S(c5, b2, w1); S(c6, b3, w0); S(c7, b3, w1);
#undef S
    CR_KEEP("+x"(c0), "+x"(c1), "+x"(c2), "+x"(c3), "+x"(c4), "+x"(c5), "+x"(c6), "+x"(c7), "+x"(w0), "+x"(w1));
  }
  return 8.0 * kIters / since(t);  // 32-MAC steps per second
}

__attribute__((target("avx512f,avx512bw,avx512vnni"), noinline)) double vnni_rate() {
  __m512i a0 = _mm512_set1_epi32(1), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0;
  const __m512i u = _mm512_set1_epi8(1), w = _mm512_set1_epi8(1);
  const auto t = Clock::now();
  for (long n = 0; n < kIters; ++n) {
#define V(x) x = _mm512_dpbusd_epi32(x, u, w)
    V(a0); V(a1); V(a2); V(a3); V(a4); V(a5); V(a6); V(a7); V(a8); V(a9);
#undef V
    CR_KEEP("+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5), "+v"(a6), "+v"(a7), "+v"(a8), "+v"(a9));
  }
  return 10.0 * kIters / since(t);
}

__attribute__((target("avx512f"), noinline)) double fma512_rate() {
  __m512 a0 = _mm512_set1_ps(1.f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0;
  const __m512 b = _mm512_set1_ps(0.9999999f), c = _mm512_set1_ps(1e-7f);
  const auto t = Clock::now();
  for (long n = 0; n < kIters; ++n) {
#define F(x) x = _mm512_fmadd_ps(x, b, c)
    F(a0); F(a1); F(a2); F(a3); F(a4); F(a5); F(a6); F(a7); F(a8); F(a9);
#undef F
    CR_KEEP("+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5), "+v"(a6), "+v"(a7), "+v"(a8), "+v"(a9));
  }
  return 10.0 * kIters / since(t);
}

void row(const char* name, double ops_per_s, double fma_flops_per_s, const char* note) {
  std::printf("  %-34s %7.1f Gop/s  %5.2fx fp32   %s\n", name, ops_per_s / 1e9, ops_per_s / fma_flops_per_s, note);
}

}  // namespace

int main() {
  using crossrank::cpu::Isa;
  const Isa isa = crossrank::cpu::cpu_isa();
  std::printf("isa_ceiling_bench: one thread, register-only instruction mixes; ISA level %s\n",
              crossrank::cpu::to_string(isa));
  if (isa < Isa::kAvx2) {
    std::printf("  no AVX2: nothing to measure\n");
    return 0;
  }
  const double fma = fma_rate() * 16;  // flops per second, ymm
  row("fp32 FMA ymm (the fp32 peak)", fma, fma, "2 flops x 8 lanes");
  row("s16 vpmaddwd alone", madd_rate() * 32, fma, "upper bound, sums not accumulated");
  row("s16 vpmaddwd + vpaddd (exact)", madd_add_rate() * 32, fma, "igemm_s16s8's loop: gate-passing int8 on AVX2");
  row("u8s8 vpmaddubsw+vpmaddwd+vpaddd", maddubs_rate() * 64, fma, "saturating: 7-bit operands (fails the gate)");
  if (isa >= Isa::kAvx512) {
    const double f512 = fma512_rate() * 32;
    row("fp32 FMA zmm", f512, fma, "");
    if (isa >= Isa::kAvx512Bf16) row("VNNI vpdpbusd zmm", vnni_rate() * 128, f512, "x fp32 zmm");
  }
  return 0;
}
