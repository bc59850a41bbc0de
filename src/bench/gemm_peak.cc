#include "bench/gemm_peak.h"

#include <sys/resource.h>

#include <chrono>
#include <cstring>
#include <oneapi/dnnl/dnnl.hpp>
#include <vector>

#include "backend/cpu/gemm.h"
#include "backend/cpu/igemm.h"
#include "backend/cpu/isa.h"

namespace crossrank::bench {

std::vector<GemmShape> peak_shapes(int hidden, int intermediate) {
  std::vector<GemmShape> out{{512, 4096, 1024}};
  for (int m : {512, 2048})
    for (GemmShape s : {GemmShape{m, 3 * hidden, hidden}, GemmShape{m, intermediate, hidden},
                        GemmShape{m, hidden, intermediate}}) {
      bool dup = s.n <= 0 || s.k <= 0;
      for (const auto& o : out) dup |= o.m == s.m && o.n == s.n && o.k == s.k;
      if (!dup) out.push_back(s);
    }
  return out;
}

namespace {

double cpu_now() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// Repeats `run` for ~`seconds` after one warm-up and fills the timing fields of r.
template <class F>
void time_runs(GemmPeak& r, double seconds, GemmShape sh, F&& run) {
  run();  // warm-up (JIT, page faults)
  const double c0 = cpu_now();
  const auto t0 = std::chrono::steady_clock::now();
  double el = 0;
  do {
    run();
    ++r.iterations;
    el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (el < seconds);
  r.seconds = el;
  r.cpu_seconds = cpu_now() - c0;
  r.gflops = 2.0 * sh.m * sh.n * sh.k * r.iterations / el / 1e9;
  r.m = sh.m, r.n = sh.n, r.k = sh.k;
  r.ok = true;
}

// One of crossrank's own GEMMs (name, e.g. "igemm_s16s8"): A [m, k] and W [n, k] filled with
// `a_val` / `w_val` (small non-zero values), C [m, n]; gemm(A, W packed as P, C) is timed.
template <class TA, class TW, class TC, class P, class G>
GemmPeak measure_own(const char* dtype, const char* kind, const char* name, double seconds, GemmShape sh, TA a_val,
                     TW w_val, G&& gemm) {
  GemmPeak r;
  r.dtype = dtype;
  r.kind = kind;
  r.impl = std::string("crossrank ") + name + " (" + cpu::to_string(cpu::cpu_isa()) + ")";
  try {
    std::vector<TA> a(static_cast<std::size_t>(sh.m) * sh.k, a_val);
    std::vector<TW> w(static_cast<std::size_t>(sh.n) * sh.k, w_val);
    std::vector<TC> c(static_cast<std::size_t>(sh.m) * sh.n);
    const P p(w.data(), sh.n, sh.k);
    time_runs(r, seconds, sh, [&] { gemm(a.data(), p, c.data()); });
  } catch (const std::exception& e) {
    r.note = std::string(name) + " error: " + e.what();
  }
  return r;
}

// The int8 GEMM crossrank runs where oneDNN's u8*s8 would saturate (cpu::use_igemm()).
GemmPeak measure_igemm(double seconds, GemmShape sh) {
  return measure_own<int16_t, int8_t, int32_t, cpu::PackedS8>(
      "int8", "s16:s8:s32", "igemm_s16s8", seconds, sh, int16_t{0x121}, int8_t{0x11},
      [&](const int16_t* a, const cpu::PackedS8& p, int32_t* c) { cpu::igemm_s16s8(a, sh.k, sh.m, p, c, sh.n); });
}

// The fp32 GEMM crossrank runs where cpu::use_sgemm_fp32() (sgemm_det).
GemmPeak measure_sgemm(double seconds, GemmShape sh) {
  return measure_own<float, float, float, cpu::PackedF32>(
      "fp32", "f32:f32:f32", "sgemm_det", seconds, sh, 0.0115f, 0.0115f,
      [&](const float* a, const cpu::PackedF32& p, float* c) { cpu::sgemm_det(a, sh.k, sh.m, p, c, sh.n); });
}

// One oneDNN matmul shape for ~`seconds`.
GemmPeak measure_onednn(const std::string& dtype, double seconds, GemmShape sh) {
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  GemmPeak r;
  r.dtype = dtype;
  dt a = dt::f32, b = dt::f32, c = dt::f32;
  if (dtype == "fp32") {
    r.kind = "f32:f32:f32";
  } else if (dtype == "bf16") {
    a = b = dt::bf16;
    r.kind = "bf16:bf16:f32";
  } else {
    a = dt::u8;
    b = dt::s8;
    c = dt::s32;
    r.kind = "u8:s8:s32";
  }
  try {
    dnnl::engine eng(dnnl::engine::kind::cpu, 0);
    dnnl::stream s(eng);
    dnnl::memory::desc ad({sh.m, sh.k}, a, tag::ab), bd({sh.k, sh.n}, b, tag::any), cd({sh.m, sh.n}, c, tag::ab);
    dnnl::matmul::primitive_desc pd;
    try {
      pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(ad, bd, cd), eng);
    } catch (const dnnl::error&) {
      r.note = "no oneDNN kernel for " + r.kind + " on this CPU";
      return r;
    }
    r.impl = pd.impl_info_str();
    if (r.impl.rfind("ref", 0) == 0) {
      // The reference implementation is a correctness fallback, not a peak.
      r.note = "oneDNN has only its reference kernel (" + r.impl + ") for " + r.kind + " on this CPU";
      return r;
    }
    dnnl::memory A(pd.src_desc(), eng), B(pd.weights_desc(), eng), C(pd.dst_desc(), eng);
    // Small non-zero values (speed does not depend on them; zeros could hit fast paths).
    auto fill = [](dnnl::memory& m, size_t bytes, unsigned char v) {
      std::memset(m.get_data_handle(), v, bytes);
    };
    fill(A, pd.src_desc().get_size(), a == dt::f32 ? 0x3c : 0x21);  // f32 0x3c3c3c3c ~ 0.0115
    fill(B, pd.weights_desc().get_size(), b == dt::f32 ? 0x3c : 0x11);
    fill(C, pd.dst_desc().get_size(), 0);
    dnnl::matmul mm(pd);
    time_runs(r, seconds, sh, [&] {
      mm.execute(s, {{DNNL_ARG_SRC, A}, {DNNL_ARG_WEIGHTS, B}, {DNNL_ARG_DST, C}});
      s.wait();
    });
  } catch (const std::exception& e) {
    r.note = std::string("oneDNN error: ") + e.what();
  }
  return r;
}

// One shape for ~`seconds`; fills gflops/iterations/seconds/cpu_seconds/impl or note.
GemmPeak measure_one(const std::string& dtype, double seconds, GemmShape sh) {
  if (dtype != "fp32" && dtype != "bf16" && dtype != "int8") {
    GemmPeak r;
    r.dtype = dtype;
    r.note = "unknown dtype";
    return r;
  }
  if (dtype == "int8" && cpu::use_igemm()) return measure_igemm(seconds, sh);
  if (dtype == "fp32" && cpu::use_sgemm_fp32()) {
    // The peak is the faster of what crossrank runs and oneDNN's, so that a kernel of
    // crossrank's own cannot make the percentages look better than the machine allows.
    GemmPeak own = measure_sgemm(seconds, sh), dnn = measure_onednn(dtype, seconds, sh);
    return !dnn.ok || (own.ok && own.gflops >= dnn.gflops) ? own : dnn;
  }
  return measure_onednn(dtype, seconds, sh);
}

}  // namespace

GemmPeak measure_gemm_peak(const std::string& dtype, double seconds, const std::vector<GemmShape>& shapes) {
  GemmPeak best;
  best.dtype = dtype;
  best.note = "no shape given";
  for (const auto& sh : shapes) {
    GemmPeak r = measure_one(dtype, seconds, sh);
    if (!r.ok) return r;  // no kernel for this dtype: the same for every shape
    if (!best.ok || r.gflops > best.gflops) best = r;
  }
  best.shapes = static_cast<int>(shapes.size());
  return best;
}

std::string onednn_description() {
  const auto* v = dnnl::version();
  std::string isa;
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::sse41: isa = "sse41"; break;
    case dnnl::cpu_isa::avx: isa = "avx"; break;
    case dnnl::cpu_isa::avx2: isa = "avx2"; break;
    case dnnl::cpu_isa::avx2_vnni: isa = "avx2_vnni"; break;
    case dnnl::cpu_isa::avx512_core: isa = "avx512_core"; break;
    case dnnl::cpu_isa::avx512_core_vnni: isa = "avx512_core_vnni"; break;
    case dnnl::cpu_isa::avx512_core_bf16: isa = "avx512_core_bf16"; break;
    case dnnl::cpu_isa::avx512_core_amx: isa = "avx512_core_amx"; break;
    default: isa = "isa#" + std::to_string(static_cast<int>(dnnl::get_effective_cpu_isa()));
  }
  return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch) +
         ", " + isa;
}

}  // namespace crossrank::bench
