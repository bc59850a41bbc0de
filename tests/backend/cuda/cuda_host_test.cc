// Host tests of the CUDA backend (built with CROSSRANK_WITH_CUDA; no GPU needed, CI runs
// them, ctest label cuda_host):
//  * the math shared by host and device (math.cuh) against the reference op's formulas:
//    fp16 / bf16 rounding against a bit-level round-to-nearest-even, the erf GELU, SiLU,
//    the online-softmax step against a two-pass softmax;
//  * host planning (plan.h): launch geometry, attention path and tiles, GEMM M buckets,
//    the batch metadata layout, activation element types;
//  * the planner ops: exact device activation bytes of a pass (encoder, v2-m3 shape);
//  * the host emulator itself (tests/cuda_emu/emu.h): barriers, shuffles, wmma.
// The kernels themselves run on the emulator in ops_test.cc (OpsTest/*/cuda_emu_*) and
// cuda_emu_test.cc.
#include <gtest/gtest.h>

#include "cuda_emu/emu.h"  // first: CUDA builtins for the kernel headers

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "backend/backend.h"
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/math.cuh"
#include "backend/cuda/plan.h"
#include "model/architecture.h"
#include "model/config.h"

namespace crossrank::cuda {
namespace {

// ---- rounding ---------------------------------------------------------------------------

// fp32 -> bf16 bits, round to nearest even (NaN stays a quiet NaN).
std::uint16_t bf16_bits_ref(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40);
  const std::uint32_t lsb = (u >> 16) & 1u;
  return static_cast<std::uint16_t>((u + 0x7fffu + lsb) >> 16);
}

// fp32 -> fp16 value, round to nearest even, via exact double arithmetic on the grid.
double fp16_ref(float f) {
  if (std::isnan(f)) return f;
  const double a = std::fabs(static_cast<double>(f));
  if (a >= 65520.0) return std::copysign(INFINITY, f);  // halfway to 65536 rounds up
  const int e = a < std::ldexp(1.0, -14) ? -14 : std::ilogb(a);
  const double q = std::ldexp(1.0, e - 10);  // spacing of the fp16 grid at a
  double m = a / q;
  const double fl = std::floor(m), fr = m - fl;
  m = fr > 0.5 ? fl + 1 : fr < 0.5 ? fl : (std::fmod(fl, 2.0) == 0 ? fl : fl + 1);
  return std::copysign(m * q, f);
}

std::vector<float> rounding_cases() {
  std::vector<float> v = {0.f, -0.f, 1.f, -1.f, 0.1f, 3.3f, 65504.f, 65519.f, 65520.f, 70000.f, 6e-5f, 6.1e-5f,
                          5.96e-8f, 2.98e-8f, 1e-10f, 1.00390625f, 1.005859375f, 1.0029296875f, 3.4e38f,
                          INFINITY, -INFINITY};
  std::mt19937 rng(42);
  std::uniform_int_distribution<std::uint32_t> bits;
  for (int i = 0; i < 200000; ++i) {
    std::uint32_t u = bits(rng);
    float f;
    std::memcpy(&f, &u, 4);
    if (!std::isnan(f)) v.push_back(f);
  }
  std::normal_distribution<float> nd(0.f, 4.f);
  for (int i = 0; i < 100000; ++i) v.push_back(nd(rng));
  return v;
}

TEST(CudaHost, Bf16RoundingIsNearestEven) {
  for (float f : rounding_cases()) {
    const __nv_bfloat16 b = from_f32<__nv_bfloat16>(f);
    std::uint16_t got;
    std::memcpy(&got, &b, 2);
    ASSERT_EQ(got, bf16_bits_ref(f)) << f;
  }
}

TEST(CudaHost, Fp16RoundingIsNearestEven) {
  for (float f : rounding_cases()) {
    const float got = to_f32(from_f32<__half>(f));
    const double want = fp16_ref(f);
    if (std::isnan(want)) continue;
    ASSERT_EQ(static_cast<double>(got), want) << f;
  }
}

TEST(CudaHost, AnyElemAccessRoundTrips) {
  const float vals[] = {1.5f, -2.25f, 1000.125f};
  for (Elem e : {Elem::kF32, Elem::kF16, Elem::kBF16}) {
    unsigned char buf[16] = {};
    for (int i = 0; i < 3; ++i) store_any(buf, i, e, vals[i]);
    for (int i = 0; i < 3; ++i) {
      const float want = e == Elem::kF32   ? vals[i]
                         : e == Elem::kF16 ? to_f32(from_f32<__half>(vals[i]))
                                           : to_f32(from_f32<__nv_bfloat16>(vals[i]));
      EXPECT_EQ(load_any(buf, i, e), want) << to_string(e);
    }
  }
}

// ---- activations ----------------------------------------------------------------------------

TEST(CudaHost, GeluErfAndSiluMatchReference) {
  for (double x = -12; x <= 12; x += 1e-3) {
    const float xf = static_cast<float>(x);
    const double gelu = 0.5 * xf * (1.0 + std::erf(xf / std::sqrt(2.0)));
    const double silu_ref = xf / (1.0 + std::exp(-static_cast<double>(xf)));
    ASSERT_NEAR(gelu_erf(xf), gelu, 2e-7 * std::max(1.0, std::fabs(gelu))) << x;
    ASSERT_NEAR(silu(xf), silu_ref, 2e-7 * std::max(1.0, std::fabs(silu_ref))) << x;
  }
  // Not the tanh approximation (cuBLASLt's GELU epilogue): up to ~5e-4 apart.
  float worst = 0.f;
  for (float x = -6.f; x <= 6.f; x += 0.01f) {
    const float tanh_gelu = 0.5f * x * (1.f + std::tanh(0.7978845608f * (x + 0.044715f * x * x * x)));
    worst = std::max(worst, std::fabs(gelu_erf(x) - tanh_gelu));
  }
  EXPECT_GT(worst, 1e-4f);
}

TEST(CudaHost, OnlineSoftmaxMatchesTwoPass) {
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.f, 6.f);
  for (int n : {1, 7, 32, 33, 100, 1000}) {
    std::vector<float> s(n), v(n);
    for (auto& x : s) x = nd(rng);
    for (auto& x : v) x = nd(rng);
    // Masked scores (-inf) anywhere but the first.
    for (int i = 1; i < n; i += 5) s[i] = -INFINITY;
    double mx = -INFINITY, sum = 0, out = 0;
    for (float x : s) mx = std::max<double>(mx, x);
    for (int i = 0; i < n; ++i) sum += std::exp(s[i] - mx), out += std::exp(s[i] - mx) * v[i];
    out /= sum;
    for (int block : {1, 3, 32}) {
      SoftmaxState st;
      float acc = 0.f;
      for (int j0 = 0; j0 < n; j0 += block) {
        float bm = -INFINITY;
        for (int j = j0; j < std::min(n, j0 + block); ++j) bm = std::max(bm, s[j]);
        acc *= softmax_advance(st, bm);
        for (int j = j0; j < std::min(n, j0 + block); ++j) {
          const float p = softmax_weight(st, s[j]);
          st.l += p;
          acc += p * v[j];
        }
      }
      EXPECT_NEAR(acc / st.l, out, 1e-5 * std::max(1.0, std::fabs(out))) << "n " << n << " block " << block;
    }
  }
  // An all-masked block before any finite score leaves the state empty.
  SoftmaxState st;
  EXPECT_EQ(softmax_advance(st, -INFINITY), 0.f);
  EXPECT_EQ(softmax_weight(st, -INFINITY), 0.f);
  EXPECT_EQ(st.l, 0.f);
}

TEST(CudaHost, KeyRowsOfParentThenOwnTokens) {
  // Parent tokens at rows [100, 109), own tokens from row 40.
  EXPECT_EQ(key_row(0, 9, 100, 40), 100);
  EXPECT_EQ(key_row(8, 9, 100, 40), 108);
  EXPECT_EQ(key_row(9, 9, 100, 40), 40);
  EXPECT_EQ(key_row(12, 9, 100, 40), 43);
  EXPECT_EQ(key_row(3, 0, 0, 40), 43);
}

// ---- plan ------------------------------------------------------------------------------------

TEST(CudaHost, LaunchGeometry) {
  EXPECT_EQ(row_threads(32), 32u);
  EXPECT_EQ(row_threads(128), 32u);
  EXPECT_EQ(row_threads(384), 96u);
  EXPECT_EQ(row_threads(1024), 256u);
  EXPECT_EQ(row_threads(4096), 256u);
  EXPECT_EQ(row_threads(1), 32u);
  for (int c = 1; c <= 5000; c += 7) {
    const unsigned t = row_threads(c);
    ASSERT_EQ(t % 32, 0u);
    ASSERT_GE(t, 32u);
    ASSERT_LE(t, 256u);
  }
  const Geom n = norm_geometry(513, 256, 32);
  EXPECT_EQ(n.gx, 513u);
  EXPECT_EQ(n.gy, 8u);
  EXPECT_EQ(n.threads, 32u);
  EXPECT_EQ(n.smem, 32u * 4);
  const Geom w = norm_geometry(7, 1024, 0);
  EXPECT_EQ(w.gy, 1u);
  EXPECT_EQ(w.smem, 4096u);
  const Geom e = embed_geometry(16384, 1024);
  EXPECT_EQ(e.gx, 16384u);
  EXPECT_EQ(e.threads, 256u);
  // Grid-stride launches cover n with at most 65535 blocks.
  for (std::size_t n2 : {std::size_t(1), std::size_t(255), std::size_t(256), std::size_t(257), std::size_t(16384) * 4096}) {
    const Geom g = elementwise_geometry(n2);
    EXPECT_LE(g.gx, kMaxGridX);
    EXPECT_GE(static_cast<std::size_t>(g.gx) * g.threads, std::min<std::size_t>(n2, std::size_t(kMaxGridX) * 256));
  }
  const Geom hd = head_dense_geometry(64, 1024);
  EXPECT_EQ(hd.gx, 128u);
  EXPECT_EQ(hd.gy, 64u);
  EXPECT_EQ(head_out_geometry(64).gx, 64u);
  EXPECT_EQ(gather_geometry(3, 1000).threads, 256u);
  EXPECT_EQ(gather_geometry(3, 40).threads, 64u);
}

TEST(CudaHost, AttentionSharedMemoryFitsEveryTarget) {
  // Tensor-core path on sm80 / 86 / 89 / 90 (opt-in 163 / 99 / 99 / 227 KiB).
  EXPECT_EQ(tc_attention_smem(32), 41984u);
  EXPECT_EQ(tc_attention_smem(64), 54272u);
  EXPECT_EQ(tc_attention_smem(128), 78848u);
  EXPECT_LE(tc_attention_smem(128), 99u * 1024);
  // Simple path: under the 48 KiB default for head_dim <= 128 (T4 included).
  EXPECT_LE(simple_attention_smem(128, kSimpleWarpsAll), 48u * 1024);
  EXPECT_LE(simple_attention_smem(64, kSimpleWarpsAll), 48u * 1024);
  EXPECT_EQ(simple_dmax(32), 64);
  EXPECT_EQ(simple_dmax(96), 128);
  EXPECT_EQ(simple_dmax(256), 256);
  EXPECT_EQ(simple_dmax(257), 0);
}

TEST(CudaHost, AttentionPathChoice) {
  AttnShape s;
  s.sm = 90;
  s.q = s.k = s.v = s.out = Elem::kF16;
  s.rows = Rows::kAll;
  s.head_dim = 64;
  s.aligned16 = true;
  s.max_smem = 227 * 1024;
  EXPECT_EQ(choose_attention_path(s), AttnPath::kTensor);
  for (int d : {32, 128}) {
    s.head_dim = d;
    EXPECT_EQ(choose_attention_path(s), AttnPath::kTensor) << d;
  }
  s.q = s.k = s.v = s.out = Elem::kBF16;
  EXPECT_EQ(choose_attention_path(s), AttnPath::kTensor);
  auto simple = [&](auto change) {
    AttnShape t = s;
    change(t);
    return choose_attention_path(t) == AttnPath::kSimple;
  };
  EXPECT_TRUE(simple([](AttnShape& t) { t.sm = 75; }));                   // T4
  EXPECT_TRUE(simple([](AttnShape& t) { t.q = t.k = t.v = t.out = Elem::kF32; }));
  EXPECT_TRUE(simple([](AttnShape& t) { t.q = t.out = Elem::kF32; }));    // fp32 pooled rows
  EXPECT_TRUE(simple([](AttnShape& t) { t.rows = Rows::kFirst; }));
  EXPECT_TRUE(simple([](AttnShape& t) { t.rows = Rows::kLast; }));
  EXPECT_TRUE(simple([](AttnShape& t) { t.head_dim = 96; }));
  EXPECT_TRUE(simple([](AttnShape& t) { t.aligned16 = false; }));
  EXPECT_TRUE(simple([](AttnShape& t) { t.max_smem = 64 * 1024; t.head_dim = 128; }));
  s.head_dim = 300;
  EXPECT_THROW(choose_attention_path(s), Error);
}

TEST(CudaHost, AttentionTilesCoverEveryRowOnce) {
  const std::vector<std::int32_t> cu = {0, 1, 8, 71, 584, 584 + 64, 584 + 65};
  for (int rows : {kTcTileRows, kSimpleWarpsAll, 1}) {
    const auto t = attention_tiles(cu, rows);
    ASSERT_EQ(static_cast<int>(t.size()) / 2, attention_tile_count(cu, rows));
    std::vector<int> seen(cu.back(), 0);
    for (std::size_t i = 0; i < t.size(); i += 2) {
      const int s = t[i], r0 = t[i + 1], n = cu[s + 1] - cu[s];
      ASSERT_LT(r0, n);
      ASSERT_EQ(r0 % rows, 0);
      for (int r = r0; r < std::min(n, r0 + rows); ++r) ++seen[cu[s] + r];
    }
    for (int c : seen) ASSERT_EQ(c, 1);
  }
  EXPECT_EQ(attention_tile_count(cu, 64), 1 + 1 + 1 + 9 + 1 + 1);
  EXPECT_TRUE(attention_tiles({0}, 64).empty());
}

TEST(CudaHost, GemmMBuckets) {
  EXPECT_EQ(gemm_m_bucket(1), 16);
  EXPECT_EQ(gemm_m_bucket(16), 16);
  EXPECT_EQ(gemm_m_bucket(17), 32);
  EXPECT_EQ(gemm_m_bucket(513), 1024);
  EXPECT_EQ(gemm_m_bucket(4096), 4096);
  EXPECT_EQ(gemm_m_bucket(4097), 6144);
  EXPECT_EQ(gemm_m_bucket(16384), 16384);
  int buckets = 0, prev = 0;
  for (int m = 1; m <= 32768; ++m) {
    const int b = gemm_m_bucket(m);
    ASSERT_GE(b, m);
    ASSERT_GE(b, prev);
    ASSERT_LE(b, std::max(16, 2 * m));  // at most twice the rows
    buckets += b != prev;
    prev = b;
  }
  EXPECT_LE(buckets, 24);  // few heuristic queries per GEMM shape
}

TEST(CudaHost, MetaLayoutSectionsAlignedAndDisjoint) {
  const MetaLayout m = meta_layout(1000, 13, true, 30, 140);
  std::vector<std::pair<std::size_t, std::size_t>> sec = {{m.ids, 1000}, {m.pos, 1000},     {m.types, 1000},
                                                          {m.cu, 14},    {m.parent, 13},    {m.tiles_tc, 60},
                                                          {m.tiles_simple, 280}};
  std::sort(sec.begin(), sec.end());
  for (std::size_t i = 0; i < sec.size(); ++i) {
    EXPECT_EQ(sec[i].first % 16, 0u);
    if (i + 1 < sec.size()) {
      EXPECT_LE(sec[i].first + sec[i].second, sec[i + 1].first);
    }
  }
  EXPECT_GE(m.total, sec.back().first + sec.back().second);
  EXPECT_LE(m.total * 4, meta_bytes_bound(1000));
  const MetaLayout n = meta_layout(5, 2, false, 2, 2);
  EXPECT_FALSE(n.has_parent);
  EXPECT_LE(n.total * 4, meta_bytes_bound(5));
}

TEST(CudaHost, PerSequenceRowsAreFp32) {
  EXPECT_EQ(act_elem(64, 64, false, Elem::kF16), Elem::kF32);
  EXPECT_EQ(act_elem(64, 64, true, Elem::kF16), Elem::kF16);  // one-token sequences: token rows
  EXPECT_EQ(act_elem(1000, 64, true, Elem::kF16), Elem::kF16);
  EXPECT_EQ(act_elem(1000, 64, true, Elem::kBF16), Elem::kBF16);
  EXPECT_EQ(act_elem(1000, 64, true, Elem::kF32), Elem::kF32);
}

// ---- planner: device activation bytes ------------------------------------------------------

// A tensor map with every tensor of `c` pointing at a dummy byte (the planner reads shapes only).
std::shared_ptr<TensorMap> shapes_only(const ModelConfig& c) {
  static const float dummy = 0.f;
  auto t = std::make_shared<TensorMap>();
  for (const TensorSpec& s : c.arch->tensors(c)) {
    HostTensor h;
    h.name = s.name;
    h.type = SrcType::kF32;
    h.shape = s.shape;
    h.data = &dummy;
    t->add_view(h, nullptr);
  }
  return t;
}

std::size_t a64(std::size_t n) { return align64(n); }

TEST(CudaHost, PlannerActivationBytesOfEncoderPasses) {
  const ModelConfig c = synthetic_config("bge-reranker-v2-m3");
  const std::size_t H = c.hidden, I = c.intermediate;
  for (DType dt : {DType::kFp16, DType::kBf16, DType::kFp32}) {
    auto be = make_backend(make_cuda_planner_ops(dt), c, shapes_only(c));
    const std::size_t e = dt == DType::kFp32 ? 4 : 2;
    for (auto [T, L, S] : {std::tuple{16384, 512, 32}, std::tuple{8192, 8192, 1}, std::tuple{200 * 64, 200, 64}}) {
      // Peak: a full layer's FFN-out linear_add_norm: x, x0 (fp32 rows), qkv, ctx, inter and
      // the GEMM's scratch z; plus the per-pass batch metadata.
      const std::size_t want = a64(T * H * e) + a64(S * H * 4) + a64(T * 3 * H * e) + a64(T * H * e) +
                               a64(T * I * e) + a64(T * H * e) + meta_bytes_bound(T);
      EXPECT_EQ(be->activation_bytes(T, L, S), want) << to_string(dt) << " T " << T << " S " << S;
    }
  }
  // fp16 needs half of fp32's activations (within the fp32 rows and metadata).
  auto h = make_backend(make_cuda_planner_ops(DType::kFp16), c, shapes_only(c));
  auto f = make_backend(make_cuda_planner_ops(DType::kFp32), c, shapes_only(c));
  const double r = static_cast<double>(h->activation_bytes(16384, 512, 32)) / f->activation_bytes(16384, 512, 32);
  EXPECT_NEAR(r, 0.5, 0.01);
  std::printf("    [planner] v2-m3 fp16, 16384 tokens / 32 pairs: %.1f MiB of activations\n",
              h->activation_bytes(16384, 512, 32) / 1048576.0);
}

TEST(CudaHost, PlannerRefusesToRun) {
  auto ops = make_cuda_planner_ops(DType::kFp16);
  EXPECT_THROW(ops->allocate_arena(1024), Error);
  EXPECT_THROW(make_cuda_planner_ops(DType::kInt8), Error);
  EXPECT_THROW(make_cuda_planner_ops(DType::kBf16, 75), Error);  // no bf16 before sm80
  EXPECT_NO_THROW(make_cuda_planner_ops(DType::kFp16, 75));
}

TEST(CudaHost, NoGpuIsReportedClearly) {
  if (cuda_available()) GTEST_SKIP() << "a GPU is visible here";
  try {
    make_cuda_ops(DType::kFp16, 0);
    FAIL() << "make_cuda_ops succeeded without a GPU";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnavailable) << e.what();
  }
  EXPECT_EQ(cuda_device_memory().current, 0u);
}

// ---- the emulator ------------------------------------------------------------------------------

void emu_reduce_kernel(const float* in, float* out, int n) {
  __shared__ float red[32];
  float v = 0.f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) v += in[blockIdx.x * n + i];
  const float s = block_sum(v, red);
  const float m = warp_max(static_cast<float>(threadIdx.x));
  if (threadIdx.x == 0) out[blockIdx.x] = s;
  if ((threadIdx.x & 31) == 0) out[gridDim.x + blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32] = m;
}

TEST(CudaHost, EmulatorBarriersAndShuffles) {
  const int n = 1000, blocks = 3, threads = 96;
  std::vector<float> in(blocks * n), out(blocks + blocks * threads / 32, -1.f);
  for (int i = 0; i < blocks * n; ++i) in[i] = static_cast<float>(i % 17);
  emu::launch(emu::Dim{blocks, 1, 1}, emu::Dim{threads, 1, 1}, 0, &emu_reduce_kernel, in.data(), out.data(), n);
  for (int b = 0; b < blocks; ++b) {
    double want = 0;
    for (int i = 0; i < n; ++i) want += in[b * n + i];
    EXPECT_EQ(out[b], want);
    for (int w = 0; w < threads / 32; ++w) EXPECT_EQ(out[blocks + b * 3 + w], 32.f * w + 31.f);
  }
}

void emu_wmma_kernel(const __half* a, const __half* b, float* c) {
  namespace wmma = nvcuda::wmma;
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::fill_fragment(acc, 1.f);
  wmma::load_matrix_sync(fa, a, 24);
  wmma::load_matrix_sync(fb, b, 24);
  wmma::mma_sync(acc, fa, fb, acc);
  wmma::store_matrix_sync(c, acc, 20, wmma::mem_row_major);
}

TEST(CudaHost, EmulatorWmmaLayouts) {
  std::vector<__half> a(16 * 24), b(16 * 24);
  std::vector<float> c(16 * 20, 0.f);
  for (int i = 0; i < 16 * 24; ++i) {
    a[i] = from_f32<__half>(static_cast<float>(i % 7) - 3);
    b[i] = from_f32<__half>(static_cast<float>(i % 5) - 2);
  }
  emu::launch(emu::Dim{1, 1, 1}, emu::Dim{32, 1, 1}, 0, &emu_wmma_kernel, a.data(), b.data(), c.data());
  for (int r = 0; r < 16; ++r)
    for (int n = 0; n < 16; ++n) {
      float want = 1.f;  // A row-major (ld 24); B col-major: B(k, n) at b[n * 24 + k]
      for (int k = 0; k < 16; ++k) want += to_f32(a[r * 24 + k]) * to_f32(b[n * 24 + k]);
      ASSERT_EQ(c[r * 20 + n], want) << r << "," << n;
    }
}

}  // namespace
}  // namespace crossrank::cuda
