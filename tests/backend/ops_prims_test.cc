// The primitives every backend implements (ops.h: add, activate, glu, scale, pool, norm
// with a weight offset) and the fused epilogues built from them (GELU-tanh, GeGLU erf /
// tanh), against the reference per backend and dtype (targets and tolerances:
// ops_test_util.h), on 1, 7, 63 and 513 rows. Each op's output is also read through a
// linear, so the GEMM-ready companion it wrote (bf16 / int8 copies) is checked too.
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ops_test_util.h"

namespace crossrank::opstest {
namespace {

const std::vector<int> kRows = {1, 7, 63, 513};

// read(a) followed by read(a W^T) for a fixed random W [32, a.cols]: the values and what a
// GEMM sees of them.
std::vector<float> read_and_gemm(Side& s, const Act& a) {
  Tensors t;
  LinearDesc d;
  d.name = "t.next";
  d.weights = {t.add("w", {32, a.cols}, 1.f / std::sqrt(static_cast<float>(a.cols)))};
  auto p = s.ops->prepare_linear(d);
  std::vector<float> r = s.ops->read(a);
  Act y = s.ops->alloc(a.rows, 32);
  s.ops->linear(a, *p, y);
  const auto g = s.ops->read(y);
  r.insert(r.end(), g.begin(), g.end());
  return r;
}

const char* act_name(Activation a) {
  switch (a) {
    case Activation::kIdentity: return "identity";
    case Activation::kGeluErf: return "gelu_erf";
    case Activation::kGeluTanh: return "gelu_tanh";
    case Activation::kSilu: return "silu";
    case Activation::kTanh: return "tanh";
  }
  return "?";
}

TEST_P(OpsTest, Add) {
  for (int M : kRows) {
    const int C = 96;
    const auto x = random_vec(static_cast<std::size_t>(M) * C, 1.f, 21), r = random_vec(x.size(), 2.f, 22);
    compare(("add M" + std::to_string(M)).c_str(), make_batch({M}, 10), [&](Side& s) {
      Act a = s.input(M, C, r, ActUse::kPlain);
      Act y = s.input(M, C, x);
      s.ops->add(a, y);
      return read_and_gemm(s, y);
    });
  }
}

TEST_P(OpsTest, Activate) {
  for (Activation act : {Activation::kGeluErf, Activation::kGeluTanh, Activation::kSilu, Activation::kTanh,
                         Activation::kIdentity}) {
    for (int M : kRows) {
      for (bool in_place : {false, true}) {
        const int C = 200;
        const auto x = random_vec(static_cast<std::size_t>(M) * C, 3.f, 23);
        char what[64];
        std::snprintf(what, sizeof what, "activate %s M%d%s", act_name(act), M, in_place ? " in place" : "");
        compare(what, make_batch({M}, 10), [&](Side& s) {
          Act in = s.input(M, C, x, in_place ? ActUse::kGemmInput : ActUse::kPlain);
          Act out = in_place ? in : s.ops->alloc(M, C, ActUse::kGemmInput);
          s.ops->activate(in, act, out);
          return read_and_gemm(s, out);
        });
      }
    }
  }
}

TEST_P(OpsTest, Glu) {
  for (Activation act : {Activation::kGeluErf, Activation::kGeluTanh, Activation::kSilu}) {
    for (int M : kRows) {
      const int N = 100;
      const auto z = random_vec(static_cast<std::size_t>(M) * 2 * N, 2.f, 24);
      char what[64];
      std::snprintf(what, sizeof what, "glu %s M%d", act_name(act), M);
      compare(what, make_batch({M}, 10), [&](Side& s) {
        Act in = s.input(M, 2 * N, z, ActUse::kPlain);
        Act out = s.ops->alloc(M, N, ActUse::kGemmInput);
        s.ops->glu(in, act, out);
        return read_and_gemm(s, out);
      });
    }
  }
}

TEST_P(OpsTest, Scale) {
  for (int M : kRows) {
    const int C = 72;
    const auto x = random_vec(static_cast<std::size_t>(M) * C, 1.f, 25);
    compare(("scale M" + std::to_string(M)).c_str(), make_batch({M}, 10), [&](Side& s) {
      Act y = s.input(M, C, x);
      s.ops->scale(y, std::sqrt(72.f));  // Gemma: embeddings x sqrt(hidden)
      return read_and_gemm(s, y);
    });
  }
}

// Pooling: first / last token and the mean of each sequence's own rows, on a batch of
// 1, 7, 63, 513 tokens and on a shared-prefix batch (the parent's rows are not averaged in).
TEST_P(OpsTest, Pool) {
  const std::vector<std::pair<std::vector<int>, std::vector<int32_t>>> batches = {
      {kRows, {}}, {{9, 5, 1, 30}, {-1, 0, 0, 0}}};
  for (const auto& [lens, parent] : batches) {
    const PackedBatch b = make_batch(lens, 10, parent);
    const int T = b.total_tokens(), S = b.num_seqs(), C = 80;
    const auto x = random_vec(static_cast<std::size_t>(T) * C, 1.f, 26);
    for (Pool p : {Pool::kFirst, Pool::kLast, Pool::kMean}) {
      char what[64];
      std::snprintf(what, sizeof what, "pool %s%s", p == Pool::kFirst ? "first" : p == Pool::kLast ? "last" : "mean",
                    parent.empty() ? "" : " (shared prefix)");
      compare(what, b, [&](Side& s) {
        Act in = s.input(T, C, x, ActUse::kPlain);
        Act out = s.ops->alloc(S, C, ActUse::kGemmInput);
        s.ops->pool(in, p, out);
        return read_and_gemm(s, out);
      });
    }
  }
}

// Norms with weight_offset (Gemma's RMSNorm multiplies by 1 + w, w ~ 0), whole rows and per
// head (q/k norms), in place and not.
TEST_P(OpsTest, NormWeightOffset) {
  for (NormKind nk : {NormKind::kRmsNorm, NormKind::kLayerNorm}) {
    for (int M : kRows) {
      for (int group : {0, 64}) {
        const int C = 256, g = group ? group : C;
        Tensors t;
        NormDesc nd;
        nd.kind = nk;
        nd.weight = t.add("g", {g}, 0.1f);
        nd.eps = 1e-6f;
        nd.weight_offset = 1.f;
        const auto x = random_vec(static_cast<std::size_t>(M) * C, 3.f, 27);
        char what[64];
        std::snprintf(what, sizeof what, "norm (1+w) M%d %s group %d", M, nk == NormKind::kLayerNorm ? "LN" : "RMS", group);
        compare(what, make_batch({M}, 10), [&](Side& s) {
          auto n = s.ops->prepare_norm(nd);
          Act in = s.input(M, C, x, ActUse::kPlain);
          Act out = s.ops->alloc(M, C, ActUse::kGemmInput);
          s.ops->norm(in, *n, out, group);
          return read_and_gemm(s, out);
        });
      }
    }
  }
}

// The new epilogues against the reference (the fused path where the backend fuses them).
TEST_P(OpsTest, LinearNewEpilogues) {
  for (Epilogue e : {Epilogue::kGeluTanh, Epilogue::kGeGlu, Epilogue::kGeGluTanh}) {
    for (int M : kRows) {
      for (ActUse use : {ActUse::kGemmInput, ActUse::kGemmOnly}) {
        const int K = 128, N = 192, outN = epilogue_out_cols(e, N);
        Tensors t;
        LinearDesc d;
        d.name = "t.ffn_in";
        d.epilogue = e;
        d.weights = {t.add("w0", {N / 2, K}, 1.f / std::sqrt(float(K))), t.add("w1", {N / 2, K}, 1.f / std::sqrt(float(K)))};
        d.biases = {t.add("b0", {N / 2}, 0.1f), t.add("b1", {N / 2}, 0.1f)};
        const auto x = random_vec(static_cast<std::size_t>(M) * K, 1.5f, 28);
        char what[64];
        std::snprintf(what, sizeof what, "linear epi%d M%d out use%d", int(e), M, int(use));
        compare(what, make_batch({M}, 10), [&](Side& s) {
          auto p = s.ops->prepare_linear(d);
          Act in = s.input(M, K, x);
          Act out = s.ops->alloc(M, outN, use);
          s.ops->linear(in, *p, out);
          return read_and_gemm(s, out);
        });
      }
    }
  }
}

// cpu: each new epilogue fused (GEMM post-op / int8 row pass / one gated row pass) equals
// its composition from primitives (CpuOpsOptions::compose_epilogues: fuses() false), per
// dtype, to fp32 rounding (both read the same GEMM results; bf16: see below).
TEST(CpuEpilogues, FusedEqualsComposed) {
  for (DType dt : {DType::kFp32, DType::kBf16, DType::kInt8}) {
    for (Epilogue e : {Epilogue::kGeluTanh, Epilogue::kGeGlu, Epilogue::kGeGluTanh, Epilogue::kGelu, Epilogue::kSwiGlu}) {
      for (int M : kRows) {
        const int K = 96, N = 160, outN = epilogue_out_cols(e, N);
        Tensors t;
        LinearDesc d;
        d.name = "t.ffn_in";
        d.epilogue = e;
        d.weights = {t.add("w", {N, K}, 1.f / std::sqrt(float(K)))};
        d.biases = {t.add("b", {N}, 0.1f)};
        const auto x = random_vec(static_cast<std::size_t>(M) * K, 1.5f, 29);
        const PackedBatch b = make_batch({M}, 10);
        std::vector<std::vector<float>> res;
        for (bool compose : {false, true}) {
          cpu::CpuOpsOptions o;
          o.compose_epilogues = compose;
          Side s(cpu::make_cpu_ops_ex(dt, o), b);
          auto p = s.ops->prepare_linear(d);
          Act in = s.input(M, K, x);
          Act out = s.ops->alloc(M, outN, ActUse::kGemmInput);
          s.ops->linear(in, *p, out);
          res.push_back(read_and_gemm(s, out));
        }
        // bf16: a value that differs in its last fp32 bit may round to the neighbouring bf16
        // in the companion the second GEMM reads (2^-8 of one input element).
        const double err = rel_err(res[1], res[0]), tol = dt == DType::kBf16 ? 2e-3 : 2e-5;
        EXPECT_LE(err, tol) << to_string(dt) << " epilogue " << int(e) << " M " << M;
        if (M == 513) std::printf("    [cpu_%s] epilogue %d fused vs composed rel err %.3g\n", to_string(dt), int(e), err);
      }
    }
  }
}

}  // namespace
}  // namespace crossrank::opstest
