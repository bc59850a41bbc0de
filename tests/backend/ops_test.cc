// Every op of every backend against the reference op (as llama.cpp's test-backend-ops and
// CTranslate2's ops_test): same inputs, same parameters, per dtype with a stated tolerance,
// on awkward shapes (1, 7, 63, 513 rows; head dims 32, 64 and 128). Shared fixture and
// tolerances: ops_test_util.h; attention: ops_attention_test.cc; the primitives (add,
// activate, glu, scale, pool, norm weight offset) and epilogues: ops_prims_test.cc.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ops_test_util.h"

namespace crossrank::opstest {
namespace {

TEST_P(OpsTest, Linear) {
  for (int M : {1, 7, 63, 513}) {
    for (auto [K, N] : {std::pair{64, 96}, std::pair{384, 1536}}) {
      for (Epilogue e : {Epilogue::kNone, Epilogue::kGelu, Epilogue::kSwiGlu, Epilogue::kResidual}) {
        for (bool bias : {true, false}) {
          for (ActUse use : {ActUse::kGemmInput, ActUse::kPlain}) {
            Tensors t;
            LinearDesc d;
            d.name = "t.lin";
            d.epilogue = e;
            // Two stacked blocks (as Q|K|V or gate|up are).
            d.weights = {t.add("w0", {N / 2, K}, 1.f / std::sqrt(float(K))), t.add("w1", {N / 2, K}, 1.f / std::sqrt(float(K)))};
            if (bias) d.biases = {t.add("b0", {N / 2}, 0.1f), t.add("b1", {N / 2}, 0.1f)};
            const int outN = e == Epilogue::kSwiGlu ? N / 2 : N;
            const auto x = random_vec(static_cast<std::size_t>(M) * K, 1.f, M + K);
            const auto y0 = random_vec(static_cast<std::size_t>(M) * outN, 1.f, 99);
            const PackedBatch b = make_batch({M}, 10);
            char what[96];
            std::snprintf(what, sizeof what, "linear M%d K%d N%d epi%d bias%d use%d", M, K, N, int(e), bias, int(use));
            compare(what, b, [&](Side& s) {
              auto p = s.ops->prepare_linear(d);
              Act in = s.input(M, K, x, use);
              Act out = s.input(M, outN, y0, ActUse::kGemmInput);
              s.ops->linear(in, *p, out);
              return s.ops->read(out);
            });
          }
        }
      }
    }
  }
}

TEST_P(OpsTest, LinearAddNorm) {
  for (int M : {1, 7, 63, 513}) {
    for (NormKind nk : {NormKind::kLayerNorm, NormKind::kRmsNorm}) {
      const int K = 256, N = 96;
      Tensors t;
      LinearDesc d;
      d.name = "t.out";
      d.epilogue = Epilogue::kResidual;
      d.weights = {t.add("w", {N, K}, 1.f / 16)};
      d.biases = {t.add("b", {N}, 0.1f)};
      NormDesc nd;
      nd.kind = nk;
      nd.weight = t.add("g", {N}, 0.1f, 1.f);
      nd.bias = nk == NormKind::kLayerNorm ? t.add("beta", {N}, 0.1f) : nullptr;
      nd.eps = 1e-5f;
      const auto x = random_vec(static_cast<std::size_t>(M) * K, 1.f, 3);
      const auto r = random_vec(static_cast<std::size_t>(M) * N, 2.f, 4);
      char what[64];
      std::snprintf(what, sizeof what, "linear_add_norm M%d %s", M, nk == NormKind::kLayerNorm ? "LN" : "RMS");
      compare(what, make_batch({M}, 10), [&](Side& s) {
        auto p = s.ops->prepare_linear(d);
        auto n = s.ops->prepare_norm(nd);
        Act in = s.input(M, K, x);
        Act res = s.input(M, N, r);
        s.ops->linear_add_norm(in, *p, res, *n);
        return s.ops->read(res);
      });
    }
  }
}

TEST_P(OpsTest, NormAndGroupNorm) {
  for (int M : {1, 7, 63, 513}) {
    for (NormKind nk : {NormKind::kLayerNorm, NormKind::kRmsNorm}) {
      for (int group : {0, 32, 128}) {
        const int C = 256, g = group ? group : C;
        Tensors t;
        NormDesc nd;
        nd.kind = nk;
        nd.weight = t.add("g", {g}, 0.1f, 1.f);
        nd.bias = nk == NormKind::kLayerNorm ? t.add("beta", {g}, 0.1f) : nullptr;
        nd.eps = 1e-6f;
        const auto x = random_vec(static_cast<std::size_t>(M) * C, 3.f, 5);
        char what[64];
        std::snprintf(what, sizeof what, "norm M%d %s group %d", M, nk == NormKind::kLayerNorm ? "LN" : "RMS", group);
        compare(what, make_batch({M}, 10), [&](Side& s) {
          auto n = s.ops->prepare_norm(nd);
          Act in = s.input(M, C, x, ActUse::kPlain);
          Act out = s.ops->alloc(M, C, ActUse::kGemmInput);
          s.ops->norm(in, *n, out, group);
          s.ops->norm(out, *n, out, group);  // in place
          return s.ops->read(out);
        });
      }
    }
  }
}

TEST_P(OpsTest, Embed) {
  for (bool bf16_tables : {false, true}) {
    const std::vector<int> lens = {1, 7, 63, 513};
    const int H = 64, V = 50, P = 600;
    Tensors t;
    EmbedDesc e;
    e.word = t.add("word", {V, H}, 0.5f);
    e.position = t.add("pos", {P, H}, 0.5f);
    e.type = t.add("type", {2, H}, 0.5f);
    e.has_norm = true;
    e.norm.weight = t.add("g", {H}, 0.1f, 1.f);
    e.norm.bias = t.add("b", {H}, 0.1f);
    e.norm.eps = 1e-12f;
    std::vector<std::uint16_t> raw;
    if (bf16_tables) {
      // The word table as BF16 (as a BF16 checkpoint stores it): backends read it as is.
      const auto f = e.word->f32();
      for (float v : f) {
        std::uint32_t u;
        std::memcpy(&u, &v, 4);
        raw.push_back(static_cast<std::uint16_t>(u >> 16));
      }
      HostTensor h;
      h.name = "word16";
      h.type = SrcType::kBF16;
      h.shape = {V, H};
      h.data = raw.data();
      t.map.add_view(h, nullptr);
      e.word = t.map.find("word16");
    }
    const PackedBatch b = make_batch(lens, V);
    compare(bf16_tables ? "embed+LN (bf16 word table)" : "embed+LN", b, [&](Side& s) {
      auto p = s.ops->prepare_embedding(e);
      Act out = s.ops->alloc(b.total_tokens(), H, ActUse::kGemmInput);
      s.ops->embed(*p, out);
      return s.ops->read(out);
    });
  }
  // Without positions, types or norm (decoder embeddings).
  const std::vector<int> lens = {7, 63};
  Tensors t;
  EmbedDesc e;
  e.word = t.add("word", {50, 128}, 1.f);
  const PackedBatch b = make_batch(lens, 50);
  compare("embed (word only)", b, [&](Side& s) {
    auto p = s.ops->prepare_embedding(e);
    Act out = s.ops->alloc(b.total_tokens(), 128);
    s.ops->embed(*p, out);
    return s.ops->read(out);
  });
}

TEST_P(OpsTest, Rope) {
  const std::vector<int> lens = {1, 7, 63, 513};
  const PackedBatch b = make_batch(lens, 10);
  const int T = b.total_tokens(), D = 128;
  RopeDesc r;
  r.head_dim = D;
  r.rotary_dim = D;
  r.theta = 1e6f;
  const auto qk = random_vec(static_cast<std::size_t>(T) * 6 * D, 1.f, 13);
  compare("rope (q 4 heads, k 2 heads, D 128)", b, [&](Side& s) {
    Act all = s.input(T, 6 * D, qk, ActUse::kPlain);
    Act q = all.cols_view(0, 4 * D), k = all.cols_view(4 * D, 2 * D);
    s.ops->rope(q, k, r);
    return s.ops->read(all);
  });
}

TEST_P(OpsTest, GatherRowsAndHead) {
  const std::vector<int> lens = {1, 7, 63, 513};
  const PackedBatch b = make_batch(lens, 10);
  const int T = b.total_tokens(), S = b.num_seqs(), H = 96;
  const auto x = random_vec(static_cast<std::size_t>(T) * H, 1.f, 17);
  for (RowSel sel : {RowSel::kFirst, RowSel::kLast}) {
    compare(sel == RowSel::kFirst ? "gather_rows first" : "gather_rows last", b, [&](Side& s) {
      Act in = s.input(T, H, x);
      Act out = s.ops->alloc(S, H, ActUse::kGemmInput);
      s.ops->gather_rows(in, sel, out);
      return s.ops->read(out);
    });
  }
  for (bool dense : {true, false}) {
    Tensors t;
    HeadDesc h;
    if (dense) {
      h.dense_w = t.add("dw", {H, H}, 0.1f);
      h.dense_b = t.add("db", {H}, 0.1f);
      h.out = t.add("ow", {1, H}, 1.f);
      h.out_b = t.add("ob", {1}, 0.1f);
    } else {
      h.out = t.add("lm", {40, H}, 0.1f);  // yes/no rows of an LM head
      h.out_rows = {7, 31};
    }
    // The head always runs in fp32 (logits are small differences of large sums).
    compare(dense ? "head dense+tanh, one row" : "head two rows (yes - no)", b,
            [&](Side& s) {
              auto p = s.ops->prepare_head(h);
              Act in = s.input(S, H, random_vec(static_cast<std::size_t>(S) * H, 1.f, 19));
              return s.ops->head(in, *p);
            },
            2e-5f / tol());
  }
}

TEST_P(OpsTest, DryRunMatchesPass) {
  // The sizing pass of an op sequence reserves at least what the real pass uses.
  const PackedBatch b = make_batch({5, 300, 1}, 10);
  auto ops = GetParam().make();
  Tensors t;
  LinearDesc d;
  d.name = "t.ffn_out";
  d.epilogue = Epilogue::kResidual;
  d.weights = {t.add("w", {64, 256}, 0.05f)};
  auto p = ops->prepare_linear(d);
  auto seq = [&](Ops& o) {
    Act in = o.alloc(b.total_tokens(), 256, ActUse::kPlain);
    Act out = o.alloc(b.total_tokens(), 64, ActUse::kGemmInput);
    if (!o.sizing()) {
      o.write(in, random_vec(static_cast<std::size_t>(b.total_tokens()) * 256, 1.f, 1));
      o.write(out, random_vec(static_cast<std::size_t>(b.total_tokens()) * 64, 1.f, 2));
    }
    o.linear(in, *p, out);
  };
  ops->begin_sizing(b);
  seq(*ops);
  const std::size_t need = ops->end();
  EXPECT_GT(need, 0u);
  char* arena = ops->allocate_arena(need);
  ops->begin(b, arena, need);
  EXPECT_NO_THROW(seq(*ops));  // an overflow would throw kInternal
  EXPECT_LE(ops->end(), need);
  ops->free_arena(arena, need);
}

// cpu int8 SmoothQuant: a linear prepared with input statistics (Ops::set_input_stats)
// gives x W^T like the reference, closer than without them when x has an outlier channel;
// an input whose companion was written for another linear (Act::next) is converted again
// and gives the same result as one written for this linear.
TEST(SmoothQuant, OutlierChannelLinear) {
  std::unique_ptr<Ops> probe;
  try {
    probe = make_cpu_ops(DType::kInt8);
  } catch (const Error& e) {
    GTEST_SKIP() << e.what();
  }
  ASSERT_TRUE(probe->wants_calibration());
  const int M = 63, K = 384, N = 96;
  Tensors t;
  LinearDesc d;
  d.name = "layer.0.ffn_in";
  d.weights = {t.add("w", {N, K}, 1.f / std::sqrt(float(K)))};
  d.biases = {t.add("b", {N}, 0.1f)};
  auto x = random_vec(static_cast<std::size_t>(M) * K, 1.f, 5);
  for (int m = 0; m < M; ++m) x[static_cast<std::size_t>(m) * K + 7] *= 60.f;  // a systematic outlier channel
  std::vector<float> amax(K, 0.f);
  for (int m = 0; m < M; ++m)
    for (int k = 0; k < K; ++k) amax[k] = std::max(amax[k], std::fabs(x[static_cast<std::size_t>(m) * K + k]));
  const PackedBatch b = make_batch({M}, 10);
  // mode 0: no statistics; 1: statistics, companion written for this linear; 2: statistics,
  // companion written for no linear (converted in the op).
  auto run = [&](std::unique_ptr<Ops> ops, int mode) {
    if (mode > 0) ops->set_input_stats({{d.name, amax}});
    auto p = ops->prepare_linear(d);
    Side s(std::move(ops), b);
    Act in = s.ops->alloc(M, K, ActUse::kGemmInput);
    in.next = mode == 1 ? p.get() : nullptr;
    s.ops->write(in, x);
    Act out = s.ops->alloc(M, N, ActUse::kGemmInput);
    s.ops->linear(in, *p, out);
    return s.ops->read(out);
  };
  const auto want = run(make_reference_ops(), 0);
  const double plain = rel_err(run(make_cpu_ops(DType::kInt8), 0), want);
  const auto sm = run(make_cpu_ops(DType::kInt8), 1);
  const double smooth = rel_err(sm, want);
  const double same = rel_err(run(make_cpu_ops(DType::kInt8), 2), sm);
  std::printf("    int8 rel err: %.3g without statistics, %.3g with; converted vs written %.3g\n", plain, smooth, same);
  EXPECT_LT(smooth, 0.5 * plain);
  EXPECT_LE(smooth, tolerance(DType::kInt8));
  EXPECT_LE(same, 1e-6);
}

INSTANTIATE_TEST_SUITE_P(Backends, OpsTest, ::testing::ValuesIn(targets()),
                         [](const ::testing::TestParamInfo<Target>& i) { return i.param.name; });

}  // namespace
}  // namespace crossrank::opstest
