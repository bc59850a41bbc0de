#pragma once
// Shared pieces of the op tests (tests/ops_*_test.cc): the backends under test (Target),
// tolerances, random inputs, batches, one backend's pass (Side) and the OpsTest fixture
// that runs a function on the reference and on a target and compares the results.
// Not in an anonymous namespace: TEST_P bodies in several files share one fixture type,
// instantiated once (ops_test.cc).
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

namespace crossrank::opstest {

struct Target {
  std::string name;  // "cpu-fp32", ...
  DType dtype;
  std::function<std::unique_ptr<Ops>()> make;
};

inline std::vector<Target> targets() {
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

inline float tolerance(DType d) {
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

inline std::vector<float> random_vec(std::size_t n, float scale, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

// A batch of sequences with the given lengths (ids < vocab, positions from 0 or from a
// parent's length, token types alternating).
inline PackedBatch make_batch(const std::vector<int>& lens, int vocab, const std::vector<int32_t>& parent = {}) {
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

inline double rel_err(const std::vector<float>& got, const std::vector<float>& want) {
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

}  // namespace crossrank::opstest
