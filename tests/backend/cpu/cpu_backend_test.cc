// Tests of the optimised CPU backend (src/backend/cpu) against the fp32 reference backend.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "backend/cpu/cpu_ops.h"
#include "backend/cpu/isa.h"
#include "backend/cpu/kernels.h"
#include "batch/packed_batch.h"
#include "model/architecture.h"
#include "model/config.h"
#include "model/weights.h"
#include "test_util.h"

namespace crossrank {
namespace {

using cpu::CpuOpsOptions;

// Synthetic weights with their config (what a backend is built from).
struct Weights {
  ModelConfig config;
  std::shared_ptr<const TensorMap> tensors;
  const Weights* operator->() const { return this; }
};
Weights synthetic(const ModelConfig& c, uint64_t seed) { return {c, synthetic_weights(c, seed)}; }

// Derived fields after a test edits a built-in shape.
ModelConfig derived(ModelConfig c) {
  c.kv_heads = c.heads;
  c.head_dim = c.hidden / c.heads;
  c.max_length = c.max_position_embeddings - (c.pad_token_id + 1);
  return c;
}

std::unique_ptr<Backend> make_cpu_backend(const Weights& w, DType dt, const CpuOpsOptions& o = {},
                                          const RunnerOptions& r = {}) {
  return make_backend(cpu::make_cpu_ops_ex(dt, o), w.config, w.tensors, r);
}
std::unique_ptr<Backend> make_reference_backend(const Weights& w) {
  return make_backend(make_reference_ops(), w.config, w.tensors);
}

const char* dt_name(DType d) {
  return d == DType::kFp32 ? "fp32" : d == DType::kBf16 ? "bf16" : d == DType::kInt8 ? "int8" : "fp16";
}

// A 4-layer, 256-hidden XLM-R shaped model (head_dim 64 like the real rerankers).
ModelConfig mid_config() {
  ModelConfig c = synthetic_config("tiny-xlmr");
  c.layers = 4;
  c.hidden = 256;
  c.heads = 4;
  c.intermediate = 1024;
  c.vocab_size = 1000;
  c.max_position_embeddings = 1026;
  return derived(c);
}

std::vector<EncodedPair> random_pairs(const ModelConfig& c, const std::vector<int>& lengths, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<EncodedPair> out;
  for (int L : lengths) {
    EncodedPair p;
    for (int i = 0; i < L; ++i) {
      p.ids.push_back(static_cast<int32_t>(rng() % c.vocab_size));
      // BERT-style: first half type 0, second half type 1.
      p.type_ids.push_back(c.type_vocab_size > 1 && i >= L / 2 ? 1 : 0);
    }
    out.push_back(std::move(p));
  }
  return out;
}

PackedBatch pack(const std::vector<EncodedPair>& pairs, const ModelConfig& c) {
  std::vector<const EncodedPair*> ptrs;
  for (const auto& p : pairs) ptrs.push_back(&p);
  return pack_batch(ptrs, c);
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float m = 0.f;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

Weights tiny(const char* name, uint64_t seed = 3) { return synthetic(synthetic_config(name), seed); }

// ---------------------------------------------------------------------------------------
// Row kernels.

// Every ISA level this CPU has (the scalar table is the reference semantics).
TEST(CpuBackend, KernelsMatchScalar) {
  const cpu::RowKernels& ref = cpu::row_kernels(cpu::Isa::kScalar);
  for (int level = 0; level <= static_cast<int>(cpu::detected_isa()); ++level) {
    const cpu::RowKernels& k = cpu::row_kernels(static_cast<cpu::Isa>(level));
    SCOPED_TRACE(cpu::to_string(static_cast<cpu::Isa>(level)));
    std::printf("    [%s] row kernels vs scalar\n", cpu::to_string(static_cast<cpu::Isa>(level)));
    std::mt19937 rng(7);
    std::normal_distribution<float> nd(0.f, 2.f);
    for (int n : {1, 7, 8, 15, 16, 33, 1024, 4099}) {
      std::vector<float> x(n), y(n), g(n), b(n);
      for (auto& v : x) v = nd(rng);
      for (auto& v : g) v = 1.f + 0.1f * nd(rng);
      for (auto& v : b) v = 0.1f * nd(rng);
      // GELU
      y = x;
      k.gelu(y.data(), n);
      for (int i = 0; i < n; ++i) ASSERT_NEAR(y[i], cpu::gelu_erf_scalar(x[i]), 2e-6f * (1 + std::fabs(x[i]))) << i;
      // SwiGLU over [gate | up]
      {
        std::vector<float> z(2 * n), w(n), w0(n);
        for (auto& v : z) v = nd(rng);
        k.swiglu(z.data(), n, w.data());
        ref.swiglu(z.data(), n, w0.data());
        for (int i = 0; i < n; ++i) ASSERT_NEAR(w[i], w0[i], 1e-5f * (1 + std::fabs(w0[i]))) << i;
      }
      // Activations, gated units and soft-capping (vs the scalar table, which is std::erf /
      // std::tanh / std::exp)
      for (cpu::RowAct a : {cpu::RowAct::kIdentity, cpu::RowAct::kGeluErf, cpu::RowAct::kGeluTanh, cpu::RowAct::kSilu,
                            cpu::RowAct::kTanh}) {
        std::vector<float> z(2 * n), w(n), w0(n);
        for (auto& v : z) v = nd(rng);
        k.act(a, z.data(), n, w.data());
        ref.act(a, z.data(), n, w0.data());
        for (int i = 0; i < n; ++i) ASSERT_NEAR(w[i], w0[i], 2e-6f * (1 + std::fabs(w0[i]))) << "act " << int(a) << " " << i;
        k.glu(a, z.data(), n, w.data());
        ref.glu(a, z.data(), n, w0.data());
        for (int i = 0; i < n; ++i) ASSERT_NEAR(w[i], w0[i], 1e-5f * (1 + std::fabs(w0[i]))) << "glu " << int(a) << " " << i;
      }
      for (float cap : {0.5f, 3.f, 50.f}) {
        std::vector<float> w = x, w0 = x;
        k.softcap(w.data(), n, cap);
        ref.softcap(w0.data(), n, cap);
        for (int i = 0; i < n; ++i) ASSERT_NEAR(w[i], w0[i], 1e-6f * (1 + std::fabs(w0[i]))) << "softcap " << i;
      }
      // LayerNorm (with residual, with and without bias) vs double
      std::vector<float> r(n);
      for (auto& v : r) v = nd(rng);
      for (bool with_bias : {true, false}) {
        y = x;
        k.add_layer_norm(y.data(), r.data(), n, g.data(), with_bias ? b.data() : nullptr, 1e-5f);
        double mean = 0, var = 0;
        for (int i = 0; i < n; ++i) mean += double(x[i]) + r[i];
        mean /= n;
        for (int i = 0; i < n; ++i) var += (double(x[i]) + r[i] - mean) * (double(x[i]) + r[i] - mean);
        var /= n;
        for (int i = 0; i < n; ++i) {
          const double want = (double(x[i]) + r[i] - mean) / std::sqrt(var + 1e-5) * g[i] + (with_bias ? b[i] : 0.0);
          ASSERT_NEAR(y[i], want, 1e-5) << i;
        }
      }
      // RMSNorm vs double
      y = x;
      k.add_rms_norm(y.data(), nullptr, n, g.data(), 1e-6f);
      {
        double ss = 0;
        for (int i = 0; i < n; ++i) ss += double(x[i]) * x[i];
        const double inv = 1.0 / std::sqrt(ss / n + 1e-6);
        for (int i = 0; i < n; ++i) ASSERT_NEAR(y[i], g[i] * x[i] * inv, 1e-5 * (1 + std::fabs(x[i]))) << i;
      }
      // exp / softmax pieces
      y = x;
      const float mx = k.max(y.data(), n);
      EXPECT_EQ(mx, *std::max_element(x.begin(), x.end()));
      const float sum = k.exp_sub_sum(y.data(), n, mx);
      double dsum = 0;
      for (int i = 0; i < n; ++i) {
        // the kernel sees x - mx rounded to float (relative error <= 2^-24 * |x - mx| in exp)
        const double want = std::exp(double(x[i]) - mx);
        dsum += want;
        ASSERT_NEAR(y[i], want, (3e-7 + 6e-8 * std::fabs(double(x[i]) - mx)) * want + 1e-30) << i;
      }
      EXPECT_NEAR(sum, dsum, 1e-5 * dsum);
      // u8 quantisation: |x - scale (q - zp)| <= scale / 2 (+ rounding slack), same as scalar
      std::vector<uint8_t> q(n), q0(n);
      float scale, scale0;
      int32_t zp, zp0;
      k.quantize_u8(x.data(), n, q.data(), &scale, &zp);
      ref.quantize_u8(x.data(), n, q0.data(), &scale0, &zp0);
      EXPECT_EQ(scale, scale0);
      EXPECT_EQ(zp, zp0);
      for (int i = 0; i < n; ++i) {
        ASSERT_LE(std::fabs(x[i] - scale * (int(q[i]) - zp)), 0.5001f * scale + 1e-6f) << i;
        ASSERT_EQ(q[i], q0[i]) << i;
      }
      // s16 quantisation (igemm_s16s8): |x - scale q| <= scale / 2, |q| <= qmax, same as scalar
      for (int qmax : {724, 2364, 16383}) {
        std::vector<int16_t> s16(n), s160(n);
        float sc, sc0;
        k.quantize_s16(x.data(), n, qmax, s16.data(), &sc);
        ref.quantize_s16(x.data(), n, qmax, s160.data(), &sc0);
        EXPECT_EQ(sc, sc0);
        for (int i = 0; i < n; ++i) {
          ASSERT_LE(std::abs(int(s16[i])), qmax) << i;
          ASSERT_LE(std::fabs(x[i] - sc * s16[i]), 0.5001f * sc + 1e-6f) << i;
          ASSERT_EQ(s16[i], s160[i]) << i;
        }
      }
      // int8 epilogue: exact integer part, one fp32 rounding
      {
        std::vector<int32_t> acc(n), ws(n);
        std::vector<float> sw(n), bias(n), d(n), d0(n);
        for (int i = 0; i < n; ++i) acc[i] = static_cast<int32_t>(rng() % 200000) - 100000, ws[i] = static_cast<int32_t>(rng() % 2000) - 1000;
        for (auto& v : sw) v = 1e-3f * (1.f + std::fabs(nd(rng)));
        for (auto& v : bias) v = nd(rng);
        const cpu::RowScale q{0.01f, 17};
        k.dequant(acc.data(), 0, 1, n, &q, ws.data(), sw.data(), bias.data(), d.data(), 0);
        ref.dequant(acc.data(), 0, 1, n, &q, ws.data(), sw.data(), bias.data(), d0.data(), 0);
        for (int i = 0; i < n; ++i) ASSERT_NEAR(d[i], d0[i], 1e-5f * (1 + std::fabs(d0[i]))) << i;
        // a block of rows (strided, one scale per row) equals the rows one at a time
        if (n >= 3) {
          const int c = n / 3;
          const cpu::RowScale qs[3] = {{0.01f, 17}, {0.5f, 0}, {2e-3f, -4}};
          std::vector<float> b(n, 0.f);
          k.dequant(acc.data(), c, 3, c, qs, ws.data(), sw.data(), bias.data(), b.data(), c);
          for (int r = 0; r < 3; ++r) {
            std::vector<float> one(c);
            k.dequant(acc.data() + r * c, 0, 1, c, qs + r, ws.data(), sw.data(), bias.data(), one.data(), 0);
            for (int i = 0; i < c; ++i) ASSERT_EQ(b[r * c + i], one[i]) << r << " " << i;
          }
        }
      }
      // bf16 conversions match the scalar RNE bit for bit
      std::vector<uint16_t> h(n);
      k.to_bf16(x.data(), n, h.data());
      k.round_bf16(x.data(), n, y.data());
      for (int i = 0; i < n; ++i) {
        ASSERT_EQ(h[i], cpu::f32_to_bf16_rne(x[i])) << i;
        ASSERT_EQ(y[i], cpu::bf16_to_f32(h[i])) << i;
      }
    }
    // a row of zeros quantises to exact zeros
    std::vector<float> z(40, 0.f);
    std::vector<uint8_t> q(40);
    float scale;
    int32_t zp;
    k.quantize_u8(z.data(), 40, q.data(), &scale, &zp);
    for (auto v : q) EXPECT_EQ(int(v) - zp, 0);
  }
}

// ---------------------------------------------------------------------------------------
// fp32 against the reference.

void expect_close_to_reference(const Weights& w, const std::vector<int>& lengths, DType dt, float tol,
                               const CpuOpsOptions& opts = {}) {
  const auto pairs = random_pairs(w->config, lengths, 11);
  const PackedBatch b = pack(pairs, w->config);
  const auto ref = make_reference_backend(w)->forward(b);
  auto be = make_cpu_backend(w, dt, opts);
  const auto got = be->forward(b);
  const float d = max_abs_diff(ref, got);
  float scale = 0.f;
  for (float v : ref) scale = std::max(scale, std::fabs(v));
  std::printf("    [%s %s] max|dlogit| = %.3g (max|logit| %.3g)\n", dt_name(dt),
              w->config.hidden == 256 ? "mid 4x256" : std::string(w->config.family()) == "bert" ? "tiny-bert" : "tiny-xlmr", d,
              scale);
  EXPECT_LE(d, tol);
}

TEST(CpuBackend, Fp32MatchesReferenceTinyXlmr) {
  expect_close_to_reference(tiny("tiny-xlmr"), {1, 2, 7, 64, 513, 3, 100}, DType::kFp32, 1e-4f);
}

TEST(CpuBackend, Fp32MatchesReferenceTinyBert) {
  expect_close_to_reference(tiny("tiny-bert"), {1, 2, 7, 64, 512, 33}, DType::kFp32, 1e-4f);
}

TEST(CpuBackend, Fp32MatchesReferenceMidSize) {
  expect_close_to_reference(synthetic(mid_config(), 5), {1, 2, 7, 64, 513, 200}, DType::kFp32, 1e-4f);
}

TEST(CpuBackend, Fp32MatchesReferenceOddHeadDim) {
  // head_dim 12 (not a multiple of 8): attention takes the oneDNN-sgemm path.
  ModelConfig c = synthetic_config("tiny-xlmr");
  c.hidden = 48;
  c.heads = 4;
  c.intermediate = 96;
  c = derived(c);
  expect_close_to_reference(synthetic(c, 4), {1, 2, 7, 64, 300}, DType::kFp32, 1e-4f);
  expect_close_to_reference(synthetic(c, 4), {1, 2, 7, 64, 300}, DType::kInt8, 5e-2f);
}

TEST(CpuBackend, Bf16MatchesReference) {
  expect_close_to_reference(tiny("tiny-xlmr"), {1, 2, 7, 64, 513}, DType::kBf16, 3e-2f);
  expect_close_to_reference(tiny("tiny-bert"), {1, 2, 7, 64, 512}, DType::kBf16, 3e-2f);
  expect_close_to_reference(synthetic(mid_config(), 5), {1, 2, 7, 64, 513, 200}, DType::kBf16, 3e-2f);
}

TEST(CpuBackend, Fp16Throws) {
  try {
    make_cpu_backend(tiny("tiny-xlmr"), DType::kFp16);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("fp16 is a GPU dtype"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------------------------------
// int8: ranking agreement with fp32 over 240 sequences (4 "queries" x 60 "passages").

double spearman(const std::vector<float>& a, const std::vector<float>& b) {
  auto ranks = [](const std::vector<float>& v) {
    std::vector<int> idx(v.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::sort(idx.begin(), idx.end(), [&](int i, int j) { return v[i] < v[j]; });
    std::vector<double> r(v.size());
    for (size_t k = 0; k < idx.size(); ++k) r[idx[k]] = static_cast<double>(k);
    return r;
  };
  const auto ra = ranks(a), rb = ranks(b);
  const double n = static_cast<double>(a.size());
  double d2 = 0;
  for (size_t i = 0; i < a.size(); ++i) d2 += (ra[i] - rb[i]) * (ra[i] - rb[i]);
  return 1.0 - 6.0 * d2 / (n * (n * n - 1));
}

// NDCG@k of the ranking by `pred`, with gains 2^rel - 1, rel = 3 * (truth - min)/(max - min).
double ndcg_at(const std::vector<float>& truth, const std::vector<float>& pred, int k) {
  const float mn = *std::min_element(truth.begin(), truth.end()), mx = *std::max_element(truth.begin(), truth.end());
  auto gain = [&](int i) { return std::pow(2.0, 3.0 * (truth[i] - mn) / std::max(mx - mn, 1e-12f)) - 1.0; };
  auto dcg = [&](const std::vector<float>& by) {
    std::vector<int> idx(by.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::sort(idx.begin(), idx.end(), [&](int i, int j) { return by[i] > by[j]; });
    double s = 0;
    for (int r = 0; r < k && r < static_cast<int>(idx.size()); ++r) s += gain(idx[r]) / std::log2(r + 2.0);
    return s;
  };
  return dcg(pred) / dcg(truth);
}

TEST(CpuBackend, Int8RankingAgreement) {
  for (const char* which : {"mid", "tiny-xlmr"}) {
    auto w = std::string(which) == "mid" ? synthetic(mid_config(), 5) : tiny("tiny-xlmr");
    auto f32 = make_cpu_backend(w, DType::kFp32);
    auto i8 = make_cpu_backend(w, DType::kInt8);
    const int kQueries = 4, kPassages = 60;
    std::mt19937 rng(1234);
    std::vector<float> all_f, all_i;
    double min_ndcg = 1.0, sum_ndcg = 0.0;
    float maxd = 0.f;
    for (int q = 0; q < kQueries; ++q) {
      // Each "query" shares a prefix of 8 ids; passages are random with lengths 8..96.
      std::vector<int> lens;
      for (int p = 0; p < kPassages; ++p) lens.push_back(8 + static_cast<int>(rng() % 89));
      auto pairs = random_pairs(w->config, lens, 100 + q);
      for (auto& p : pairs)
        for (int i = 0; i < 8; ++i) p.ids[i] = static_cast<int32_t>((q * 131 + i * 17) % w->config.vocab_size);
      const PackedBatch b = pack(pairs, w->config);
      const auto lf = f32->forward(b), li = i8->forward(b);
      maxd = std::max(maxd, max_abs_diff(lf, li));
      const double n10 = ndcg_at(lf, li, 10);
      min_ndcg = std::min(min_ndcg, n10);
      sum_ndcg += n10;
      all_f.insert(all_f.end(), lf.begin(), lf.end());
      all_i.insert(all_i.end(), li.begin(), li.end());
    }
    const double rho = spearman(all_f, all_i);
    float spread = 0.f;
    {
      const auto [mn, mx] = std::minmax_element(all_f.begin(), all_f.end());
      spread = *mx - *mn;
    }
    std::printf("    [int8 %s] %zu seqs: Spearman %.5f, NDCG@10 mean %.5f min %.5f, max|dlogit| %.4f (fp32 logit range %.3f)\n",
                which, all_f.size(), rho, sum_ndcg / kQueries, min_ndcg, maxd, spread);
    EXPECT_GE(rho, 0.99);
    EXPECT_GE(sum_ndcg / kQueries, 0.99);
    EXPECT_LE(maxd, 0.1f * std::max(1.0f, spread));
  }
}

// ---------------------------------------------------------------------------------------
// Batch composition must not change a sequence's logit.

TEST(CpuBackend, BatchEqualsSingle) {
  auto w = synthetic(mid_config(), 9);
  const std::vector<int> lens = {1, 2, 7, 64, 513, 30};
  const auto pairs = random_pairs(w->config, lens, 21);
  for (DType dt : {DType::kFp32, DType::kBf16, DType::kInt8}) {
    auto be = make_cpu_backend(w, dt);
    const auto batched = be->forward(pack(pairs, w->config));
    std::vector<float> single;
    for (const auto& p : pairs) single.push_back(be->forward(pack({p}, w->config))[0]);
    const float d = max_abs_diff(batched, single);
    std::printf("    [%s] batch vs single max|d| = %.3g\n", dt_name(dt), d);
    EXPECT_LE(d, dt == DType::kFp32 ? 1e-5f : dt == DType::kInt8 ? 1e-4f : 1e-3f);
  }
}

TEST(CpuBackend, PermutationInvariance) {
  auto w = tiny("tiny-bert");
  auto pairs = random_pairs(w->config, {5, 1, 64, 2, 300, 7, 19}, 5);
  for (DType dt : {DType::kFp32, DType::kInt8}) {
    auto be = make_cpu_backend(w, dt);
    const auto base = be->forward(pack(pairs, w->config));
    std::vector<int> perm(pairs.size());
    std::iota(perm.begin(), perm.end(), 0);
    std::mt19937 rng(3);
    std::shuffle(perm.begin(), perm.end(), rng);
    std::vector<EncodedPair> shuffled;
    for (int i : perm) shuffled.push_back(pairs[i]);
    const auto got = be->forward(pack(shuffled, w->config));
    for (size_t i = 0; i < perm.size(); ++i) EXPECT_NEAR(got[i], base[perm[i]], 1e-5f) << i;
  }
}

TEST(CpuBackend, EmptyBatch) {
  auto be = make_cpu_backend(tiny("tiny-xlmr"), DType::kFp32);
  EXPECT_TRUE(be->forward(PackedBatch{}).empty());
  PackedBatch b;
  b.cu_seqlens = {0};
  EXPECT_TRUE(be->forward(b).empty());
  auto i8 = make_cpu_backend(tiny("tiny-xlmr"), DType::kInt8);
  EXPECT_TRUE(i8->forward(b).empty());
}

// ---------------------------------------------------------------------------------------
// Internal paths must agree with the default path.

TEST(CpuBackend, LastLayerShortcutIsExact) {
  auto w = synthetic(mid_config(), 13);
  const PackedBatch b = pack(random_pairs(w->config, {1, 3, 64, 513, 17}, 2), w->config);
  RunnerOptions off;
  off.last_layer_shortcut = false;
  for (DType dt : {DType::kFp32, DType::kBf16, DType::kInt8}) {
    const auto a = make_cpu_backend(w, dt)->forward(b);
    const auto c = make_cpu_backend(w, dt, {}, off)->forward(b);
    std::printf("    [%s] shortcut vs full last layer max|d| = %.3g\n", dt_name(dt), max_abs_diff(a, c));
    EXPECT_LE(max_abs_diff(a, c), dt == DType::kFp32 ? 1e-5f : 1e-3f);
  }
}

TEST(CpuBackend, AttentionBlockingAndFixedM) {
  auto w = synthetic(mid_config(), 17);
  const PackedBatch b = pack(random_pairs(w->config, {1, 5, 64, 513, 100}, 4), w->config);
  const auto base = make_cpu_backend(w, DType::kFp32)->forward(b);
  CpuOpsOptions blk;  // many query blocks and online-softmax key blocks per sequence
  blk.attn_q_block = 5;
  blk.attn_k_block = 16;
  EXPECT_LE(max_abs_diff(base, make_cpu_backend(w, DType::kFp32, blk)->forward(b)), 1e-5f);
  CpuOpsOptions fixed;
  fixed.force_fixed_m = true;
  EXPECT_LE(max_abs_diff(base, make_cpu_backend(w, DType::kFp32, fixed)->forward(b)), 1e-5f);
  CpuOpsOptions sg;  // oneDNN sgemm attention blocks instead of the AVX2 kernels
  sg.attn_sgemm = true;
  sg.attn_q_block = 7;
  sg.attn_k_block = 40;
  EXPECT_LE(max_abs_diff(base, make_cpu_backend(w, DType::kFp32, sg)->forward(b)), 1e-5f);
}

TEST(CpuBackend, LongSequenceMatchesReference) {
  // 3000 tokens with small feature dims: exercises 3 online-softmax key blocks per row.
  ModelConfig c = synthetic_config("tiny-xlmr");
  c.max_position_embeddings = 8194;
  c = derived(c);
  auto w = synthetic(c, 2);
  const PackedBatch b = pack(random_pairs(c, {3000, 9}, 8), c);
  const auto ref = make_reference_backend(w)->forward(b);
  auto be = make_cpu_backend(w, DType::kFp32);
  const auto got = be->forward(b);
  EXPECT_LE(max_abs_diff(ref, got), 1e-4f);
  // Attention scratch is O(q_block x k_block + L x D) per thread, not L^2: the arena stays
  // linear in T (an L^2 score matrix alone would be 36 MB here).
  const size_t arena = be->last_arena_bytes();
  EXPECT_LT(arena, size_t(4) << 20);
}

// ---------------------------------------------------------------------------------------
// activation_bytes is an upper bound of what forward allocates.

long proc_status_kb(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0) return std::stol(line.substr(key.size() + 1));
  return -1;
}

TEST(CpuBackend, ActivationBytesBound) {
  auto w = synthetic(mid_config(), 1);
  for (DType dt : {DType::kFp32, DType::kBf16, DType::kInt8}) {
    auto be = make_cpu_backend(w, dt);
    const auto pairs = random_pairs(w->config, {513, 513, 400, 64, 1}, 6);
    const PackedBatch b = pack(pairs, w->config);
    // Peak RSS during forward: reset the high-water mark (Linux clear_refs "5"), then VmHWM.
    const bool hwm_reset = static_cast<bool>(std::ofstream("/proc/self/clear_refs") << "5");
    const long rss0 = proc_status_kb("VmRSS");
    be->forward(b);
    const long hwm = proc_status_kb("VmHWM");
    const size_t est = be->activation_bytes(b.total_tokens(), b.max_seqlen, b.num_seqs());
    const size_t arena = be->last_arena_bytes();
    const size_t rss_growth = hwm_reset && hwm > rss0 ? static_cast<size_t>(hwm - rss0) * 1024 : 0;
    std::printf("    [%s] estimate %.1f MB, arena %.1f MB, peak RSS growth %.1f MB\n", dt_name(dt), est / 1e6,
                arena / 1e6, rss_growth / 1e6);
    EXPECT_GE(est, arena);
    EXPECT_LE(rss_growth, est);
    // Monotone in every argument.
    EXPECT_LE(be->activation_bytes(100, 50, 2), be->activation_bytes(200, 50, 2));
    EXPECT_LE(be->activation_bytes(100, 50, 2), be->activation_bytes(100, 100, 2));
    EXPECT_LE(be->activation_bytes(100, 50, 2), be->activation_bytes(100, 50, 4));
  }
}

// ---------------------------------------------------------------------------------------
// Real architecture shapes (synthetic weights, seed 0) against the Python goldens.

void check_golden(const char* model, float tol, float bf16_tol = 3e-2f) {
  const std::string path = test::test_data(std::string("goldens/synthetic-") + model + ".json");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not present";
  const auto j = nlohmann::json::parse(test::read_file(path));
  const ModelConfig c = synthetic_config(model);
  auto w = synthetic(c, 0);
  std::vector<EncodedPair> pairs;
  std::vector<float> want;
  for (const auto& cs : j.at("cases")) {
    EncodedPair p;
    p.ids = cs.at("ids").get<std::vector<int32_t>>();
    if (cs.contains("type_ids")) p.type_ids = cs.at("type_ids").get<std::vector<int32_t>>();
    pairs.push_back(std::move(p));
    want.push_back(cs.at("logit").get<float>());
  }
  auto be = make_cpu_backend(w, DType::kFp32);
  const auto got = be->forward(pack(pairs, c));
  float d = 0.f;
  for (size_t i = 0; i < want.size(); ++i) {
    std::printf("    [%s] len %5zu: golden %+.6f cpu %+.6f |d| %.2e\n", model, pairs[i].ids.size(), want[i], got[i],
                std::fabs(got[i] - want[i]));
    d = std::max(d, std::fabs(got[i] - want[i]));
  }
  std::printf("    [%s] max|d| = %.3g over %zu cases\n", model, d, want.size());
  EXPECT_LE(d, tol);
  be.reset();
  // The reduced-precision gates on the same goldens (cases up to 1024 tokens; the 8192
  // one would double the test's time): bf16 max |dlogit| <= 3e-2; int8 reported (its
  // gate is ranking agreement, tests/bench/quality_gate_test.cc).
  // The XLM-R shapes take a wider bf16_tol: their random-weight logits reach 3.0 (base) and
  // 4.9 (v2-m3), and bf16 itself moves them more than 3e-2. Measured on the same cases
  // (scripts/make_goldens.py's model, torch 2.15), max |d| against fp32:
  //   base:  torch autocast bf16 0.048, torch .to(bfloat16) 0.148, crossrank bf16 0.042;
  //   v2-m3: torch autocast bf16 0.150, torch .to(bfloat16) 0.529, crossrank bf16 0.103.
  // (scripts/bf16_vs_torch.py NAME reproduces the torch figures.)
  // Which fp32 GEMM sums the bf16-rounded operands changes which way later roundings fall,
  // so crossrank's figure is one draw of a random walk: emulated bf16 (AMD EPYC Zen 3, AVX2,
  // 2026-12-07) gave v2-m3 0.093 on oneDNN and 0.184 on sgemm_det, base 0.041 and 0.030.
  // Hence v2-m3's bound sits above torch autocast's 0.150, not above one crossrank draw.
  std::vector<EncodedPair> short_pairs;
  std::vector<float> short_want;
  for (size_t i = 0; i < pairs.size(); ++i)
    if (pairs[i].ids.size() <= 1024) short_pairs.push_back(pairs[i]), short_want.push_back(want[i]);
  for (DType dt : {DType::kBf16, DType::kInt8}) {
    auto lp = make_cpu_backend(w, dt);
    const auto g = lp->forward(pack(short_pairs, c));
    float dd = 0.f;
    for (size_t i = 0; i < g.size(); ++i) dd = std::max(dd, std::fabs(g[i] - short_want[i]));
    std::printf("    [%s %s] max|d| vs golden = %.3g over %zu cases\n", model, dt_name(dt), dd, g.size());
    if (dt == DType::kBf16) {
      EXPECT_LE(dd, bf16_tol);
    }
  }
}

// The published v2-m3 shape (24 x 1024, ~250 s on 2 Zen 3 cores; label slow): its bounded
// version in CI is BgeRerankerBaseShape, the same XLM-R architecture at 12 x 768.
TEST(CpuBackend, SlowV2M3Shape) { check_golden("bge-reranker-v2-m3", 1e-3f, 0.2f); }
TEST(CpuBackend, BgeRerankerBaseShape) { check_golden("bge-reranker-base", 1e-3f, 5e-2f); }
TEST(CpuBackend, MiniLmShape) { check_golden("ms-marco-MiniLM-L-6-v2", 1e-3f); }

}  // namespace
}  // namespace crossrank
