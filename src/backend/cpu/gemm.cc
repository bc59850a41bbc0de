#include "backend/cpu/gemm.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "backend/cpu/isa.h"
#include "backend/cpu/kernels.h"
#include "crossrank/crossrank.h"
#include "util/env.h"
#include "util/error.h"

namespace crossrank::cpu {

using dnnl::memory;
using dt = memory::data_type;
using tag = memory::format_tag;

namespace {

bool is_ref_impl(const char* impl) { return std::strncmp(impl, "ref", 3) == 0; }

GemmCaps probe_caps() {
  GemmCaps c;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::sse41: c.isa = "sse41"; break;
    case dnnl::cpu_isa::avx: c.isa = "avx"; break;
    case dnnl::cpu_isa::avx2: c.isa = "avx2"; break;
    case dnnl::cpu_isa::avx512_core: c.isa = "avx512_core"; break;
    case dnnl::cpu_isa::avx512_core_vnni: c.isa = "avx512_core_vnni"; break;
    case dnnl::cpu_isa::avx512_core_bf16: c.isa = "avx512_core_bf16"; break;
    case dnnl::cpu_isa::avx512_core_amx: c.isa = "avx512_core_amx"; break;
    default: c.isa = "other"; break;
  }
  // bf16: does a non-reference bf16 matmul exist? (oneDNN 2.6 on AVX2: none at all.)
  try {
    memory::desc a({64, 64}, dt::bf16, tag::ab), b({64, 64}, dt::bf16, tag::any), d({64, 64}, dt::f32, tag::ab);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, d), eng);
    c.bf16_native = !is_ref_impl(pd.impl_info_str());
  } catch (const dnnl::error&) {
    c.bf16_native = false;
  }
  // int8: without VNNI oneDNN multiplies u8*s8 with vpmaddubsw, whose s16 pair sums
  // saturate (255*127*2 > 32767). Measured on AMD Zen 3 (AVX2, 2026-10): all-255 x all-127, K=64 gives
  // 1048544 instead of 2072640. Probe it rather than guess from the ISA name.
  try {
    const int K = 64;
    memory::desc a({1, K}, dt::u8, tag::ab), bplain({K, 1}, dt::s8, tag::ab), d({1, 1}, dt::s32, tag::ab);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, memory::desc({K, 1}, dt::s8, tag::any), d), eng);
    memory am(a, eng), bp(bplain, eng), bm(pd.weights_desc(), eng), dm(d, eng);
    std::memset(am.get_data_handle(), 255, K);
    std::memset(bp.get_data_handle(), 127, K);
    dnnl::stream s(eng);
    dnnl::reorder(bp, bm).execute(s, bp, bm);
    dnnl::matmul(pd).execute(s, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, dm}});
    s.wait();
    c.int8_saturates = *static_cast<int32_t*>(dm.get_data_handle()) != 255 * 127 * K;
  } catch (const dnnl::error&) {
    c.int8_saturates = true;
  }
  return c;
}

}  // namespace

bool use_igemm() { return gemm_caps().int8_saturates || cpu_isa() <= Isa::kAvx2; }

bool use_sgemm_fp32() {
  static const bool use = [] {
    const char* e = std::getenv("CROSSRANK_FP32_GEMM");
    if (!e || !*e) return cpu_isa() == Isa::kAvx2;
    return !std::strcmp(env_choice("CROSSRANK_FP32_GEMM", {"onednn", "sgemm"}), "sgemm");
  }();
  return use;
}

const GemmCaps& gemm_caps() {
  static const GemmCaps caps = probe_caps();  // thread-safe static init
  return caps;
}

Linear::Linear(const dnnl::engine& eng, GemmPrec prec, GemmPost post, const std::vector<const float*>& w_blocks,
               const std::vector<const float*>& b_blocks, const std::vector<int>& rows, int K, bool force_fixed_m,
               bool sgemm_det)
    : eng_(eng), prec_(prec), post_(post), K_(K) {
  N_ = 0;
  for (int r : rows) N_ += r;
  const size_t NK = static_cast<size_t>(N_) * K_;
  bias_.resize(N_);
  {
    int off = 0;
    for (size_t b = 0; b < rows.size(); ++b) {
      std::memcpy(bias_.data() + off, b_blocks[b], sizeof(float) * rows[b]);
      off += rows[b];
    }
  }
  // Gather W [N, K] (row-major = "ba" as a K x N matrix) in the storage type of `prec`.
  auto for_rows = [&](auto&& fn) {  // fn(global_row, const float* src_row)
    int off = 0;
    for (size_t b = 0; b < rows.size(); ++b) {
      const int nb = rows[b];
#pragma omp parallel for schedule(static)
      for (int r = 0; r < nb; ++r) fn(off + r, w_blocks[b] + static_cast<size_t>(r) * K_);
      off += nb;
    }
  };
  dt wdt = dt::f32;
  std::vector<char> plain;
  switch (prec_) {
    case GemmPrec::kF32:
      plain.resize(NK * 4);
      for_rows([&](int n, const float* w) { std::memcpy(plain.data() + static_cast<size_t>(n) * K_ * 4, w, 4 * K_); });
      break;
    case GemmPrec::kBf16Emu:
      plain.resize(NK * 4);
      for_rows([&](int n, const float* w) {
        rk().round_bf16(w, K_, reinterpret_cast<float*>(plain.data()) + static_cast<size_t>(n) * K_);
      });
      break;
    case GemmPrec::kBf16:
      wdt = dt::bf16;
      plain.resize(NK * 2);
      for_rows([&](int n, const float* w) {
        rk().to_bf16(w, K_, reinterpret_cast<uint16_t*>(plain.data()) + static_cast<size_t>(n) * K_);
      });
      break;
    case GemmPrec::kInt8: {
      wdt = dt::s8;
      // Symmetric per-output-channel quantisation: 8 bits for oneDNN; on igemm_s16s8 (no
      // VNNI) the wider range igemm_range(K) allows at the same speed, stored as s16.
      const bool wide = use_igemm();
      const int qmax = wide ? igemm_range(K_).w : 127;
      plain.resize(NK * (wide ? 2 : 1));
      w_scale_.resize(N_);
      w_sum_.resize(N_);
      for_rows([&](int n, const float* w) {
        float amax = 0.f;
        for (int k = 0; k < K_; ++k) amax = std::max(amax, std::fabs(w[k]));
        const float scale = amax > 0.f ? amax / qmax : 1.0f;
        const float inv = 1.0f / scale;
        int8_t* q = reinterpret_cast<int8_t*>(plain.data()) + static_cast<size_t>(n) * K_;
        int16_t* q16 = reinterpret_cast<int16_t*>(plain.data()) + static_cast<size_t>(n) * K_;
        int32_t sum = 0;
        for (int k = 0; k < K_; ++k) {
          int v = static_cast<int>(std::nearbyint(w[k] * inv));
          v = std::clamp(v, -qmax, qmax);
          if (wide) q16[k] = static_cast<int16_t>(v);
          else q[k] = static_cast<int8_t>(v);
          sum += v;
        }
        w_scale_[n] = scale;
        w_sum_[n] = sum;
      });
      break;
    }
  }

  if (sgemm_det && (prec_ == GemmPrec::kF32 || prec_ == GemmPrec::kBf16Emu)) {
    det_ = std::make_unique<PackedF32>(reinterpret_cast<const float*>(plain.data()), N_, K_,
                                       post_ == GemmPost::kBiasAccumulate ? nullptr : bias_.data());
    impl_ = std::string("crossrank sgemm_det (batch-invariant, ") + to_string(cpu_isa()) + ")";
    return;
  }
  if (sgemm_det && prec_ == GemmPrec::kBf16)
    throw Error(ErrorCode::kUnsupported, "deterministic bf16 needs the emulated bf16 GEMM (cpu backend bug)");
  if (prec_ == GemmPrec::kInt8 && use_igemm()) {
    own_ = std::make_unique<PackedS8>(reinterpret_cast<const int16_t*>(plain.data()), N_, K_);
    impl_ = std::string("crossrank igemm_s16s8 (s16 activations, ") + (cpu_isa() >= Isa::kAvx2 ? "avx2)" : "scalar)");
    return;
  }
  if (prec_ != GemmPrec::kInt8) {
    dnnl::post_ops ops;
    if (post_ == GemmPost::kBiasGelu) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_gelu_erf, 0.f, 0.f);
    if (post_ == GemmPost::kBiasGeluTanh) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_gelu_tanh, 0.f, 0.f);
    if (post_ == GemmPost::kBiasAccumulate) ops.append_sum(1.0f);
    attr_.set_post_ops(ops);
  }

  const memory::desc wany({K_, N_}, wdt, tag::any);
  memory::desc wdesc;
  if (!force_fixed_m) {
    try {
      auto pd = make_pd(DNNL_RUNTIME_DIM_VAL, wany);
      if (!is_ref_impl(pd.impl_info_str())) {
        prim_ = dnnl::matmul(pd);
        wdesc = pd.weights_desc();
        impl_ = pd.impl_info_str();
      }
    } catch (const dnnl::error&) {
    }
  }
  if (!prim_) {
    // Fixed-M fallback: pick the packed layout with a representative M, then create
    // per-M primitives against that layout on demand.
    runtime_m_ = false;
    auto pd = make_pd(512, wany);
    wdesc = pd.weights_desc();
    impl_ = std::string(pd.impl_info_str()) + " (per-M primitives)";
  }
  dnnl::stream s(eng_);
  memory src_plain(memory::desc({K_, N_}, wdt, tag::ba), eng_, plain.data());
  wmem_ = memory(wdesc, eng_);
  dnnl::reorder(src_plain, wmem_).execute(s, src_plain, wmem_);
  s.wait();
  if (prec_ != GemmPrec::kInt8) bias_mem_ = memory(memory::desc({1, N_}, dt::f32, tag::ab), eng_, bias_.data());
}

dnnl::matmul::primitive_desc Linear::make_pd(memory::dim M, const memory::desc& wdesc) const {
  const dt sdt = prec_ == GemmPrec::kBf16 ? dt::bf16 : prec_ == GemmPrec::kInt8 ? dt::u8 : dt::f32;
  const dt ddt = prec_ == GemmPrec::kInt8 ? dt::s32 : dt::f32;
  memory::desc src({M, K_}, sdt, tag::ab), dst({M, N_}, ddt, tag::ab);
  if (prec_ == GemmPrec::kInt8) return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, wdesc, dst), attr_, eng_);
  memory::desc bias({1, N_}, dt::f32, tag::ab);
  return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, wdesc, bias, dst), attr_, eng_);
}

dnnl::matmul Linear::prim_for(int M) const {
  if (runtime_m_) return prim_;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_m_.find(M);
  if (it != by_m_.end()) return it->second;
  if (by_m_.size() > 256) by_m_.clear();  // bound the cache (oneDNN's primitive cache is below)
  auto pd = make_pd(M, wmem_.get_desc());
  return by_m_.emplace(M, dnnl::matmul(pd)).first->second;
}

void Linear::run(const int16_t* src, int M, const IgemmEpilogue& f, const IgemmExtra* extra) const {
  check(own_ != nullptr, "Linear::run: an epilogue needs the igemm_s16s8 path");
  igemm_s16s8(src, K_, M, *own_, f, extra);
}

void Linear::run(dnnl::stream& s, const void* src, int M, void* y) const {
  if (M <= 0) return;
  if (own_) {
    igemm_s16s8(static_cast<const int16_t*>(src), K_, M, *own_, static_cast<int32_t*>(y), N_);
    return;
  }
  if (det_) {
    float* out = static_cast<float*>(y);
    const std::size_t n = static_cast<std::size_t>(N_);
    if (post_ == GemmPost::kBiasAccumulate) {  // the chains start from residual + bias
#pragma omp parallel for schedule(static)
      for (int m = 0; m < M; ++m) rk().add(out + m * n, bias_.data(), N_);
    }
    sgemm_det(static_cast<const float*>(src), K_, M, *det_, out, n, post_ == GemmPost::kBiasAccumulate);
    if (post_ == GemmPost::kBiasGelu) {
#pragma omp parallel for schedule(static)
      for (int m = 0; m < M; ++m) rk().gelu(out + m * n, N_);
    }
    if (post_ == GemmPost::kBiasGeluTanh) {
#pragma omp parallel for schedule(static)
      for (int m = 0; m < M; ++m) rk().act(RowAct::kGeluTanh, out + m * n, N_, out + m * n);
    }
    return;
  }
  const dt sdt = prec_ == GemmPrec::kBf16 ? dt::bf16 : prec_ == GemmPrec::kInt8 ? dt::u8 : dt::f32;
  const dt ddt = prec_ == GemmPrec::kInt8 ? dt::s32 : dt::f32;
  memory sm(memory::desc({M, K_}, sdt, tag::ab), eng_, const_cast<void*>(src));
  memory dm(memory::desc({M, N_}, ddt, tag::ab), eng_, y);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, sm}, {DNNL_ARG_WEIGHTS, wmem_}, {DNNL_ARG_DST, dm}};
  if (prec_ != GemmPrec::kInt8) args.emplace(DNNL_ARG_BIAS, bias_mem_);
  prim_for(M).execute(s, args);
}

}  // namespace crossrank::cpu
