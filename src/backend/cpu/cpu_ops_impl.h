#pragma once
// The CPU backend's Ops (internal to src/backend/cpu: cpu_ops.cc, cpu_linear.cc,
// cpu_rows.cc define its members; make_cpu_ops_ex in cpu_ops.h builds it).
//
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

// The row kernels' copy of Activation (kernels.h says why there are two).
inline RowAct row_act(Activation a) {
  static_assert(static_cast<int>(RowAct::kIdentity) == static_cast<int>(Activation::kIdentity) &&
                static_cast<int>(RowAct::kGeluErf) == static_cast<int>(Activation::kGeluErf) &&
                static_cast<int>(RowAct::kGeluTanh) == static_cast<int>(Activation::kGeluTanh) &&
                static_cast<int>(RowAct::kSilu) == static_cast<int>(Activation::kSilu) &&
                static_cast<int>(RowAct::kTanh) == static_cast<int>(Activation::kTanh));
  return static_cast<RowAct>(a);
}

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
  CpuOps(DType dtype, const CpuOpsOptions& opts);

  const char* name() const override { return "cpu"; }
  DType dtype() const override { return dtype_; }
  std::string describe() const override;
  Int8Facts int8_facts() const override;
  std::string fmt_alpha() const {
    char b[16];
    std::snprintf(b, sizeof b, "%.2g", opts_.smooth_alpha);
    return b;
  }
  OpsCaps caps() const override;

  std::vector<std::pair<std::string, double>> op_seconds() const override {
    std::lock_guard<std::mutex> lock(prof_mu_);
    return {prof_.begin(), prof_.end()};
  }
  void reset_profile() override {
    std::lock_guard<std::mutex> lock(prof_mu_);
    prof_.clear();
  }

  // ---- parameters ------------------------------------------------------------------
  ParamPtr do_prepare_linear(const LinearDesc& d) override;
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
  ParamPtr prepare_embedding(const EmbedDesc& d) override;
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
  // bf16 (native), bf16-rounded fp32 (emulated), u8 (int8 on oneDNN) or s16 (int8 on
  // igemm_s16s8, s16_), with a RowQ per row. An int8 kGemmOnly activation has no fp32 rows.
  //
  // Why s16 activations without VNNI: there the GEMM (igemm.h) widens activations to 16
  // bits for vpmaddwd anyway, so symmetric per-row s16 activations (and per-channel
  // weights) over the ranges igemm_range(K) allows (K = 384: 12 bits + sign each; 4096:
  // 724) cost what 8-bit ones do and cut the rounding error 5-19x. With u8 activations the exact 8-bit-weight
  // GEMM failed the TREC-DL gate on near-ties: top-1 95.3 % (lists 23 and 37 flipped,
  // fp32 margins 0.015 and 0.031 logit; max |dlogit| 0.084; AMD EPYC Zen 3, 2026-12).
  using RowQ = RowScale;
  std::size_t comp_elem() const {
    return prec_ == GemmPrec::kBf16 ? 2 : prec_ == GemmPrec::kBf16Emu ? 4 : prec_ == GemmPrec::kInt8 ? (s16_ ? 2 : 1) : 0;
  }
  std::size_t comp_bytes(int rows, int cols) const {
    const std::size_t n = static_cast<std::size_t>(rows) * cols;
    return prec_ == GemmPrec::kF32 ? 0 : align64(n * comp_elem()) + (prec_ == GemmPrec::kInt8 ? align64(rows * sizeof(RowQ)) : 0);
  }
  bool has_main(ActUse use) const { return !(use == ActUse::kGemmOnly && prec_ == GemmPrec::kInt8); }
  std::size_t act_bytes(int rows, int cols, ActUse use, bool) const override {
    return (has_main(use) ? align64(static_cast<std::size_t>(rows) * cols * 4) : 0) +
           (use != ActUse::kPlain ? comp_bytes(rows, cols) + (precise() ? precise_bytes(cols) : 0) : 0);
  }
  void bind(Act& a, char* p) const override;

 public:
  Act rows_view(const Act& a, int r0, int n) const override;

 protected:

  // ---- ops -------------------------------------------------------------------------
  void do_embed(const Param& ep, Act& out) override;

  void do_linear(const Act& in, const Param& wp, Act& out) override;

  void do_linear_add_norm(const Act& in, const Param& wp, Act& x, const Param& np) override;

  void do_norm(const Act& in, const Param& np, Act& out, int group) override;

  void do_rope(Act& q, Act& k, const RopeDesc& d) override {
    const auto t0 = Clock::now();
    rope_rows(q, k, d, batch());
    tick("rope", t0);
  }

  void do_attention(const AttnDesc& d, const Act& q, const Act& k, const Act& v, Act& out) override;

  // ---- primitives (fp32 rows; companions rewritten from them) ----
  // Every epilogue is fused (activations in the GEMM's post-ops or its int8 row pass, gated
  // units in one row pass over the GEMM's output), unless a test asks for the composition.
  bool fuses(Epilogue e) const override {
    return !opts_.compose_epilogues || e == Epilogue::kNone || e == Epilogue::kResidual;
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
    rows_op(out, [&](int m, float* y) { rk().act(row_act(act), frow(in, m), in.cols, y); });
  }
  void do_glu(const Act& in, Activation act, Act& out) override {
    check(in.data != nullptr, "glu: input needs fp32 rows");
    rows_op(out, [&](int m, float* y) { rk().glu(row_act(act), frow(in, m), out.cols, y); });
  }
  void do_scale(Act& x, float s) override {
    check(x.data != nullptr, "scale: needs fp32 rows");
    rows_op(x, [&](int, float* y) { rk().scale(y, x.cols, s); });
  }
  // Sums in fp32 rows in token order (vector lanes across columns), then 1 / n.
  void do_mean_rows(const Act& in, Act& out) override;

  void do_gather_rows(const Act& in, RowSel sel, Act& out) override;

  std::vector<float> do_head(const Act& pooled, const Param& hp) override;

  void do_write(Act& a, const std::vector<float>& host) override;
  std::vector<float> do_read(const Act& a) override;

  // ---- scratch sizes (dry runs) ----------------------------------------------------
  std::size_t linear_scratch(const Act& in, const Param& wp, const Act& out) const override;
  std::size_t linear_add_norm_scratch(const Act& in, const Param& wp, const Act&) const override;
  // Precise rows of an int8 GEMM: their u8 hi/lo rows and s32 results (and the 16-bit
  // copies of an input converted in scratch).
  std::size_t precise_scratch(const Act& in, const Linear& L) const {
    if (!precise()) return 0;
    const std::size_t P = static_cast<std::size_t>(std::min(in.rows, batch().num_seqs()));
    return align64(2 * P * L.K() * (s16_ ? 2 : 1)) + align64(2 * P * L.N() * 4);
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
  Src gemm_src(const Act& in, const CpuLinear& w);
  uint8_t* q8(const Act& a) const { return reinterpret_cast<uint8_t*>(a.aux); }
  int16_t* q16(const Act& a) const { return reinterpret_cast<int16_t*>(a.aux); }
  RowQ* rowq(const Act& a) const { return reinterpret_cast<RowQ*>(a.aux2); }
  // Companion of row r from the fp32 values `src` (no-op without a companion).
  void comp_from(const Act& a, int r, const float* src) const;
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
  void dequant_row(const Act& a, int r, float* dst) const;

  // ---- SmoothQuant (int8) -----------------------------------------------------------
  // Scale migration (Xiao et al., SmoothQuant, 2023) for one linear from its calibration
  // statistic amax_j (max |x_j| over the calibration tokens, pooled rows excluded):
  //   s_j = amax_j^alpha / wmax_j^(1 - alpha),  W[:, j] *= s_j,  x_j /= s_j
  // so x W^T is unchanged while input channels with outliers (the LN outputs' systematic
  // channels, the GELU outputs') move their range into the weights, which are quantised
  // per output row. Why: see the note on precise pooled rows below and docs/int8-study.md.
  void smooth(const std::string& name, std::vector<const float*>& ws, const std::vector<int>& rows, int K,
              std::vector<std::vector<float>>& conv, CpuLinear& p) const;
  // Calibration: max |x| per input channel of w over the token rows (pooled rows only
  // with smooth_stats_pooled).
  void record(const CpuLinear& w, const Act& in);
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
  static void quantize16(const float* x, int n, uint8_t* hi, uint8_t* lo, RowQ* q);
  void on_begin() override;

  // An int8 GEMM over `in` (with its precise rows): the s32 accumulators and, per row,
  // where its dequantised values come from.
  struct Int8Run {
    const int32_t* acc = nullptr;   // [M, N] (null when every row is precise)
    const int32_t* acc2 = nullptr;  // [2 P, N]: hi and lo rows of the precise rows
    std::vector<int> pidx;          // per row: precise row index i, or -1
    std::vector<RowQ> q16;          // per precise row
    const RowQ* q = nullptr;        // per row (8-bit)
    int N = 0;
    bool dequantised = false;       // acc holds the rows as fp32 already (igemm epilogue)
  };
  void int8_gemm(const Act& in, const Src& src, const Linear& L, int32_t* acc, Int8Run& r);
  // Row m of the GEMM, dequantised (+ bias) into y (y may alias the row's s32 accumulators;
  // it must be them when r.dequantised: such rows are then left as they are).
  void int8_row(const Int8Run& r, const Linear& L, int m, float* y) const;

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
  std::size_t attention_bytes(const AttnDesc& d, const PackedBatch& b) const;
  AttnArgs attn_args(const AttnDesc& d, const Act& q, const Act& k, const Act& v, const Act& out,
                     const PackedBatch& b) const;

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
  Clock::time_point tick(const std::string& what, Clock::time_point t0);

  DType dtype_;
  CpuOpsOptions opts_;
  GemmPrec prec_ = GemmPrec::kF32;
  bool s16_ = false;  // int8 activations as s16 for igemm_s16s8 (see the layout note)
  // The batch-invariant fp32 paths: the fp32 / emulated-bf16 GEMMs on sgemm_det and the
  // classification head's per-row chain. --deterministic, or use_sgemm_fp32() (AVX2, where
  // they are the faster choice: encoder scores there are then batch-invariant by default).
  bool invariant_fp32_ = false;
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

}  // namespace crossrank::cpu
