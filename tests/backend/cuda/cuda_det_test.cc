// --deterministic on the CUDA backend, on the host emulator of its kernels (ctest label
// cuda_host, no GPU): the batch-invariant GEMM kernel (src/backend/cuda/gemm_det.cuh) run
// from its own source, in every dtype and on both of its paths (fp32 FMA chain; wmma
// tensor tiles for fp16 / bf16 on sm_80, the FMA chain on sm_75). Each pair's logit must be
// bit-identical whatever it is batched with, its position and the batch size, and close to
// the reference backend. scripts/gpu_check.sh repeats the invariance on a real GPU
// (CudaGpu.DeterministicBatchInvariance).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

#include "backend/backend.h"
#include "batch/packed_batch.h"
#include "cuda_emu/emu_ops.h"
#include "model/config.h"
#include "model/weights.h"
#include "model_test_util.h"

namespace crossrank {
namespace {

using test::random_pairs;

std::vector<float> run(Backend& be, const ModelConfig& c, const std::vector<const EncodedPair*>& b) {
  return be.forward(pack_batch(b, c));
}

std::uint32_t bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// tiny-xlmr at head_dim 64 (tensor-core attention on sm_80), 2 layers.
ModelConfig tc_shape() {
  ModelConfig c = synthetic_config("tiny-xlmr");
  c.heads = c.kv_heads = 2;
  c.head_dim = 64;
  c.hidden = 128;
  c.intermediate = 256;
  return c;
}

TEST(CudaHost, EmuDeterministicIsBatchInvariant) {
  const ModelConfig c = tc_shape();
  auto w = synthetic_weights(c, 3);
  // Lengths across the GEMM's 64-row tiles and the attention's 64-row tiles.
  const auto pairs = random_pairs(c, {9, 70, 1, 33, 64, 5}, 11);
  std::vector<const EncodedPair*> all;
  for (const auto& p : pairs) all.push_back(&p);
  const auto ref = make_reference_backend(c, w)->forward(pack_batch(all, c));
  struct Case {
    DType dt;
    int sm;
    float tol;
  };
  for (const Case& k : {Case{DType::kFp32, 80, 1e-5f}, Case{DType::kFp16, 80, 1e-2f}, Case{DType::kBf16, 80, 5e-2f},
                        Case{DType::kFp16, 75, 1e-2f}}) {
    auto be = make_backend(cuda::make_cuda_emu_ops(k.dt, k.sm, /*deterministic=*/true), c, w);
    EXPECT_NE(be->describe().find("batch-invariant"), std::string::npos) << be->describe();
    const auto together = run(*be, c, all);
    // Each alone, then a reversed batch, then a batch with a duplicate and other neighbours.
    std::vector<const EncodedPair*> rev(all.rbegin(), all.rend());
    const auto reversed = run(*be, c, rev);
    int differ = 0;
    float d = 0.f;
    for (std::size_t i = 0; i < all.size(); ++i) {
      const float alone = run(*be, c, {all[i]})[0];
      differ += bits(alone) != bits(together[i]);
      differ += bits(alone) != bits(reversed[all.size() - 1 - i]);
      const auto mixed = run(*be, c, {all[(i + 1) % all.size()], all[i], all[i]});
      differ += bits(alone) != bits(mixed[1]) || bits(alone) != bits(mixed[2]);
      if (bits(alone) != bits(together[i]) || bits(alone) != bits(reversed[all.size() - 1 - i]) ||
          bits(alone) != bits(mixed[1]) || bits(alone) != bits(mixed[2]))
        std::printf("      pair %zu (%zu tokens): alone %.9g together %.9g reversed %.9g mixed %.9g %.9g\n", i,
                    all[i]->ids.size(), alone, together[i], reversed[all.size() - 1 - i], mixed[1], mixed[2]);
      d = std::max(d, std::fabs(alone - ref[i]));
    }
    std::printf("    [%s sm_%d deterministic] %zu pairs: %d bit differences across batches; max|dlogit| vs reference %.3g\n",
                to_string(k.dt), k.sm, all.size(), differ, d);
    EXPECT_EQ(differ, 0) << to_string(k.dt) << " sm_" << k.sm;
    EXPECT_LE(d, k.tol) << to_string(k.dt) << " sm_" << k.sm;
  }
}

// The kernel's edges: N, K and M not multiples of the 64 x 64 tile or the 16-wide K chunk,
// the residual (accumulate) and the bias, against the reference ops' GEMM through a whole
// tiny BERT whose intermediate size is odd.
TEST(CudaHost, EmuDeterministicOddShapesMatchReference) {
  ModelConfig c = synthetic_config("tiny-bert");
  c.intermediate = 37;
  auto w = synthetic_weights(c, 5);
  const auto pairs = random_pairs(c, {3, 65, 17}, 2);
  std::vector<const EncodedPair*> all;
  for (const auto& p : pairs) all.push_back(&p);
  const auto ref = make_reference_backend(c, w)->forward(pack_batch(all, c));
  auto be = make_backend(cuda::make_cuda_emu_ops(DType::kFp32, 80, true), c, w);
  const auto got = run(*be, c, all);
  float d = 0.f;
  for (std::size_t i = 0; i < got.size(); ++i) d = std::max(d, std::fabs(got[i] - ref[i]));
  EXPECT_LE(d, 1e-5f);
}

}  // namespace
}  // namespace crossrank
