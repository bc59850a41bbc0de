// Whole models through the CUDA backend on the host emulator of its kernels (ctest label
// cuda_host, no GPU needed): CudaOps, the batch metadata, every fused kernel and its
// dispatch run as on a GPU (tests/cuda_emu), with a host GEMM for cuBLASLt. Checked
// against the reference backend and the HF goldens of the tiny folders; the 16-bit
// dtypes on both attention paths (sm_80: tensor cores via wmma; sm_75: simple).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "backend/backend.h"
#include "batch/packed_batch.h"
#include "cuda_emu/emu_ops.h"
#include "model/config.h"
#include "model/weights.h"
#include "model_test_util.h"
#include "test_util.h"

namespace crossrank {
namespace {

using test::pack;
using test::random_pairs;

float max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float d = 0.f;
  for (std::size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}

// A tiny shape edited to head_dim `d` (2 layers), so that the tensor-core path runs.
ModelConfig with_head_dim(const char* name, int heads, int d) {
  ModelConfig c = synthetic_config(name);
  c.heads = c.kv_heads = heads;
  c.head_dim = d;
  c.hidden = heads * d;
  c.intermediate = 2 * c.hidden;
  return c;
}

// tiny-xlmr / tiny-bert shapes (head_dim 8: simple attention) and head_dim 64 / 32
// variants (tensor-core attention on sm_80), one packed batch of awkward lengths (1 .. 130
// tokens, a 64-row tile boundary), against the reference backend.
TEST(CudaHost, EmuTinyModelsMatchReference) {
  const std::vector<std::pair<std::string, ModelConfig>> models = {
      {"tiny-xlmr", synthetic_config("tiny-xlmr")},
      {"tiny-bert", synthetic_config("tiny-bert")},
      {"xlmr-d64", with_head_dim("tiny-xlmr", 2, 64)},
      {"bert-d32", with_head_dim("tiny-bert", 4, 32)}};
  for (const auto& [name_s, c] : models) {
    const char* name = name_s.c_str();
    auto w = synthetic_weights(c, 7);
    const auto pairs = random_pairs(c, {1, 7, 64, 65, 130, 3}, 9);
    const PackedBatch b = pack(pairs, c);
    const auto ref = make_reference_backend(c, w)->forward(b);
    struct Case {
      DType dt;
      int sm;
      float tol;
    };
    for (const Case& k : {Case{DType::kFp32, 80, 1e-5f}, Case{DType::kFp16, 80, 1e-2f}, Case{DType::kBf16, 80, 5e-2f},
                          Case{DType::kFp16, 75, 1e-2f}}) {
      auto be = make_backend(cuda::make_cuda_emu_ops(k.dt, k.sm), c, w);
      const auto got = be->forward(b);
      const float d = max_diff(got, ref);
      std::printf("    [%s %s sm_%d] max|dlogit| vs reference %.3g (tol %.3g)\n", name, to_string(k.dt), k.sm, d, k.tol);
      EXPECT_LE(d, k.tol) << name << " " << to_string(k.dt) << " sm_" << k.sm;
      // The pass's estimate bounds its arena.
      EXPECT_GE(be->activation_bytes(b.total_tokens(), b.max_seqlen, b.num_seqs()), be->last_arena_bytes());
      // A second pass over another batch re-uploads the batch metadata.
      const auto pairs2 = random_pairs(c, {5, 40}, 10);
      const auto ref2 = make_reference_backend(c, w)->forward(pack(pairs2, c));
      EXPECT_LE(max_diff(be->forward(pack(pairs2, c)), ref2), k.tol);
    }
  }
}

// The tiny HF folder's goldens (transformers fp32 logits) on the emulated fp32 backend.
TEST(CudaHost, EmuTinyXlmrGoldens) {
  const std::string dir = test::test_data("models/tiny-xlmr");
  if (!std::filesystem::exists(dir + "/golden.jsonl")) GTEST_SKIP() << "no goldens at " << dir;
  const ModelConfig c = load_config(dir + "/config.json");
  auto w = load_weights(dir, c);
  auto be = make_backend(cuda::make_cuda_emu_ops(DType::kFp32, 80), c, w);
  std::ifstream in(dir + "/golden.jsonl");
  float d = 0.f;
  int n = 0;
  for (std::string line; std::getline(in, line) && n < 12;) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    EncodedPair p;
    p.ids = j["ids"].get<std::vector<int32_t>>();
    if (p.ids.size() > 200) continue;  // keep the emulated run short
    const float got = be->forward(pack({p}, c))[0];
    d = std::max(d, std::fabs(got - j["logit"].get<float>()));
    ++n;
  }
  std::printf("    [tiny-xlmr fp32 emu] %d cases, max|dlogit| vs HF %.3g\n", n, d);
  EXPECT_GT(n, 5);
  EXPECT_LE(d, 1e-4f);
}

}  // namespace
}  // namespace crossrank
