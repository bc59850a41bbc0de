// The CPU backend's decoder attention (src/backend/cpu/attention_causal.cc) against the
// reference op on the shapes tests/backend/ops_test.cc does not reach: sequences and shared parents
// longer than one key block (512) and one task's query rows (128), several KV groups, head
// dims that are not multiples of 8, every row selection, causal and not.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "backend/backend.h"

namespace crossrank {
namespace {

struct Case {
  std::vector<int> lens;
  std::vector<int32_t> parent;
  int heads, kv_heads, D;
  RowSel rows;
  bool causal;
};

PackedBatch batch_of(const Case& c) {
  PackedBatch b;
  b.cu_seqlens.push_back(0);
  for (size_t s = 0; s < c.lens.size(); ++s) {
    const int start = c.parent.empty() || c.parent[s] < 0 ? 0 : c.lens[c.parent[s]];
    for (int i = 0; i < c.lens[s]; ++i) {
      b.input_ids.push_back(1);
      b.token_type_ids.push_back(0);
      b.position_ids.push_back(start + i);
    }
    b.cu_seqlens.push_back(b.cu_seqlens.back() + c.lens[s]);
    b.max_seqlen = std::max(b.max_seqlen, c.lens[s]);
  }
  b.parent = c.parent;
  return b;
}

std::vector<float> run(Ops& ops, const Case& c, const PackedBatch& b, const std::vector<float>& qkv,
                       const std::vector<float>& qsel) {
  const int T = b.total_tokens(), Q = selected_rows(b, c.rows), qc = c.heads * c.D, kc = c.kv_heads * c.D;
  AttnDesc d;
  d.heads = c.heads;
  d.kv_heads = c.kv_heads;
  d.head_dim = c.D;
  d.scale = 1.0f / std::sqrt(static_cast<float>(c.D));
  d.q_rows = c.rows;
  d.causal = c.causal;
  auto pass = [&](bool sizing, char* arena, std::size_t bytes) {
    if (sizing) ops.begin_sizing(b);
    else ops.begin(b, arena, bytes);
    Act all = ops.alloc(T, qc + 2 * kc);
    Act qs = ops.alloc(Q, qc);
    Act out = ops.alloc(Q, qc, ActUse::kGemmInput);
    std::vector<float> r;
    if (!sizing) {
      ops.write(all, qkv);
      ops.write(qs, qsel);
    }
    Act q = c.rows == RowSel::kAll ? all.cols_view(0, qc) : qs;
    ops.attention(d, q, all.cols_view(qc, kc), all.cols_view(qc + kc, kc), out);
    if (!sizing) r = ops.read(out);
    const std::size_t used = ops.end();
    return std::make_pair(r, used);
  };
  const std::size_t need = pass(true, nullptr, 0).second;
  char* arena = ops.allocate_arena(need);
  auto r = pass(false, arena, need).first;  // an arena overflow (sizing disagreeing) throws
  ops.free_arena(arena, need);
  return r;
}

TEST(Qwen3Attention, BlockedCpuKernelMatchesReference) {
  const std::vector<Case> cases = {
      {{1300, 700, 5, 130}, {-1, 0, 0, 0}, 8, 2, 64, RowSel::kAll, true},   // parent > a key block
      {{1300, 700, 5, 130}, {-1, 0, 0, 0}, 8, 2, 64, RowSel::kLast, true},
      {{600, 1, 257}, {-1, 0, -1}, 4, 4, 128, RowSel::kAll, true},           // MHA, one-token child
      {{40, 300, 2}, {-1, 0, 0}, 6, 3, 24, RowSel::kAll, false},              // bidirectional + parent, D % 8 != 0
      {{1100, 3}, {}, 4, 1, 16, RowSel::kFirst, true},                        // MQA, first rows
      {{1100, 3}, {}, 4, 2, 128, RowSel::kAll, false},                        // bidirectional GQA, no parent
      {{2100}, {}, 16, 8, 128, RowSel::kLast, true},                          // the 0.6B heads, last row
  };
  auto ref = make_reference_ops();
  auto cpu = make_cpu_ops(DType::kFp32);
  for (const Case& c : cases) {
    const PackedBatch b = batch_of(c);
    const int T = b.total_tokens(), Q = selected_rows(b, c.rows), qc = c.heads * c.D, kc = c.kv_heads * c.D;
    std::mt19937 rng(T + c.D);
    std::normal_distribution<float> nd(0.f, 1.5f);
    std::vector<float> qkv(static_cast<size_t>(T) * (qc + 2 * kc)), qsel(static_cast<size_t>(Q) * qc);
    for (auto& x : qkv) x = nd(rng);
    for (auto& x : qsel) x = nd(rng);
    const auto want = run(*ref, c, b, qkv, qsel), got = run(*cpu, c, b, qkv, qsel);
    ASSERT_EQ(want.size(), got.size());
    double err = 0, scale = 1;
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_TRUE(std::isfinite(got[i]));
      err = std::max(err, static_cast<double>(std::abs(got[i] - want[i])));
      scale = std::max(scale, static_cast<double>(std::abs(want[i])));
    }
    std::printf("    attention T%d H%d KV%d D%d rows%d causal%d parents%d: rel err %.2e\n", T, c.heads, c.kv_heads,
                c.D, static_cast<int>(c.rows), c.causal, !c.parent.empty(), err / scale);
    EXPECT_LE(err / scale, 1e-5);
  }
}

}  // namespace
}  // namespace crossrank
