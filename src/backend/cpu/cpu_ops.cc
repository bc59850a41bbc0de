// Optimised CPU ops: oneDNN matmul GEMMs with pre-packed weights (gemm.h), fused row
// kernels (kernels.h) and blocked varlen attention (attention.h), in fp32, bf16 or int8.
//
// GEMM-ready companions. An activation allocated with ActUse::kGemmInput carries, next to
// its fp32 rows, the form the next GEMM reads: bf16 rows (native bf16), bf16-rounded fp32
// rows (emulated bf16), or u8 rows + per-row scale and zero point (int8). The op that
// writes the activation writes the companion in the same row loop (LayerNorm ->
// quantise, GELU -> quantise, attention output -> quantise), so no GEMM converts its input
// in a separate pass. An input without a companion is converted into op scratch.
//
// int8 GEMMs produce s32 accumulators; one fused row pass applies the per-token and
// per-channel scales, the bias, the epilogue (GELU / residual + LayerNorm) and the next
// companion, because oneDNN 2.6 matmul has no per-row (per-token) scales. fp32/bf16 GEMMs
// use oneDNN post-ops (bias, eltwise_gelu_erf, sum for the residual).
//
// Parallelism: GEMMs use oneDNN's OpenMP threading over M/N; row kernels are
// `omp parallel for` over rows; attention over (sequence, head) tasks, dynamically.
// Measured figures (GEMM share, % of peak, per CPU) are in docs/performance.md.
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>

#include <oneapi/dnnl/dnnl.hpp>

#include "backend/backend.h"
#include "backend/cpu/attention.h"
#include "backend/cpu/attention_causal.h"
#include "backend/cpu/cpu_ops.h"
#include "backend/cpu/gemm.h"
#include "backend/cpu/isa.h"
#include "backend/cpu/kernels.h"
#include "util/error.h"
#include "util/log.h"

namespace crossrank::cpu {
namespace {

using Clock = std::chrono::steady_clock;

struct CpuLinear final : Param {
  std::unique_ptr<Linear> lin;
  Epilogue epi = Epilogue::kNone;
  std::string name;  // LinearDesc::name (calibration statistics are keyed by it)
  std::string prof;  // profile bucket, e.g. "gemm_ffn_in"
  // int8 SmoothQuant: the weights' input columns were multiplied by s; GEMM inputs are
  // quantised from x * inv_s. Empty: not smoothed.
  std::vector<float> s, inv_s;
};
struct CpuNorm final : Param {
  NormKind kind = NormKind::kLayerNorm;
  std::vector<float> w, b;
  float eps = 0;
};
struct CpuTable {
  const HostTensor* t = nullptr;
  const float* f32 = nullptr;  // zero-copy rows when the source is aligned F32
};
struct CpuEmbed final : Param {
  CpuTable word, pos, type;
  bool has_norm = false;
  CpuNorm norm;
};

inline float* frow(const Act& a, int r) { return reinterpret_cast<float*>(a.data) + static_cast<std::size_t>(r) * a.ld; }

// Row r of a table as fp32: the zero-copy pointer, or converted into `buf`.
inline const float* table_row(const CpuTable& t, std::int64_t r, int H, float* buf) {
  if (t.f32) return t.f32 + r * H;
  t.t->to_f32(buf, r * H, H);
  return buf;
}

inline void norm_row(float* x, const float* r, int n, const CpuNorm& p) {
  if (p.kind == NormKind::kLayerNorm) rk().add_layer_norm(x, r, n, p.w.data(), p.b.empty() ? nullptr : p.b.data(), p.eps);
  else rk().add_rms_norm(x, r, n, p.w.data(), p.eps);
}

class CpuOps final : public Ops, public CpuOpsInfo {
 public:
  CpuOps(DType dtype, const CpuOpsOptions& opts) : dtype_(dtype), opts_(opts), eng_(dnnl::engine::kind::cpu, 0) {
    // Environment overrides for benchmarks and quality experiments (not for production).
    if (const char* a = std::getenv("CROSSRANK_CPU_ATTN")) opts_.attn_bf16 = opts_.attn_bf16_int8 = std::string(a) != "fp32";
    if (const char* p = std::getenv("CROSSRANK_CPU_PRECISE_POOLED")) opts_.precise_pooled = std::string(p) != "0";
    // Experiments: CROSSRANK_CPU_SMOOTH=<alpha> (0: off).
    if (const char* p = std::getenv("CROSSRANK_CPU_SMOOTH")) opts_.smooth_alpha = std::strtof(p, nullptr);
    if (!(opts_.smooth_alpha >= 0.f && opts_.smooth_alpha <= 1.f)) throw Error("cpu backend: smooth_alpha must be in [0, 1]");
    if (opts_.attn_q_block < 1 || opts_.attn_k_block < 1) throw Error("cpu backend: bad attention block sizes");
    const GemmCaps& caps = gemm_caps();
    switch (dtype) {
      case DType::kFp32: prec_ = GemmPrec::kF32; break;
      case DType::kBf16:
        prec_ = caps.bf16_native && !opts_.force_bf16_emulation && !opts_.deterministic ? GemmPrec::kBf16
                                                                                        : GemmPrec::kBf16Emu;
        break;
      case DType::kInt8: prec_ = GemmPrec::kInt8; break;
      case DType::kFp16:
        throw Error(ErrorCode::kUnsupported, "fp16 is a GPU dtype; on CPU use bf16 (or fp32 / int8)");
    }
    describe_ = std::string("cpu ") + to_string(dtype) + ": kernels " + to_string(cpu_isa()) + ", oneDNN ISA " + caps.isa;
    if (prec_ == GemmPrec::kBf16) describe_ += ", native bf16 matmul";
    if (prec_ == GemmPrec::kBf16Emu)
      describe_ += ", bf16 EMULATED (bf16-rounded operands, fp32 GEMM: no bf16 matmul on this CPU)";
    if (prec_ == GemmPrec::kInt8)
      describe_ += use_igemm() ? ", int8 weights 8-bit, GEMM igemm_u8s8 (exact s16 pairs: no VNNI)"
                                       : ", int8 weights 8-bit";
    if (opts_.deterministic) {
      opts_.attn_sgemm = false;
      describe_ += ", deterministic (batch-invariant GEMMs)";
    }
    if (prec_ == GemmPrec::kBf16Emu && !opts_.force_bf16_emulation && !opts_.deterministic) {
      static std::once_flag once;
      std::call_once(once, [&] {
        log_warn("bf16: this CPU has no bf16 matmul (oneDNN ISA " + caps.isa +
                 "); bf16 is emulated with fp32 GEMMs (same speed as fp32, bf16 accuracy). Prefer fp32 or int8 here.");
      });
    }
  }

  const char* name() const override { return "cpu"; }
  DType dtype() const override { return dtype_; }
  std::string describe() const override {
    std::string d = describe_ + gemm_impl_;
    if (prec_ == GemmPrec::kInt8) {
      d += stats_.empty() ? ", SmoothQuant off (no calibration)" : ", SmoothQuant alpha " + fmt_alpha() + " (calibrated)";
      d += precise() ? ", 16-bit pooled rows" : ", 8-bit pooled rows";
      d += opts_.attn_bf16_int8 && cpu_isa() >= Isa::kAvx512Bf16 ? ", attention bf16" : ", attention fp32";
    } else if (prec_ == GemmPrec::kBf16) {
      d += opts_.attn_bf16 && cpu_isa() >= Isa::kAvx512Bf16 ? ", attention bf16" : ", attention fp32";
    }
    return d;
  }
  std::string fmt_alpha() const {
    char b[16];
    std::snprintf(b, sizeof b, "%.2g", opts_.smooth_alpha);
    return b;
  }
  OpsCaps caps() const override {
    OpsCaps c;
    c.dtypes = {DType::kFp32, DType::kBf16, DType::kInt8};
    // Passes of ~2k tokens stay in cache (MiniLM, 32 clients x 20 pairs: 16384 tokens per
    // pass 176-201 pairs/s, 2048: 226-249; see docs/performance.md).
    c.preferred_batch_tokens = 2048;
    // Fresh pages for every pass cost ~5 % of CPU time (bge-reranker-base 8 x 512).
    c.keep_arena_bytes = std::size_t(512) << 20;
    c.ffn_block_rows = opts_.ffn_block_rows;
    const long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    c.free_memory = pages > 0 && page > 0 ? static_cast<std::size_t>(pages) * page : 0;
    return c;
  }

  std::vector<std::pair<std::string, double>> op_seconds() const override {
    std::lock_guard<std::mutex> lock(prof_mu_);
    return {prof_.begin(), prof_.end()};
  }
  void reset_profile() override {
    std::lock_guard<std::mutex> lock(prof_mu_);
    prof_.clear();
  }

  // ---- parameters ------------------------------------------------------------------
  ParamPtr do_prepare_linear(const LinearDesc& d) override {
    check(!d.weights.empty(), "linear '" + d.name + "': no weights");
    const int K = static_cast<int>(d.weights[0]->cols());
    std::vector<std::vector<float>> conv;  // fp32 copies of non-F32 / unaligned blocks
    std::vector<const float*> ws, bs;
    std::vector<int> rows;
    for (std::size_t i = 0; i < d.weights.size(); ++i) {
      const HostTensor* t = d.weights[i];
      check(t->cols() == K, "linear '" + d.name + "': blocks differ in K");
      rows.push_back(static_cast<int>(t->rows()));
      ws.push_back(f32_of(t, conv));
      if (!d.biases.empty() && d.biases[i]) {
        bs.push_back(f32_of(d.biases[i], conv));
      } else {
        conv.emplace_back(static_cast<std::size_t>(t->rows()), 0.f);
        bs.push_back(conv.back().data());
      }
      note_copied(t);
    }
    auto p = std::make_unique<CpuLinear>();
    p->epi = d.epilogue;
    p->name = d.name;
    if (prec_ == GemmPrec::kInt8 && opts_.smooth_alpha > 0) smooth(d.name, ws, rows, K, conv, *p);
    const GemmPost post = d.epilogue == Epilogue::kGelu       ? GemmPost::kBiasGelu
                          : d.epilogue == Epilogue::kResidual ? GemmPost::kBiasAccumulate
                                                              : GemmPost::kBias;
    p->lin = std::make_unique<Linear>(eng_, prec_, post, ws, bs, rows, K, opts_.force_fixed_m, opts_.deterministic);
    const std::size_t dot = d.name.rfind('.');
    p->prof = "gemm_" + (dot == std::string::npos ? d.name : d.name.substr(dot + 1));
    if (gemm_impl_.empty()) gemm_impl_ = ", GEMM " + p->lin->impl_info();
    return p;
  }
  // ---- calibration (int8 SmoothQuant) -------------------------------------------------
  bool wants_calibration() const override { return prec_ == GemmPrec::kInt8 && opts_.smooth_alpha > 0; }
  void record_input_stats(bool on) override {
    recording_ = on;
    if (on) recorded_.clear();
  }
  InputStats input_stats() const override { return recorded_; }
  void set_input_stats(InputStats stats) override { stats_ = std::move(stats); }

  ParamPtr prepare_norm(const NormDesc& d) override {
    auto p = std::make_unique<CpuNorm>();
    fill_norm(d, *p);
    return p;
  }
  ParamPtr prepare_embedding(const EmbedDesc& d) override {
    auto p = std::make_unique<CpuEmbed>();
    p->word = {d.word, d.word ? d.word->f32_ptr() : nullptr};
    p->pos = {d.position, d.position ? d.position->f32_ptr() : nullptr};
    p->type = {d.type, d.type ? d.type->f32_ptr() : nullptr};
    p->has_norm = d.has_norm;
    if (d.has_norm) fill_norm(d.norm, p->norm);
    return p;
  }
  ParamPtr prepare_head(const HeadDesc& d) override { return make_host_head(d); }

  char* allocate_arena(std::size_t bytes) override {
    return static_cast<char*>(::operator new[](bytes, std::align_val_t(64)));
  }
  void free_arena(char* p, std::size_t) override { ::operator delete[](p, std::align_val_t(64)); }
  // oneDNN's gemm:jit allocates its own packing buffers inside each call (not visible
  // through the scratchpad API for runtime-M primitives): per thread, one panel of A and
  // one of B (<= ~4 MB each for K <= 4096), plus the int8 row/column offset sums.
  std::size_t extra_pass_bytes(int tokens) const override {
    return static_cast<std::size_t>(threads_bound()) * (8u << 20) + (16u << 20) +
           static_cast<std::size_t>(std::max(tokens, 0)) * 64;
  }

 protected:
  // ---- activation layout -----------------------------------------------------------
  // Layout of an activation: [fp32 rows][companion rows][per-row data]. Companion rows:
  // bf16 (native), bf16-rounded fp32 (emulated), u8 (int8, with a RowQ per row). An int8
  // kGemmOnly activation has no fp32 rows at all.
  struct RowQ {
    float scale;
    int32_t zp;
  };
  std::size_t comp_elem() const {
    return prec_ == GemmPrec::kBf16 ? 2 : prec_ == GemmPrec::kBf16Emu ? 4 : prec_ == GemmPrec::kInt8 ? 1 : 0;
  }
  std::size_t comp_bytes(int rows, int cols) const {
    const std::size_t n = static_cast<std::size_t>(rows) * cols;
    return prec_ == GemmPrec::kF32 ? 0 : align64(n * comp_elem()) + (prec_ == GemmPrec::kInt8 ? align64(rows * sizeof(RowQ)) : 0);
  }
  bool has_main(ActUse use) const { return !(use == ActUse::kGemmOnly && prec_ == GemmPrec::kInt8); }
  std::size_t act_bytes(int rows, int cols, ActUse use) const override {
    return (has_main(use) ? align64(static_cast<std::size_t>(rows) * cols * 4) : 0) +
           (use != ActUse::kPlain ? comp_bytes(rows, cols) + (precise() ? precise_bytes(cols) : 0) : 0);
  }
  void bind(Act& a, char* p) const override {
    a.ld = a.cols;
    a.elem = 4;
    a.data = has_main(a.use) ? p : nullptr;
    a.aux = a.aux2 = nullptr;
    if (!p || a.use == ActUse::kPlain || prec_ == GemmPrec::kF32) return;
    a.aux = p + (has_main(a.use) ? align64(static_cast<std::size_t>(a.rows) * a.cols * 4) : 0);
    if (prec_ == GemmPrec::kInt8) a.aux2 = a.aux + align64(static_cast<std::size_t>(a.rows) * a.cols);
    if (precise()) a.aux3 = a.aux + comp_bytes(a.rows, a.cols);
  }

 public:
  Act rows_view(const Act& a, int r0, int n) const override {
    check(r0 >= 0 && n >= 0 && r0 + n <= a.rows, "rows_view: rows out of range");
    Act v = a;
    v.rows = n;
    v.row0 = a.row0 + r0;
    if (a.data) v.data = a.data + static_cast<std::size_t>(r0) * a.ld * 4;
    if (a.aux) v.aux = a.aux + static_cast<std::size_t>(r0) * a.cols * comp_elem();
    if (a.aux2) v.aux2 = a.aux2 + static_cast<std::size_t>(r0) * sizeof(RowQ);
    return v;
  }

 protected:

  // ---- ops -------------------------------------------------------------------------
  void do_embed(const Param& ep, Act& out) override {
    const auto t0 = Clock::now();
    const auto& e = static_cast<const CpuEmbed&>(ep);
    const PackedBatch& b = batch();
    const int H = out.cols;
    check(static_cast<std::int64_t>(H) == e.word.t->cols(), "embed: width mismatch");
    check(out.data != nullptr, "embed: output needs fp32 rows");
#pragma omp parallel
    {
      std::vector<float> buf(static_cast<std::size_t>(H));
#pragma omp for schedule(static)
      for (int t = 0; t < b.total_tokens(); ++t) {
        float* x = frow(out, t);
        const float* we = table_row(e.word, b.input_ids[t], H, x);
        if (we != x) std::memcpy(x, we, sizeof(float) * H);
        if (e.pos.t) rk().add(x, table_row(e.pos, b.position_ids[t], H, buf.data()), H);
        if (e.type.t) rk().add(x, table_row(e.type, b.token_type_ids[t], H, buf.data()), H);
        if (e.has_norm) norm_row(x, nullptr, H, e.norm);
        comp_row(out, t);
      }
    }
    tick("embed", t0);
  }

  void do_linear(const Act& in, const Param& wp, Act& out) override {
    const auto& w = static_cast<const CpuLinear&>(wp);
    const Linear& L = *w.lin;
    const int M = in.rows, N = L.N();
    const int outN = w.epi == Epilogue::kSwiGlu ? N / 2 : N;
    check(in.cols == L.K() && out.cols == outN && out.rows == M && out.ld == out.cols, "linear: shape mismatch");
    check(out.data || prec_ == GemmPrec::kInt8, "linear: output without fp32 rows");
    if (M == 0) return;
    if (recording_) record(w, in);
    const Src src = gemm_src(in, w);
    auto t0 = Clock::now();
    if (prec_ != GemmPrec::kInt8) {
      if (w.epi == Epilogue::kSwiGlu) {
        float* z = reinterpret_cast<float*>(scratch(static_cast<std::size_t>(M) * N * 4));
        L.run(strm(), src.p, M, z);
        t0 = tick(w.prof, t0);
#pragma omp parallel for schedule(static)
        for (int m = 0; m < M; ++m) {
          rk().swiglu(z + static_cast<std::size_t>(m) * N, outN, frow(out, m));
          comp_row(out, m);
        }
      } else {
        L.run(strm(), src.p, M, out.data);  // bias (+GELU | + residual) as post-ops
        t0 = tick(w.prof, t0);
        if (out.aux) {
#pragma omp parallel for schedule(static)
          for (int m = 0; m < M; ++m) comp_row(out, m);
        }
      }
      tick("rows", t0);
      return;
    }
    // int8: s32 accumulators (in the output's fp32 rows when the result goes there and
    // nothing has to be added to it, else in scratch), then one fused row pass. A
    // kGemmOnly output keeps only its u8 form: the fp32 row never leaves the cache.
    const bool in_place = out.data && (w.epi == Epilogue::kNone || w.epi == Epilogue::kGelu);
    int32_t* acc = in_place ? reinterpret_cast<int32_t*>(out.data)
                            : reinterpret_cast<int32_t*>(scratch(static_cast<std::size_t>(M) * N * 4));
    check(out.data || w.epi != Epilogue::kResidual, "linear: a residual output needs fp32 rows");
    Int8Run run;
    int8_gemm(in, src, L, acc, run);
    t0 = tick(w.prof, t0);
#pragma omp parallel for schedule(static)
    for (int m = 0; m < M; ++m) {
      float* af = reinterpret_cast<float*>(acc + static_cast<std::size_t>(m) * N);
      int8_row(run, L, m, af);
      float* y = out.data ? frow(out, m) : af;
      switch (w.epi) {
        case Epilogue::kNone: break;
        case Epilogue::kGelu: rk().gelu(y, N); break;
        case Epilogue::kResidual: rk().add(y, af, N); break;
        case Epilogue::kSwiGlu: rk().swiglu(af, outN, y); break;  // y != af: outN < N
        default: throw_unfused("this linear epilogue");  // fuses() excludes the others
      }
      comp_from(out, m, y);
    }
    tick("rows", t0);
  }

  void do_linear_add_norm(const Act& in, const Param& wp, Act& x, const Param& np) override {
    const auto& w = static_cast<const CpuLinear&>(wp);
    const auto& n = static_cast<const CpuNorm&>(np);
    const Linear& L = *w.lin;
    const int M = in.rows, N = L.N();
    check(w.epi == Epilogue::kResidual, "linear_add_norm: the linear must be prepared with Epilogue::kResidual");
    check(in.cols == L.K() && x.cols == N && x.rows == M && x.ld == x.cols, "linear_add_norm: shape mismatch");
    if (M == 0) return;
    if (recording_) record(w, in);
    const Src src = gemm_src(in, w);
    auto t0 = Clock::now();
    if (prec_ != GemmPrec::kInt8) {
      L.run(strm(), src.p, M, x.data);  // x += in W^T + b (sum post-op)
      t0 = tick(w.prof, t0);
#pragma omp parallel for schedule(static)
      for (int m = 0; m < M; ++m) {
        norm_row(frow(x, m), nullptr, N, n);
        comp_row(x, m);
      }
      tick("rows", t0);
      return;
    }
    int32_t* acc = reinterpret_cast<int32_t*>(scratch(static_cast<std::size_t>(M) * N * 4));
    Int8Run run;
    int8_gemm(in, src, L, acc, run);
    t0 = tick(w.prof, t0);
#pragma omp parallel for schedule(static)
    for (int m = 0; m < M; ++m) {
      float* af = reinterpret_cast<float*>(acc + static_cast<std::size_t>(m) * N);
      int8_row(run, L, m, af);
      norm_row(frow(x, m), af, N, n);
      comp_row(x, m);
    }
    tick("rows", t0);
  }

  void do_norm(const Act& in, const Param& np, Act& out, int group) override {
    const auto t0 = Clock::now();
    const auto& n = static_cast<const CpuNorm&>(np);
    const int g = group > 0 ? group : in.cols;
    check(in.cols % g == 0 && static_cast<int>(n.w.size()) == g && out.cols == in.cols && out.rows == in.rows,
          "norm: shape mismatch");
    check(in.data != nullptr, "norm: input needs fp32 rows");
#pragma omp parallel
    {
      std::vector<float> tmp(out.data ? 0 : static_cast<std::size_t>(in.cols));
#pragma omp for schedule(static)
      for (int m = 0; m < in.rows; ++m) {
        float* y = out.data ? frow(out, m) : tmp.data();
        if (y != frow(in, m)) std::memcpy(y, frow(in, m), sizeof(float) * in.cols);
        for (int c = 0; c < in.cols; c += g) norm_row(y + c, nullptr, g, n);
        comp_from(out, m, y);
      }
    }
    tick("rows", t0);
  }

  void do_rope(Act& q, Act& k, const RopeDesc& d) override {
    const auto t0 = Clock::now();
    rope_rows(q, k, d, batch());
    tick("rope", t0);
  }

  void do_attention(const AttnDesc& d, const Act& q, const Act& k, const Act& v, Act& out) override {
    const auto t0 = Clock::now();
    const PackedBatch& b = batch();
    check(d.kv_heads > 0 && d.heads % d.kv_heads == 0, "attention: heads not a multiple of kv_heads");
    check(q.cols == d.heads * d.head_dim && k.cols == d.kv_heads * d.head_dim && v.cols == k.cols &&
              out.cols == q.cols && q.rows == selected_rows(b, d.q_rows) && out.rows == q.rows,
          "attention: shape mismatch");
    check(q.data && k.data && v.data && out.data, "attention: needs fp32 rows");
    check(d.window >= 0 && d.softcap >= 0.f, "attention: window and softcap must be >= 0");
    if (fast_attention(d, b)) {
      AttnArgs a = attn_args(d, q, k, v, out, b);
      if (bf16_attention(d)) cpu::attention_bf16(a, scratch(attention_bytes(d, b)));
      else cpu::attention(a, reinterpret_cast<float*>(scratch(attention_bytes(d, b))), opts_.attn_sgemm);
    } else {  // causal, grouped-query, last-row and shared-prefix attention (decoders)
      attention_causal(d, q, k, v, out, b, reinterpret_cast<float*>(scratch(attention_causal_scratch_bytes(d))));
    }
    if (out.aux) {
#pragma omp parallel for schedule(static)
      for (int m = 0; m < out.rows; ++m) comp_row(out, m);
    }
    tick("attention", t0);
  }

  // ---- primitives (fp32 rows; companions rewritten from them) ----
  bool fuses(Epilogue e) const override {
    return e == Epilogue::kNone || e == Epilogue::kGelu || e == Epilogue::kSwiGlu || e == Epilogue::kResidual;
  }
  // Applies f(m, y) to every row m of `out`, y its fp32 row (a temporary for an int8
  // kGemmOnly output), then rewrites the companion.
  template <class F>
  void rows_op(Act& out, F&& f) {
    const auto t0 = Clock::now();
#pragma omp parallel
    {
      std::vector<float> tmp(out.data ? 0 : static_cast<std::size_t>(out.cols));
#pragma omp for schedule(static)
      for (int m = 0; m < out.rows; ++m) {
        float* y = out.data ? frow(out, m) : tmp.data();
        f(m, y);
        comp_from(out, m, y);
      }
    }
    tick("rows", t0);
  }
  void do_add(const Act& a, Act& x) override {
    check(a.data && x.data, "add: needs fp32 rows");
    rows_op(x, [&](int m, float* y) { rk().add(y, frow(a, m), x.cols); });
  }
  void do_activate(const Act& in, Activation act, Act& out) override {
    check(in.data != nullptr, "activate: input needs fp32 rows");
    rows_op(out, [&](int m, float* y) {
      const float* x = frow(in, m);
      for (int i = 0; i < in.cols; ++i) y[i] = activate_ref(act, x[i]);
    });
  }
  void do_glu(const Act& in, Activation act, Act& out) override {
    check(in.data != nullptr, "glu: input needs fp32 rows");
    const int N = out.cols;
    rows_op(out, [&](int m, float* y) {
      const float* x = frow(in, m);
      if (act == Activation::kSilu) return rk().swiglu(x, N, y);
      for (int i = 0; i < N; ++i) y[i] = activate_ref(act, x[i]) * x[N + i];
    });
  }
  void do_scale(Act& x, float s) override {
    check(x.data != nullptr, "scale: needs fp32 rows");
    rows_op(x, [&](int, float* y) {
      for (int i = 0; i < x.cols; ++i) y[i] *= s;
    });
  }
  void do_mean_rows(const Act& in, Act& out) override {
    check(in.data != nullptr, "mean pooling: input needs fp32 rows");
    const PackedBatch& b = batch();
    rows_op(out, [&](int s, float* y) {
      std::vector<double> acc(in.cols, 0.0);
      for (int t = b.cu_seqlens[s]; t < b.cu_seqlens[s + 1]; ++t) {
        const float* x = frow(in, t);
        for (int i = 0; i < in.cols; ++i) acc[i] += x[i];
      }
      const double n = std::max(1, b.seqlen(s));
      for (int i = 0; i < in.cols; ++i) y[i] = static_cast<float>(acc[i] / n);
    });
  }

  void do_gather_rows(const Act& in, RowSel sel, Act& out) override {
    const PackedBatch& b = batch();
    check(out.rows == selected_rows(b, sel) && out.cols == in.cols, "gather_rows: shape mismatch");
    check(in.data && out.data, "gather_rows: needs fp32 rows");
    // The companion is recomputed from the fp32 row (S rows: cheaper than keeping copies
    // of every kind of companion in step, and bit-identical).
    for (int s = 0; s < out.rows; ++s) {
      const int r = sel == RowSel::kAll ? s : selected_row(b, s, sel);
      std::memcpy(frow(out, s), frow(in, r), sizeof(float) * in.cols);
      comp_row(out, s);
    }
  }

  std::vector<float> do_head(const Act& pooled, const Param& hp) override {
    const auto t0 = Clock::now();
    const auto& h = static_cast<const HostHead&>(hp);
    const int S = pooled.rows, H = h.H;
    check(pooled.cols == H, "head: pooled width mismatch");
    const float* x = reinterpret_cast<const float*>(pooled.data);
    float* t = reinterpret_cast<float*>(scratch(static_cast<std::size_t>(S) * H * 4));
    if (!h.dense_w.empty() && opts_.deterministic) {
      // One fma chain per output, in k order: the same for every S (dnnl_sgemm's is not).
#pragma omp parallel for schedule(static)
      for (int s = 0; s < S; ++s)
        for (int i = 0; i < H; ++i) {
          const float* xs = x + static_cast<std::size_t>(s) * pooled.ld;
          const float* w = h.dense_w.data() + static_cast<std::size_t>(i) * H;
          float acc = 0.f;
          for (int k = 0; k < H; ++k) acc = std::fma(xs[k], w[k], acc);
          t[static_cast<std::size_t>(s) * H + i] = std::tanh(acc + h.dense_b[i]);
        }
    } else if (!h.dense_w.empty()) {
      dnnl_sgemm('N', 'T', S, H, H, 1.0f, x, pooled.ld, h.dense_w.data(), H, 0.f, t, H);
      for (int s = 0; s < S; ++s)
        for (int i = 0; i < H; ++i) t[s * H + i] = std::tanh(t[s * H + i] + h.dense_b[i]);
    } else {
      for (int s = 0; s < S; ++s) std::memcpy(t + static_cast<std::size_t>(s) * H, frow(pooled, s), 4 * H);
    }
    std::vector<float> logits(S);
    for (int s = 0; s < S; ++s) {
      float z[2];
      for (int j = 0; j < h.n; ++j) {
        const float* w = h.out.data() + static_cast<std::size_t>(j) * H;
        float acc = 0.f;
        for (int i = 0; i < H; ++i) acc += t[static_cast<std::size_t>(s) * H + i] * w[i];
        z[j] = acc + h.out_b[j];
      }
      logits[s] = h.n == 1 ? z[0] : z[1] - z[0];
    }
    tick("head", t0);
    return logits;
  }

  void do_write(Act& a, const std::vector<float>& host) override {
    for (int r = 0; r < a.rows; ++r) {
      const float* src = host.data() + static_cast<std::size_t>(r) * a.cols;
      if (a.data) std::memcpy(frow(a, r), src, 4 * a.cols);
      comp_from(a, r, src);
    }
  }
  std::vector<float> do_read(const Act& a) override {
    std::vector<float> h(static_cast<std::size_t>(a.rows) * a.cols);
    for (int r = 0; r < a.rows; ++r) {
      float* dst = h.data() + static_cast<std::size_t>(r) * a.cols;
      if (a.data) {
        std::memcpy(dst, frow(a, r), 4 * a.cols);
      } else {  // int8 kGemmOnly: what the next GEMM will see
        dequant_row(a, r, dst);
      }
    }
    return h;
  }

  // ---- scratch sizes (dry runs) ----------------------------------------------------
  std::size_t linear_scratch(const Act& in, const Param& wp, const Act& out) const override {
    const auto& w = static_cast<const CpuLinear&>(wp);
    std::size_t s = convert_bytes(in, w);
    const bool acc = w.epi == Epilogue::kSwiGlu ||
                     (prec_ == GemmPrec::kInt8 && (w.epi == Epilogue::kResidual || !has_main(out.use)));
    if (acc) s += align64(static_cast<std::size_t>(in.rows) * w.lin->N() * 4);
    return s + precise_scratch(in, *w.lin);
  }
  std::size_t linear_add_norm_scratch(const Act& in, const Param& wp, const Act&) const override {
    const auto& w = static_cast<const CpuLinear&>(wp);
    std::size_t s = convert_bytes(in, w);
    if (prec_ == GemmPrec::kInt8) s += align64(static_cast<std::size_t>(in.rows) * w.lin->N() * 4);
    return s + precise_scratch(in, *w.lin);
  }
  // Precise rows of an int8 GEMM: their u8 hi/lo rows and s32 results (and the 16-bit
  // copies of an input converted in scratch).
  std::size_t precise_scratch(const Act& in, const Linear& L) const {
    if (!precise()) return 0;
    const std::size_t P = static_cast<std::size_t>(std::min(in.rows, batch().num_seqs()));
    return align64(2 * P * L.K()) + align64(2 * P * L.N() * 4);
  }
  // Scratch for converting `in` for w in gemm_src (companion rows and precise rows).
  std::size_t convert_bytes(const Act& in, const CpuLinear& w) const {
    if (!needs_convert(in, w)) return 0;
    return align64(comp_bytes(in.rows, in.cols)) + (precise() ? align64(precise_bytes(in.cols)) : 0);
  }
  std::size_t attention_scratch(const AttnDesc& d, const Act&, const Act&) const override {
    return fast_attention(d, batch()) ? attention_bytes(d, batch()) : attention_causal_scratch_bytes(d);
  }
  std::size_t head_scratch(const Act& pooled, const Param&) const override {
    return static_cast<std::size_t>(pooled.rows) * pooled.cols * 4;
  }

 private:
  // GEMM input of an activation: fp32 rows, its companion, or a conversion in scratch.
  struct Src {
    const void* p = nullptr;
    const RowQ* q = nullptr;  // int8: per-row scale and zero point
    bool precise = false;     // int8: precise_act's pooled rows have 16-bit copies
    Act precise_act;
  };
  // True when `in` has no GEMM-ready form for w: no companion, or an int8 companion
  // written with another linear's SmoothQuant factors (Act::next).
  bool needs_convert(const Act& in, const CpuLinear& w) const {
    if (prec_ == GemmPrec::kF32) return false;
    if (!in.aux) return true;
    return prec_ == GemmPrec::kInt8 && smoothed(in) != (w.inv_s.empty() ? nullptr : &w);
  }
  Src gemm_src(const Act& in, const CpuLinear& w) {
    check(in.ld == in.cols, "linear: input rows must be contiguous");
    if (prec_ == GemmPrec::kF32) return {in.data};
    Act c = in;
    if (needs_convert(in, w)) {
      check(in.data != nullptr, "linear '" + w.name + "': the input's int8 form was written for another linear");
      const auto t0 = Clock::now();
      c.next = &w;
      c.aux3 = nullptr;
      c.aux = scratch(comp_bytes(in.rows, in.cols));
      if (prec_ == GemmPrec::kInt8) c.aux2 = c.aux + align64(static_cast<std::size_t>(in.rows) * in.cols);
      if (precise()) c.aux3 = scratch(precise_bytes(in.cols));
#pragma omp parallel for schedule(static)
      for (int m = 0; m < in.rows; ++m) comp_row(c, m);
      tick("convert", t0);
    }
    Src s{c.aux};
    if (prec_ == GemmPrec::kInt8) s.q = rowq(c);
    s.precise = c.aux3 != nullptr;
    s.precise_act = c;
    return s;
  }
  uint8_t* q8(const Act& a) const { return reinterpret_cast<uint8_t*>(a.aux); }
  RowQ* rowq(const Act& a) const { return reinterpret_cast<RowQ*>(a.aux2); }
  // Companion of row r from the fp32 values `src` (no-op without a companion).
  void comp_from(const Act& a, int r, const float* src) const {
    if (!a.aux) return;
    const std::size_t off = static_cast<std::size_t>(r) * a.cols;
    switch (prec_) {
      case GemmPrec::kF32: return;
      case GemmPrec::kBf16: rk().to_bf16(src, a.cols, reinterpret_cast<uint16_t*>(a.aux) + off); return;
      case GemmPrec::kBf16Emu: rk().round_bf16(src, a.cols, reinterpret_cast<float*>(a.aux) + off); return;
      case GemmPrec::kInt8: {
        RowQ& q = rowq(a)[r];
        if (const CpuLinear* l = smoothed(a)) {  // quantise x * inv_s (SmoothQuant)
          thread_local std::vector<float> t;
          t.resize(static_cast<std::size_t>(a.cols));
          const float* is = l->inv_s.data();
          for (int i = 0; i < a.cols; ++i) t[i] = src[i] * is[i];
          src = t.data();
        }
        rk().quantize_u8(src, a.cols, q8(a) + off, &q.scale, &q.zp);
        const int p = pooled_index(a, r);
        if (p >= 0) quantize16(src, a.cols, phi(a, p), phi(a, p) + a.cols, prowq(a) + p);
        return;
      }
    }
  }
  // Companion of row r from its fp32 row.
  void comp_row(const Act& a, int r) const {
    if (a.aux) comp_from(a, r, frow(a, r));
  }
  // The linear whose SmoothQuant factors an int8 companion of `a` is (to be) written with.
  const CpuLinear* smoothed(const Act& a) const {
    if (prec_ != GemmPrec::kInt8 || !a.next) return nullptr;
    const auto* l = dynamic_cast<const CpuLinear*>(a.next);
    return l && !l->inv_s.empty() ? l : nullptr;
  }
  // Row r of an int8 companion, dequantised (and the smoothing undone).
  void dequant_row(const Act& a, int r, float* dst) const {
    const RowQ q = rowq(a)[r];
    const uint8_t* u = q8(a) + static_cast<std::size_t>(r) * a.cols;
    const CpuLinear* l = smoothed(a);
    for (int c = 0; c < a.cols; ++c)
      dst[c] = q.scale * (static_cast<int>(u[c]) - q.zp) * (l ? l->s[static_cast<std::size_t>(c)] : 1.0f);
  }

  // ---- SmoothQuant (int8) -----------------------------------------------------------
  // Scale migration (Xiao et al., SmoothQuant, 2023) for one linear from its calibration
  // statistic amax_j (max |x_j| over the calibration tokens, pooled rows excluded):
  //   s_j = amax_j^alpha / wmax_j^(1 - alpha),  W[:, j] *= s_j,  x_j /= s_j
  // so x W^T is unchanged while input channels with outliers (the LN outputs' systematic
  // channels, the GELU outputs') move their range into the weights, which are quantised
  // per output row. Why: see the note on precise pooled rows below and docs/int8-study.md.
  void smooth(const std::string& name, std::vector<const float*>& ws, const std::vector<int>& rows, int K,
              std::vector<std::vector<float>>& conv, CpuLinear& p) const {
    const auto it = stats_.find(name);
    if (it == stats_.end() || static_cast<int>(it->second.size()) != K) return;
    const std::vector<float>& amax = it->second;
    const float top = *std::max_element(amax.begin(), amax.end());
    if (!(top > 0.f) || !std::isfinite(top)) return;
    std::vector<float> wmax(static_cast<std::size_t>(K), 0.f);
    for (std::size_t b = 0; b < ws.size(); ++b)
      for (int r = 0; r < rows[b]; ++r) {
        const float* w = ws[b] + static_cast<std::size_t>(r) * K;
        for (int j = 0; j < K; ++j) wmax[j] = std::max(wmax[j], std::fabs(w[j]));
      }
    const float a = opts_.smooth_alpha;
    p.s.resize(static_cast<std::size_t>(K));
    p.inv_s.resize(static_cast<std::size_t>(K));
    for (int j = 0; j < K; ++j) {
      // Channels quiet in calibration keep a floor, so unseen activity cannot explode x/s.
      const float am = std::max(amax[j], 1e-3f * top), wm = std::max(wmax[j], 1e-8f);
      const float sj = std::clamp(std::pow(am, a) / std::pow(wm, 1.0f - a), 1e-5f, 1e5f);
      p.s[j] = sj;
      p.inv_s[j] = 1.0f / sj;
    }
    for (std::size_t b = 0; b < ws.size(); ++b) {
      const std::size_t n = static_cast<std::size_t>(rows[b]) * K;
      std::vector<float> c(ws[b], ws[b] + n);
      for (std::size_t i = 0; i < n; ++i) c[i] *= p.s[i % K];
      conv.push_back(std::move(c));
      ws[b] = conv.back().data();
    }
  }
  // Calibration: max |x| per input channel of w over the token rows (pooled rows only
  // with smooth_stats_pooled).
  void record(const CpuLinear& w, const Act& in) {
    if (!in.tokens) return;  // one row per sequence: pooled rows only
    std::vector<float>& st = recorded_[w.name];
    st.resize(static_cast<std::size_t>(in.cols), 0.f);
    std::vector<float> row(static_cast<std::size_t>(in.cols));
    for (int m = 0; m < in.rows; ++m) {
      const std::size_t g = static_cast<std::size_t>(in.row0 + m);
      if (!opts_.smooth_stats_pooled && g < pooled_seq_.size() && pooled_seq_[g] >= 0) continue;
      const float* x = in.data ? frow(in, m) : (dequant_row(in, m, row.data()), row.data());
      for (int c = 0; c < in.cols; ++c) st[c] = std::max(st[c], std::fabs(x[c]));
    }
  }
  // ---- precise pooled rows (int8) -------------------------------------------------
  // The rows that reach the head (Ops::pooled_rows: [CLS] for encoders) get 16-bit
  // activations: a per-row u16 quantisation whose high and low bytes are two u8 rows of the
  // same int8 GEMM, recombined exactly in the epilogue (256 acc_hi + acc_lo). The weights
  // stay int8. Why: on real weights (all-MiniLM-L6-v2 + a fitted head) the [CLS] row holds
  // the largest LN/GELU outliers, so 8-bit per-token activations leave its ordinary channels
  // ~3 bits; WikiQA int8-vs-fp32 top-1 agreement 89 % -> 96 %, NDCG@10 agreement 0.9963 ->
  // 0.9997 (torch fake-quant of exactly this arithmetic, docs/int8-study.md). Cost: 2 GEMM
  // rows per sequence per Linear (~1 % of the rows at 200 tokens).
  bool precise() const { return prec_ == GemmPrec::kInt8 && opts_.precise_pooled && pooled_rows() != RowSel::kAll; }
  std::size_t precise_bytes(int cols) const {
    const std::size_t S = static_cast<std::size_t>(std::max(batch().num_seqs(), 0));
    return align64(S * 2 * cols) + align64(S * sizeof(RowQ));
  }
  uint8_t* phi(const Act& a, int p) const { return reinterpret_cast<uint8_t*>(a.aux3) + static_cast<std::size_t>(p) * 2 * a.cols; }
  RowQ* prowq(const Act& a) const {
    return reinterpret_cast<RowQ*>(a.aux3 + align64(static_cast<std::size_t>(batch().num_seqs()) * 2 * a.cols));
  }
  // Index of the sequence whose pooled row is row r of `a`, or -1.
  int pooled_index(const Act& a, int r) const {
    if (!a.aux3) return -1;
    const int g = a.row0 + r;
    return a.tokens ? pooled_seq_[static_cast<std::size_t>(g)] : g;
  }
  // u16 per-row asymmetric quantisation of x[0..n), split into high and low bytes.
  static void quantize16(const float* x, int n, uint8_t* hi, uint8_t* lo, RowQ* q) {
    float mn = 0.f, mx = 0.f;
    for (int i = 0; i < n; ++i) mn = std::min(mn, x[i]), mx = std::max(mx, x[i]);
    float scale = (mx - mn) / 65535.0f;
    if (!(scale > 0.f)) scale = 1.0f;
    const float inv = 1.0f / scale;
    const int32_t zp = std::clamp(static_cast<int32_t>(std::nearbyint(-mn * inv)), 0, 65535);
    for (int i = 0; i < n; ++i) {
      const int32_t v = std::clamp(static_cast<int32_t>(std::nearbyint(x[i] * inv)) + zp, 0, 65535);
      hi[i] = static_cast<uint8_t>(v >> 8);
      lo[i] = static_cast<uint8_t>(v & 255);
    }
    q->scale = scale;
    q->zp = zp;
  }
  void on_begin() override {
    if (!precise() && !recording_) return;
    const PackedBatch& b = batch();
    pooled_seq_.assign(static_cast<std::size_t>(b.total_tokens()), -1);
    if (pooled_rows() == RowSel::kAll) return;
    for (int s = 0; s < b.num_seqs(); ++s) pooled_seq_[static_cast<std::size_t>(selected_row(b, s, pooled_rows()))] = s;
  }

  // An int8 GEMM over `in` (with its precise rows): the s32 accumulators and, per row,
  // where its dequantised values come from.
  struct Int8Run {
    const int32_t* acc = nullptr;   // [M, N] (null when every row is precise)
    const int32_t* acc2 = nullptr;  // [2 P, N]: hi and lo rows of the precise rows
    std::vector<int> pidx;          // per row: precise row index i, or -1
    std::vector<RowQ> q16;          // per precise row
    const RowQ* q = nullptr;        // per row (8-bit)
    int N = 0;
  };
  void int8_gemm(const Act& in, const Src& src, const Linear& L, int32_t* acc, Int8Run& r) {
    const int M = in.rows, N = L.N(), K = L.K();
    r.N = N;
    r.q = src.q;
    r.pidx.assign(static_cast<std::size_t>(M), -1);
    int P = 0;
    if (src.precise)
      for (int m = 0; m < M; ++m)
        if (pooled_index(src.precise_act, m) >= 0) r.pidx[m] = P++;
    if (P > 0) {
      uint8_t* hl = reinterpret_cast<uint8_t*>(scratch(static_cast<std::size_t>(2 * P) * K));
      int32_t* acc2 = reinterpret_cast<int32_t*>(scratch(static_cast<std::size_t>(2 * P) * N * 4));
      r.q16.resize(static_cast<std::size_t>(P));
      for (int m = 0; m < M; ++m) {
        const int i = r.pidx[m];
        if (i < 0) continue;
        const int p = pooled_index(src.precise_act, m);
        std::memcpy(hl + static_cast<std::size_t>(2 * i) * K, phi(src.precise_act, p), 2 * static_cast<std::size_t>(K));
        r.q16[i] = prowq(src.precise_act)[p];
      }
      L.run(strm(), hl, 2 * P, acc2);
      r.acc2 = acc2;
    }
    if (P < M) {
      L.run(strm(), src.p, M, acc);
      r.acc = acc;
    }
  }
  // Row m of the GEMM, dequantised (+ bias) into y (y may alias the row's s32 accumulators).
  void int8_row(const Int8Run& r, const Linear& L, int m, float* y) const {
    const int i = r.pidx[m];
    if (i < 0) {
      rk().dequant(r.acc + static_cast<std::size_t>(m) * r.N, r.N, r.q[m].zp, r.q[m].scale, L.w_sum(), L.w_scale(),
                   L.bias(), y);
      return;
    }
    const int32_t* hi = r.acc2 + static_cast<std::size_t>(2 * i) * r.N;
    const int32_t* lo = hi + r.N;
    const RowQ q = r.q16[i];
    for (int n = 0; n < r.N; ++n)
      y[n] = static_cast<float>((256.0 * hi[n] + lo[n] - static_cast<double>(q.zp) * L.w_sum()[n]) *
                                (static_cast<double>(q.scale) * L.w_scale()[n])) + L.bias()[n];
  }

  // The blocked kernels handle bidirectional attention (all rows or the first row) with
  // one KV head per query head and no shared prefixes; anything else takes attention_causal.
  static bool fast_attention(const AttnDesc& d, const PackedBatch& b) {
    return cpu_isa() >= Isa::kAvx2 && !d.causal && d.kv_heads == d.heads && d.q_rows != RowSel::kLast &&
           !b.has_prefixes();
  }
  // bf16 products for the bf16 (native) and int8 dtypes where the CPU has AVX512_BF16.
  // Why: on a 2-core Zen 4 the fp32 attention was 14 % of an int8 v2-m3 pass at 200 tokens
  // (docs/performance.md); VDPBF16PS doubles its multiply rate.
  bool bf16_attention(const AttnDesc& d) const {
    return (prec_ == GemmPrec::kBf16 ? opts_.attn_bf16 : prec_ == GemmPrec::kInt8 && opts_.attn_bf16_int8) &&
           cpu_isa() >= Isa::kAvx512Bf16 && d.head_dim % 16 == 0 && d.head_dim <= 1024 && !opts_.attn_sgemm;
  }
  int bq(int L) const { return std::max(1, std::min(opts_.attn_q_block, L)); }
  int bk(int L) const { return std::max(1, std::min(opts_.attn_k_block, L)); }
  static int max_len(const PackedBatch& b) {
    int L = 1;
    for (int s = 0; s < b.num_seqs(); ++s) L = std::max(L, b.seqlen(s));
    return L;
  }
  static int threads_bound() { return std::max(omp_get_max_threads(), omp_get_num_procs()); }
  std::size_t attention_bytes(const AttnDesc& d, const PackedBatch& b) const {
    const int L = max_len(b);
    const std::size_t per_thread = bf16_attention(d) ? attention_bf16_scratch_bytes(bq(L), bk(L), d.head_dim, L)
                                                     : attention_scratch_floats(bq(L), bk(L), d.head_dim, L) * 4;
    return static_cast<std::size_t>(threads_bound()) * per_thread;
  }
  AttnArgs attn_args(const AttnDesc& d, const Act& q, const Act& k, const Act& v, const Act& out,
                     const PackedBatch& b) const {
    const int L = max_len(b);
    AttnArgs a;
    a.q = reinterpret_cast<const float*>(q.data), a.ldq = q.ld;
    a.k = reinterpret_cast<const float*>(k.data), a.ldk = k.ld;
    a.v = reinterpret_cast<const float*>(v.data), a.ldv = v.ld;
    a.o = reinterpret_cast<float*>(out.data), a.ldo = out.ld;
    a.cu = b.cu_seqlens.data();
    a.S = b.num_seqs();
    a.heads = d.heads;
    a.head_dim = d.head_dim;
    a.scale = d.scale;
    a.first_token_only = d.q_rows == RowSel::kFirst;
    a.window = d.window;
    a.softcap = d.softcap;
    a.q_block = bq(L);
    a.k_block = bk(L);
    return a;
  }

  const float* f32_of(const HostTensor* t, std::vector<std::vector<float>>& conv) const {
    if (const float* p = t->f32_ptr()) return p;
    conv.push_back(t->f32());
    return conv.back().data();
  }
  static void fill_norm(const NormDesc& d, CpuNorm& p) {
    p.kind = d.kind;
    p.eps = d.eps;
    p.w = norm_weight_f32(d);
    if (d.bias) p.b = d.bias->f32();
  }
  dnnl::stream& strm() {
    if (!strm_) strm_ = std::make_unique<dnnl::stream>(eng_);
    return *strm_;
  }
  Clock::time_point tick(const std::string& what, Clock::time_point t0) {
    const auto t1 = Clock::now();
    if (opts_.profile) {
      std::lock_guard<std::mutex> lock(prof_mu_);
      prof_[what] += std::chrono::duration<double>(t1 - t0).count();
    }
    return t1;
  }

  DType dtype_;
  CpuOpsOptions opts_;
  GemmPrec prec_ = GemmPrec::kF32;
  dnnl::engine eng_;
  std::unique_ptr<dnnl::stream> strm_;
  std::vector<int32_t> pooled_seq_;  // per token of the pass: the sequence it is the pooled row of, or -1
  bool recording_ = false;  // calibration pass: record_input_stats
  InputStats recorded_;     // what it saw
  InputStats stats_;        // what prepare_linear smooths with
  std::string describe_, gemm_impl_;
  mutable std::mutex prof_mu_;
  std::map<std::string, double> prof_;
};

}  // namespace

std::unique_ptr<Ops> make_cpu_ops_ex(DType dtype, const CpuOpsOptions& opts) {
  return std::make_unique<CpuOps>(dtype, opts);
}

}  // namespace crossrank::cpu

namespace crossrank {

std::unique_ptr<Ops> make_cpu_ops(DType dtype, bool deterministic) {
  cpu::CpuOpsOptions o;
  o.deterministic = deterministic;
  return cpu::make_cpu_ops_ex(dtype, o);
}

}  // namespace crossrank
