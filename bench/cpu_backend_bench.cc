// Standalone timing of the optimised CPU backend on synthetic models.
//
//   cpu_backend_bench [--model bge-reranker-v2-m3] [--shapes 512x8,128x32] [--dtypes fp32,bf16,int8]
//                     [--layers N] [--reps R] [--warmup] [--peak] [--profile] [--ref-layers N]
//                     [--no-shortcut] [--ffn-block ROWS] [--attn-fp32]
//
// For each dtype and shape (L tokens x B pairs, all pairs of length L) it prints seconds per
// forward, pairs/s, executed GFLOP/s (2*M*N*K for every GEMM actually run, attention's
// Q.K^T and P.V included, the last-layer shortcut's savings excluded), the same work
// per second as the full model would need ("model-equivalent"), and, with --peak, the
// GEMM peak of this dtype measured on this model's four layer GEMM shapes at M = L*B
// with the backend's own Linear wrapper. --profile prints the per-op time split.
// --ref-layers N times the reference backend and the fp32 CPU backend (last-layer shortcut
// off, so both do the same work) on an N-layer copy (the reference is far too slow for 24).
// With OpenBLAS linked (CR_HAVE_OPENBLAS), --peak also times cblas_sgemm on the same shapes.
#include <omp.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "backend/backend.h"
#include "backend/cpu/cpu_ops.h"
#include "backend/cpu/gemm.h"
#include "batch/packed_batch.h"
#include "model/config.h"
#include "model/weights.h"

#ifdef CR_HAVE_OPENBLAS
#include <cblas.h>
#endif

using namespace crossrank;
using Clock = std::chrono::steady_clock;

namespace {

double secs(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// Process CPU time (user + sys) in seconds. On a shared, oversubscribed machine the wall
// clock measures the neighbours; CPU time / threads (with OMP_WAIT_POLICY=passive, so
// idle threads sleep instead of spinning) estimates the wall time the run would take
// alone. Both are printed; only compare like with like.
double cpu_secs() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

std::vector<std::string> split(const std::string& s, char c) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, c))
    if (!item.empty()) out.push_back(item);
  return out;
}

DType parse_dt(const std::string& s) {
  if (s == "fp32") return DType::kFp32;
  if (s == "bf16") return DType::kBf16;
  if (s == "int8") return DType::kInt8;
  std::fprintf(stderr, "bad dtype %s\n", s.c_str());
  std::exit(2);
}

PackedBatch make_batch(const ModelConfig& c, int L, int B, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<EncodedPair> pairs(B);
  for (auto& p : pairs)
    for (int i = 0; i < L; ++i) {
      p.ids.push_back(static_cast<int32_t>(rng() % c.vocab_size));
      p.type_ids.push_back(0);
    }
  std::vector<const EncodedPair*> ptrs;
  for (auto& p : pairs) ptrs.push_back(&p);
  return pack_batch(ptrs, c);
}

struct Flops {
  double executed = 0, model = 0;
};
Flops count_flops(const ModelConfig& c, int L, int B, bool shortcut) {
  const double H = c.hidden, I = c.intermediate, T = double(L) * B, S = B;
  const double full_layer = 2 * T * H * 3 * H + 4 * S * double(L) * L * H + 2 * T * H * H + 4 * T * H * I;
  const double head = 2 * S * H * H + 2 * S * H;
  Flops f;
  f.model = c.layers * full_layer + head;
  const double last = 2 * T * H * 2 * H + 2 * S * H * H + 4 * S * L * H + 2 * S * H * H + 4 * S * H * I;
  f.executed = shortcut ? (c.layers - 1) * full_layer + last + head : f.model;
  return f;
}

// GEMM peak of `prec` on the model's layer shapes at M tokens: sum(flops) / sum(time).
struct Peak {
  double wall = 0, cpu = 0;  // GFLOP/s by wall clock and by CPU time / threads
};
Peak gemm_peak(const ModelConfig& c, cpu::GemmPrec prec, int M, int reps) {
  const int H = c.hidden, I = c.intermediate;
  const int shapes[4][2] = {{3 * H, H}, {H, H}, {I, H}, {H, I}};
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream s(eng);
  double flops = 0, t = 0, tc = 0;
  const int nthr = omp_get_max_threads();
  for (auto& sh : shapes) {
    const int N = sh[0], K = sh[1];
    std::vector<float> w(size_t(N) * K), b(N, 0.01f);
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(-0.03f, 0.03f);
    for (auto& v : w) v = u(rng);
    cpu::Linear lin(eng, prec, cpu::GemmPost::kBias, {w.data()}, {b.data()}, {N}, K, false,
                    cpu::use_sgemm_fp32() && prec != cpu::GemmPrec::kBf16);  // as CpuOps runs it
    std::vector<float> x(size_t(M) * K, 0.5f), y(size_t(M) * N);
    // int8 activations: u8 for oneDNN, s16 where the Linear runs igemm_s16s8 (no VNNI).
    std::vector<uint8_t> xq(size_t(M) * K, 100);
    std::vector<int16_t> xq16(lin.s16_activations() ? size_t(M) * K : 0, 100);
    const void* src = prec != cpu::GemmPrec::kInt8 ? static_cast<const void*>(x.data())
                      : lin.s16_activations()      ? static_cast<const void*>(xq16.data())
                                                   : static_cast<const void*>(xq.data());
    std::vector<uint16_t> xb;
    if (prec == cpu::GemmPrec::kBf16) {
      xb.assign(size_t(M) * K, 0x3f00);
      src = xb.data();
    }
    lin.run(s, src, M, y.data());  // warm-up
    const auto t0 = Clock::now();
    const double c0 = cpu_secs();
    for (int r = 0; r < reps; ++r) lin.run(s, src, M, y.data());
    const double dt = secs(t0, Clock::now()) / reps, dc = (cpu_secs() - c0) / reps / nthr;
    std::printf("    gemm M=%d N=%d K=%d: %.1f GFLOP/s wall, %.1f GFLOP/s cpu-time\n", M, N, K, 2.0 * M * N * K / dt / 1e9,
                2.0 * M * N * K / dc / 1e9);
    flops += 2.0 * M * N * K;
    t += dt;
    tc += dc;
  }
  return {flops / t / 1e9, flops / tc / 1e9};
}

#ifdef CR_HAVE_OPENBLAS
Peak openblas_peak(const ModelConfig& c, int M, int reps) {
  const int H = c.hidden, I = c.intermediate;
  const int shapes[4][2] = {{3 * H, H}, {H, H}, {I, H}, {H, I}};
  double flops = 0, t = 0, tc = 0;
  for (auto& sh : shapes) {
    const int N = sh[0], K = sh[1];
    std::vector<float> a(size_t(M) * K, 0.5f), w(size_t(N) * K, 0.01f), y(size_t(M) * N);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.f, a.data(), K, w.data(), K, 0.f, y.data(), N);
    const double c0 = cpu_secs();
    const auto t0 = Clock::now();
    for (int r = 0; r < reps; ++r)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.f, a.data(), K, w.data(), K, 0.f, y.data(), N);
    const double dt = secs(t0, Clock::now()) / reps, dc = (cpu_secs() - c0) / reps / omp_get_max_threads();
    std::printf("    openblas sgemm M=%d N=%d K=%d: %.1f GFLOP/s wall, %.1f GFLOP/s cpu-time\n", M, N, K,
                2.0 * M * N * K / dt / 1e9, 2.0 * M * N * K / dc / 1e9);
    flops += 2.0 * M * N * K;
    t += dt;
    tc += dc;
  }
  return {flops / t / 1e9, flops / tc / 1e9};
}
#endif

}  // namespace

int main(int argc, char** argv) {
  std::string model = "bge-reranker-v2-m3", shapes_arg = "512x8,128x32", dtypes_arg = "fp32,bf16,int8";
  int layers = 0, reps = 1, ref_layers = 0;
  bool warmup = false, peak = false, profile = false, shortcut = true, attn_fp32 = false;
  int ffn_block = -1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--model") model = next();
    else if (a == "--shapes") shapes_arg = next();
    else if (a == "--dtypes") dtypes_arg = next();
    else if (a == "--layers") layers = std::atoi(next().c_str());
    else if (a == "--reps") reps = std::atoi(next().c_str());
    else if (a == "--ref-layers") ref_layers = std::atoi(next().c_str());
    else if (a == "--warmup") warmup = true;
    else if (a == "--peak") peak = true;
    else if (a == "--profile") profile = true;
    else if (a == "--no-shortcut") shortcut = false;
    else if (a == "--ffn-block") ffn_block = std::atoi(next().c_str());
    else if (a == "--attn-fp32") attn_fp32 = true;
    else {
      std::fprintf(stderr, "unknown argument %s (see the comment at the top of bench/cpu_backend_bench.cc)\n", a.c_str());
      return 2;
    }
  }
  ModelConfig cfg = synthetic_config(model);
  if (layers > 0) cfg.layers = layers;
  std::vector<std::pair<int, int>> shapes;
  for (const auto& s : split(shapes_arg, ',')) {
    const auto x = s.find('x');
    shapes.emplace_back(std::atoi(s.substr(0, x).c_str()), std::atoi(s.substr(x + 1).c_str()));
  }
  std::printf("model synthetic:%s layers=%d hidden=%d heads=%d inter=%d, threads=%d, oneDNN isa=%s\n", model.c_str(),
              cfg.layers, cfg.hidden, cfg.heads, cfg.intermediate, omp_get_max_threads(), cpu::gemm_caps().isa.c_str());
  auto t0 = Clock::now();
  std::shared_ptr<const TensorMap> w = synthetic_weights(cfg, 0);
  std::printf("synthetic weights: %.1f s\n", secs(t0, Clock::now()));

  for (const auto& dts : split(dtypes_arg, ',')) {
    const DType dt = parse_dt(dts);
    cpu::CpuOpsOptions opts;
    opts.profile = profile;
    if (ffn_block >= 0) opts.ffn_block_rows = ffn_block;
    if (attn_fp32) opts.attn_bf16 = false;
    RunnerOptions ro;
    ro.last_layer_shortcut = shortcut;
    t0 = Clock::now();
    auto be = make_backend(cpu::make_cpu_ops_ex(dt, opts), cfg, w, ro);
    auto& info = dynamic_cast<cpu::CpuOpsInfo&>(be->ops());
    std::printf("\n== %s  (backend construction %.1f s)\n   %s\n", dts.c_str(), secs(t0, Clock::now()),
                be->describe().c_str());
    for (auto [L, B] : shapes) {
      const PackedBatch batch = make_batch(cfg, L, B, 42);
      if (warmup) be->forward(batch);
      info.reset_profile();
      rusage ru0{}, ru1{};
      getrusage(RUSAGE_SELF, &ru0);
      t0 = Clock::now();
      for (int r = 0; r < reps; ++r) be->forward(batch);
      const double dt_s = secs(t0, Clock::now()) / reps;
      getrusage(RUSAGE_SELF, &ru1);
      const double cpu_s = (ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + 1e-6 * (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec)) / reps;
      const double sys_s = (ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec + 1e-6 * (ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec)) / reps;
      const double alone_s = (cpu_s + sys_s) / omp_get_max_threads();
      const Flops f = count_flops(cfg, L, B, shortcut);
      std::printf("  %s L=%d B=%d: wall %.3f s/forward, %.2f pairs/s, executed %.1f GFLOP/s, model-equivalent %.1f GFLOP/s\n",
                  dts.c_str(), L, B, dt_s, B / dt_s, f.executed / dt_s / 1e9, f.model / dt_s / 1e9);
      std::printf("  %s L=%d B=%d: cpu-time/threads %.3f s/forward, %.2f pairs/s, executed %.1f GFLOP/s, model-equivalent %.1f GFLOP/s"
                  "  (user %.2f s, sys %.2f s, %ld minor faults per forward)\n",
                  dts.c_str(), L, B, alone_s, B / alone_s, f.executed / alone_s / 1e9, f.model / alone_s / 1e9, cpu_s, sys_s,
                  (ru1.ru_minflt - ru0.ru_minflt) / reps);
      if (peak) {
        cpu::GemmPrec prec = dt == DType::kFp32   ? cpu::GemmPrec::kF32
                             : dt == DType::kInt8 ? cpu::GemmPrec::kInt8
                             : cpu::gemm_caps().bf16_native ? cpu::GemmPrec::kBf16
                                                            : cpu::GemmPrec::kBf16Emu;
        const Peak pk = gemm_peak(cfg, prec, L * B, 1);
        std::printf("  GEMM peak (%s, M=%d, model shapes): wall %.1f GFLOP/s -> end-to-end %.0f%% of peak;"
                    " cpu-time %.1f GFLOP/s -> end-to-end %.0f%% of peak\n",
                    dts.c_str(), L * B, pk.wall, 100.0 * f.executed / dt_s / 1e9 / pk.wall, pk.cpu,
                    100.0 * f.executed / alone_s / 1e9 / pk.cpu);
#ifdef CR_HAVE_OPENBLAS
        if (dt == DType::kFp32) {
          const Peak ob = openblas_peak(cfg, L * B, 1);
          std::printf("  OpenBLAS sgemm, same shapes: wall %.1f GFLOP/s, cpu-time %.1f GFLOP/s (OpenBLAS threads spin:"
                      " its cpu-time figure is pessimistic)\n", ob.wall, ob.cpu);
        }
#endif
      }
      if (profile) {
        double tot = 0;
        for (auto& [name, s] : info.op_seconds()) tot += s;
        std::printf("  per-op (share of %.3f s):", tot / reps);
        for (auto& [name, s] : info.op_seconds())
          if (s > 0) std::printf("  %s %.1f%%", name.c_str(), 100.0 * s / tot);
        std::printf("\n");
      }
    }
  }

  if (ref_layers > 0) {
    ModelConfig rc = cfg;
    rc.layers = ref_layers;
    std::shared_ptr<const TensorMap> rw = synthetic_weights(rc, 0);
    auto ref = make_reference_backend(rc, rw);
    // No last-layer shortcut here: on a short copy it would skip a large share of the work
    // the reference does, so this is a like-for-like per-layer comparison.
    RunnerOptions full;
    full.last_layer_shortcut = false;
    auto fp = make_backend(make_cpu_ops(DType::kFp32), rc, rw, full);
    std::printf("\n== reference vs cpu fp32 (shortcut off) on a %d-layer copy\n", ref_layers);
    for (auto [L, B] : shapes) {
      const PackedBatch batch = make_batch(rc, L, B, 42);
      t0 = Clock::now();
      double c0 = cpu_secs();
      const auto a = ref->forward(batch);
      const double tr = secs(t0, Clock::now()), cr = cpu_secs() - c0;
      t0 = Clock::now();
      c0 = cpu_secs();
      const auto b = fp->forward(batch);
      const double tc = secs(t0, Clock::now()), cc = cpu_secs() - c0;
      float d = 0;
      for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
      std::printf("  L=%d B=%d: wall reference %.2f s, cpu fp32 %.2f s -> speedup %.1fx; cpu-time %.2f s vs %.2f s -> %.1fx"
                  " (max|dlogit| %.2g)\n", L, B, tr, tc, tr / tc, cr, cc, cr / cc, d);
    }
  }
  return 0;
}
