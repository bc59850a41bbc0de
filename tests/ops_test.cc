// Every op of every backend against the reference op (as llama.cpp's test-backend-ops and
// CTranslate2's ops_test): same inputs, same parameters, per dtype with a stated tolerance,
// on awkward shapes (1, 7, 63, 513 rows; head dims 32, 64 and 128).
//
// Error measure: max |got - ref| / max(1, max |ref|) over the output (relative to the
// output's scale). Tolerances are ~3x the worst case measured over these cases (CPU ops,
// AMD EPYC Zen 4, 2026-11-29: fp32 1.7e-6, bf16 5.9e-3, int8 1.6e-2):
//   fp32 1e-5 (summation order only), bf16 2e-2 (8-bit mantissa operands, fp32 sums),
//   int8 4e-2 (per-token u8 activations, per-channel s8 weights), fp16 1e-2.
// Backends that cannot run here (CUDA without a GPU) skip with a message.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "backend/backend.h"
#include "backend/cpu/cpu_ops.h"
#include "util/error.h"
#ifdef CROSSRANK_WITH_CUDA
#include "cuda_emu/emu_ops.h"
#endif

namespace crossrank {
namespace {

struct Target {
  std::string name;  // "cpu-fp32", ...
  DType dtype;
  std::function<std::unique_ptr<Ops>()> make;
};

std::vector<Target> targets() {
  std::vector<Target> t;
  t.push_back({"cpu_fp32", DType::kFp32, [] { return make_cpu_ops(DType::kFp32); }});
  t.push_back({"cpu_bf16", DType::kBf16, [] { return make_cpu_ops(DType::kBf16); }});
  t.push_back({"cpu_bf16emu", DType::kBf16, [] {
                 cpu::CpuOpsOptions o;
                 o.force_bf16_emulation = true;
                 return cpu::make_cpu_ops_ex(DType::kBf16, o);
               }});
  t.push_back({"cpu_int8", DType::kInt8, [] { return make_cpu_ops(DType::kInt8); }});
  t.push_back({"cuda_fp16", DType::kFp16, [] { return make_cuda_ops(DType::kFp16); }});
  t.push_back({"cuda_bf16", DType::kBf16, [] { return make_cuda_ops(DType::kBf16); }});
  t.push_back({"cuda_fp32", DType::kFp32, [] { return make_cuda_ops(DType::kFp32); }});
#ifdef CROSSRANK_WITH_CUDA
  // The CUDA kernels on the host emulator (tests/cuda_emu): sm_80 takes the tensor-core
  // attention for fp16 / bf16, sm_75 the simple path.
  t.push_back({"cuda_emu_fp16", DType::kFp16, [] { return cuda::make_cuda_emu_ops(DType::kFp16, 80); }});
  t.push_back({"cuda_emu_bf16", DType::kBf16, [] { return cuda::make_cuda_emu_ops(DType::kBf16, 80); }});
  t.push_back({"cuda_emu_fp32", DType::kFp32, [] { return cuda::make_cuda_emu_ops(DType::kFp32, 80); }});
  t.push_back({"cuda_emu_fp16_sm75", DType::kFp16, [] { return cuda::make_cuda_emu_ops(DType::kFp16, 75); }});
#endif
  return t;
}

float tolerance(DType d) {
  switch (d) {
    case DType::kFp32: return 1e-5f;
    case DType::kBf16: return 2e-2f;
    case DType::kFp16: return 1e-2f;
    case DType::kInt8: return 4e-2f;
  }
  return 0.f;
}

// Random tensors registered in a TensorMap (the way models see weights).
struct Tensors {
  TensorMap map;
  std::mt19937 rng{1234};
  const HostTensor* add(const std::string& name, std::vector<std::int64_t> shape, float scale, float offset = 0.f) {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    std::normal_distribution<float> nd(0.f, 1.f);
    std::vector<float> v(static_cast<std::size_t>(n));
    for (auto& x : v) x = offset + scale * nd(rng);
    map.add_owned(name, shape, std::move(v));
    return map.find(name);
  }
};

std::vector<float> random_vec(std::size_t n, float scale, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

// A batch of sequences with the given lengths (ids < vocab, positions from 0 or from a
// parent's length, token types alternating).
PackedBatch make_batch(const std::vector<int>& lens, int vocab, const std::vector<int32_t>& parent = {}) {
  PackedBatch b;
  b.cu_seqlens.push_back(0);
  std::mt19937 rng(7);
  for (std::size_t s = 0; s < lens.size(); ++s) {
    const int start = parent.empty() || parent[s] < 0 ? 0 : lens[parent[s]];
    for (int i = 0; i < lens[s]; ++i) {
      b.input_ids.push_back(static_cast<int32_t>(rng() % vocab));
      b.token_type_ids.push_back(i % 2);
      b.position_ids.push_back(start + i);
    }
    b.cu_seqlens.push_back(b.cu_seqlens.back() + lens[s]);
    b.max_seqlen = std::max(b.max_seqlen, lens[s]);
  }
  b.parent = parent;
  return b;
}

// One backend's view of a test: ops, an arena, a pass over `batch`.
struct Side {
  std::unique_ptr<Ops> ops;
  char* arena = nullptr;
  std::size_t bytes = std::size_t(192) << 20;
  Side(std::unique_ptr<Ops> o, const PackedBatch& b) : ops(std::move(o)) {
    arena = ops->allocate_arena(bytes);
    ops->begin(b, arena, bytes);
  }
  ~Side() {
    ops->end();
    ops->free_arena(arena, bytes);
  }
  Act input(int rows, int cols, const std::vector<float>& v, ActUse use = ActUse::kGemmInput) {
    Act a = ops->alloc(rows, cols, use);
    ops->write(a, v);
    return a;
  }
};

double rel_err(const std::vector<float>& got, const std::vector<float>& want) {
  EXPECT_EQ(got.size(), want.size());
  double mx = 0, scale = 1;
  for (std::size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    mx = std::max(mx, static_cast<double>(std::fabs(got[i] - want[i])));
    scale = std::max(scale, static_cast<double>(std::fabs(want[i])));
  }
  return mx / scale;
}

class OpsTest : public ::testing::TestWithParam<Target> {
 protected:
  void SetUp() override {
    try {
      probe_ = GetParam().make();
    } catch (const Error& e) {
      GTEST_SKIP() << GetParam().name << " not available here: " << e.what();
    }
  }
  float tol() const { return tolerance(GetParam().dtype); }
  // Runs `fn` on the reference and on the target over `batch`; compares what it returns.
  void compare(const char* what, const PackedBatch& batch, const std::function<std::vector<float>(Side&)>& fn,
               float tol_scale = 1.f) {
    Side ref(make_reference_ops(), batch), got(GetParam().make(), batch);
    const auto want = fn(ref), have = fn(got);
    const double e = rel_err(have, want);
    std::printf("    [%s] %-40s rel err %.3g (tol %.3g)\n", GetParam().name.c_str(), what, e, tol() * tol_scale);
    EXPECT_LE(e, tol() * tol_scale) << what;
  }
  std::unique_ptr<Ops> probe_;
};

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

struct AttnCase {
  std::vector<int> lens;
  int heads, kv_heads, D;
  RowSel rows;
  bool causal;
  std::vector<int32_t> parent;
};

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
    const int T = b.total_tokens(), Q = selected_rows(b, c.rows);
    AttnDesc d;
    d.heads = c.heads;
    d.kv_heads = c.kv_heads;
    d.head_dim = c.D;
    d.scale = 1.0f / std::sqrt(static_cast<float>(c.D));
    d.q_rows = c.rows;
    d.causal = c.causal;
    // Q, K, V as column views of one fused [T, (H + 2 KV) D] buffer, as models produce them.
    const int qc = c.heads * c.D, kc = c.kv_heads * c.D;
    const auto qkv = random_vec(static_cast<std::size_t>(T) * (qc + 2 * kc), 2.f, 11);
    const auto q_sel = random_vec(static_cast<std::size_t>(Q) * qc, 2.f, 12);
    char what[96];
    std::snprintf(what, sizeof what, "attention H%d KV%d D%d rows%d causal%d prefix%d", c.heads, c.kv_heads, c.D,
                  int(c.rows), c.causal, !c.parent.empty());
    compare(what, b, [&](Side& s) {
      Act all = s.input(T, qc + 2 * kc, qkv, ActUse::kPlain);
      Act q = c.rows == RowSel::kAll ? all.cols_view(0, qc) : s.input(Q, qc, q_sel, ActUse::kPlain);
      Act out = s.ops->alloc(Q, qc, ActUse::kGemmInput);
      s.ops->attention(d, q, all.cols_view(qc, kc), all.cols_view(qc + kc, kc), out);
      return s.ops->read(out);
    });
  }
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

INSTANTIATE_TEST_SUITE_P(Backends, OpsTest, ::testing::ValuesIn(targets()),
                         [](const ::testing::TestParamInfo<Target>& i) { return i.param.name; });

}  // namespace
}  // namespace crossrank
