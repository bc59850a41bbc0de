// Attention of every backend against the reference (see ops_test_util.h for targets and
// tolerances): bidirectional and causal, grouped-query heads, first / last-row queries,
// shared-prefix parents, sliding windows (both directions, with parents) and logit
// soft-capping, on awkward lengths (1, 7, 63, 513).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ops_test_util.h"

namespace crossrank::opstest {
namespace {

struct AttnCase {
  std::vector<int> lens;
  int heads, kv_heads, D;
  RowSel rows;
  bool causal;
  std::vector<int32_t> parent;
  int window = 0;
  float softcap = 0.f;
};

AttnDesc attn_desc(const AttnCase& c) {
  AttnDesc d;
  d.heads = c.heads;
  d.kv_heads = c.kv_heads;
  d.head_dim = c.D;
  d.scale = 1.0f / std::sqrt(static_cast<float>(c.D));
  d.q_rows = c.rows;
  d.causal = c.causal;
  d.window = c.window;
  d.softcap = c.softcap;
  return d;
}

// out = attention(Q, K, V) with Q, K, V as column views of one fused [T, (H + 2 KV) D]
// buffer, as models produce them (a separate Q for first / last-row queries).
std::vector<float> run_attention(Side& s, const AttnCase& c, const PackedBatch& b) {
  const int T = b.total_tokens(), Q = selected_rows(b, c.rows);
  const int qc = c.heads * c.D, kc = c.kv_heads * c.D;
  const auto qkv = random_vec(static_cast<std::size_t>(T) * (qc + 2 * kc), 2.f, 11);
  const auto q_sel = random_vec(static_cast<std::size_t>(Q) * qc, 2.f, 12);
  Act all = s.input(T, qc + 2 * kc, qkv, ActUse::kPlain);
  Act q = c.rows == RowSel::kAll ? all.cols_view(0, qc) : s.input(Q, qc, q_sel, ActUse::kPlain);
  Act out = s.ops->alloc(Q, qc, ActUse::kGemmInput);
  s.ops->attention(attn_desc(c), q, all.cols_view(qc, kc), all.cols_view(qc + kc, kc), out);
  return s.ops->read(out);
}

std::string describe(const AttnCase& c) {
  char what[128];
  std::snprintf(what, sizeof what, "attention H%d KV%d D%d rows%d causal%d prefix%d window%d softcap%g", c.heads,
                c.kv_heads, c.D, int(c.rows), c.causal, !c.parent.empty(), c.window, c.softcap);
  return what;
}

TEST_P(OpsTest, Attention) {
  const std::vector<AttnCase> cases = {
      {{1, 7, 63, 513}, 4, 4, 32, RowSel::kAll, false, {}},
      {{1, 7, 63, 513}, 4, 4, 64, RowSel::kAll, false, {}},
      {{1, 7, 63, 513}, 2, 2, 64, RowSel::kFirst, false, {}},
      {{1, 7, 63, 513}, 4, 2, 128, RowSel::kAll, true, {}},   // causal, grouped-query
      {{1, 7, 63, 513}, 4, 2, 128, RowSel::kLast, true, {}},  // decoder last-row queries
      {{9, 5, 1, 30}, 4, 1, 64, RowSel::kAll, true, {-1, 0, 0, 0}},   // shared prefix
      {{9, 5, 1, 30}, 4, 1, 64, RowSel::kLast, true, {-1, 0, 0, 0}},  // prefix, last rows
  };
  for (const AttnCase& c : cases) {
    const PackedBatch b = make_batch(c.lens, 10, c.parent);
    compare(describe(c).c_str(), b, [&](Side& s) { return run_attention(s, c, b); });
  }
}

// Sliding windows: bidirectional (ModernBERT's local layers: window = local_attention / 2)
// on the encoder kernels (one KV head per query head) and on the general path (grouped-
// query), causal (Gemma 2 / Qwen2 sliding_window - 1), first / last-row queries, and with a
// shared-prefix parent (the window counts the parent's tokens first).
TEST_P(OpsTest, AttentionWindow) {
  const std::vector<int> lens = {1, 7, 63, 513};
  const std::vector<int32_t> none;
  const std::vector<AttnCase> cases = {
      {lens, 4, 4, 64, RowSel::kAll, false, none, 64},   // ModernBERT base: local_attention 128
      {lens, 4, 4, 32, RowSel::kAll, false, none, 1},
      {lens, 4, 4, 64, RowSel::kAll, false, none, 300},  // wider than most sequences
      {lens, 2, 2, 64, RowSel::kFirst, false, none, 5},
      {lens, 4, 2, 64, RowSel::kAll, false, none, 16},  // grouped-query, bidirectional
      {lens, 4, 2, 128, RowSel::kAll, true, none, 16},  // causal
      {lens, 4, 2, 128, RowSel::kLast, true, none, 40},
      {{9, 5, 1, 30}, 4, 1, 64, RowSel::kAll, true, {-1, 0, 0, 0}, 6},
      {{9, 5, 1, 30}, 4, 1, 64, RowSel::kLast, true, {-1, 0, 0, 0}, 12},
      {{9, 5, 1, 30}, 4, 1, 64, RowSel::kAll, false, {-1, 0, 0, 0}, 4},
  };
  for (const AttnCase& c : cases) {
    const PackedBatch b = make_batch(c.lens, 10, c.parent);
    compare(describe(c).c_str(), b, [&](Side& s) { return run_attention(s, c, b); });
  }
}

// Logit soft-capping (Gemma 2: 50 on real models; 3 here so that it bends the scores of
// these inputs, whose scaled scores have a standard deviation of ~4), alone and with a
// causal window.
TEST_P(OpsTest, AttentionSoftcap) {
  const std::vector<int> lens = {1, 7, 63, 513};
  const std::vector<int32_t> none;
  const std::vector<AttnCase> cases = {
      {lens, 4, 4, 64, RowSel::kAll, false, none, 0, 3.f},
      {lens, 2, 2, 64, RowSel::kFirst, false, none, 0, 3.f},
      {lens, 4, 4, 64, RowSel::kAll, false, none, 20, 3.f},
      {lens, 4, 2, 128, RowSel::kAll, true, none, 0, 3.f},
      {lens, 4, 2, 128, RowSel::kLast, true, none, 32, 50.f},
      {{9, 5, 1, 30}, 4, 1, 64, RowSel::kAll, true, {-1, 0, 0, 0}, 6, 3.f},
  };
  for (const AttnCase& c : cases) {
    const PackedBatch b = make_batch(c.lens, 10, c.parent);
    compare(describe(c).c_str(), b, [&](Side& s) { return run_attention(s, c, b); });
  }
}

// The cpu encoder kernels with small query / key blocks: a window spans several key blocks
// (online-softmax rescaling across them, rows whose window misses a block entirely).
TEST(CpuAttention, WindowAcrossKeyBlocks) {
  const std::vector<int> lens = {1, 7, 63, 513};
  const PackedBatch b = make_batch(lens, 10);
  for (int window : {1, 20, 100}) {
    for (float cap : {0.f, 3.f}) {
      for (RowSel rows : {RowSel::kAll, RowSel::kFirst}) {
        const AttnCase c{lens, 4, 4, 64, rows, false, {}, window, cap};
        for (DType dt : {DType::kFp32, DType::kBf16}) {
          cpu::CpuOpsOptions o;
          o.attn_q_block = 16;
          o.attn_k_block = 32;
          Side ref(make_reference_ops(), b), got(cpu::make_cpu_ops_ex(dt, o), b);
          const double e = rel_err(run_attention(got, c, b), run_attention(ref, c, b));
          std::printf("    [cpu_%s q16 k32] %-60s rel err %.3g\n", to_string(dt), describe(c).c_str(), e);
          EXPECT_LE(e, tolerance(dt)) << describe(c);
        }
      }
    }
  }
}

// --deterministic: a sequence's windowed / soft-capped attention is bit-identical alone and
// inside a batch with longer and shorter sequences (other block sizes, other tasks).
TEST(CpuAttention, WindowBatchInvariant) {
  const int H = 4, D = 64, C = 3 * H * D;
  const std::vector<int> alone = {200}, mixed = {5, 200, 700, 1};
  const auto mine = random_vec(static_cast<std::size_t>(200) * C, 2.f, 31);
  for (bool causal : {false, true}) {
    for (int window : {0, 1, 64}) {
      AttnDesc d;
      d.heads = d.kv_heads = H;
      d.head_dim = D;
      d.scale = 0.125f;
      d.causal = causal;
      d.window = window;
      d.softcap = window == 1 ? 0.f : 3.f;
      std::vector<std::vector<float>> out;
      for (const auto* lens : {&alone, &mixed}) {
        const PackedBatch b = make_batch(*lens, 10);
        const int T = b.total_tokens(), r0 = lens->size() == 1 ? 0 : 5;
        auto x = random_vec(static_cast<std::size_t>(T) * C, 2.f, 32);
        std::copy(mine.begin(), mine.end(), x.begin() + static_cast<std::ptrdiff_t>(r0) * C);
        Side s(make_cpu_ops(DType::kFp32, true), b);
        Act all = s.input(T, C, x, ActUse::kPlain);
        Act o = s.ops->alloc(T, H * D);
        s.ops->attention(d, all.cols_view(0, H * D), all.cols_view(H * D, H * D), all.cols_view(2 * H * D, H * D), o);
        const auto v = s.ops->read(o);
        out.emplace_back(v.begin() + static_cast<std::ptrdiff_t>(r0) * H * D,
                         v.begin() + static_cast<std::ptrdiff_t>(r0 + 200) * H * D);
      }
      EXPECT_EQ(0, std::memcmp(out[0].data(), out[1].data(), out[0].size() * sizeof(float)))
          << "causal " << causal << " window " << window;
    }
  }
}

// A sliding window costs O(L x window), not O(L^2): at L = 4096 a window of 64 (ModernBERT's
// local layers) runs several times faster than full attention, on the encoder kernels (one
// KV head per query head) and on the general path (grouped-query). Measured on a 2-core
// Zen 3: 12x (5x at L = 2048); the bound (3x) leaves room for a loaded machine.
TEST(CpuAttention, WindowCostIsLinear) {
  const int L = 4096, D = 64;
  const PackedBatch b = make_batch({L}, 10);
  for (int kv : {4, 2}) {
    const auto qkv = random_vec(static_cast<std::size_t>(L) * (4 + 2 * kv) * D, 1.f, 41);
    double best[2] = {1e30, 1e30};
    for (int window : {0, 64}) {
      AttnDesc d;
      d.heads = 4;
      d.kv_heads = kv;
      d.head_dim = D;
      d.scale = 0.125f;
      d.window = window;
      Side s(make_cpu_ops(DType::kFp32), b);
      Act all = s.input(L, (4 + 2 * kv) * D, qkv, ActUse::kPlain);
      Act out = s.ops->alloc(L, 4 * D);
      for (int rep = 0; rep < 2; ++rep) {
        const auto t0 = std::chrono::steady_clock::now();
        s.ops->attention(d, all.cols_view(0, 4 * D), all.cols_view(4 * D, kv * D), all.cols_view((4 + kv) * D, kv * D),
                         out);
        best[window > 0] = std::min(best[window > 0], std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
    }
    std::printf("    [cpu_fp32] L %d, kv heads %d: full %.1f ms, window 64 %.1f ms (%.1fx)\n", L, kv, best[0] * 1e3,
                best[1] * 1e3, best[0] / best[1]);
    EXPECT_GE(best[0] / best[1], 3.0) << "kv heads " << kv;
  }
}

}  // namespace
}  // namespace crossrank::opstest
