// CpuOps (cpu_ops_impl.h): construction and description, parameters (packing, int8
// SmoothQuant and its calibration), the activation layout with its companions, pass set-up
// (precise pooled rows), and the factories.
#include "backend/cpu/cpu_ops_impl.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "backend/backend.h"
#include "util/env.h"
#include "util/error.h"
#include "util/log.h"

namespace crossrank::cpu {

CpuOps::CpuOps(DType dtype, const CpuOpsOptions& opts) : dtype_(dtype), opts_(opts), eng_(dnnl::engine::kind::cpu, 0) {
  // Environment overrides for benchmarks and quality experiments (not for production);
  // a value they do not know is an error, not silently something else.
  check_cpu_isa_env();
  if (const char* a = env_choice("CROSSRANK_CPU_ATTN", {"fp32", "bf16"}))
    opts_.attn_bf16 = opts_.attn_bf16_int8 = std::string(a) != "fp32";
  if (const char* p = env_choice("CROSSRANK_CPU_PRECISE_POOLED", {"0", "1"})) opts_.precise_pooled = std::string(p) != "0";
  // Experiments: CROSSRANK_CPU_SMOOTH=<alpha> (0: off).
  if (const char* p = std::getenv("CROSSRANK_CPU_SMOOTH")) {
    char* end = nullptr;
    opts_.smooth_alpha = std::strtof(p, &end);
    if (end == p || *end) throw Error(std::string("CROSSRANK_CPU_SMOOTH must be a number in [0, 1], not '") + p + "'");
  }
  if (!(opts_.smooth_alpha >= 0.f && opts_.smooth_alpha <= 1.f)) throw Error("cpu backend: smooth_alpha must be in [0, 1]");
  if (opts_.attn_q_block < 1 || opts_.attn_k_block < 1) throw Error("cpu backend: bad attention block sizes");
  const GemmCaps& caps = gemm_caps();
  switch (dtype) {
    case DType::kFp32: prec_ = GemmPrec::kF32; break;
    case DType::kBf16:
      prec_ = caps.bf16_native && !opts_.force_bf16_emulation && !opts_.deterministic ? GemmPrec::kBf16
                                                                                      : GemmPrec::kBf16Emu;
      break;
    case DType::kInt8:
      prec_ = GemmPrec::kInt8;
      s16_ = use_igemm();
      break;
    case DType::kFp16:
      throw Error(ErrorCode::kUnsupported, "fp16 is a GPU dtype; on CPU use bf16 (or fp32 / int8)");
  }
  describe_ = std::string("cpu ") + to_string(dtype) + ": kernels " + to_string(cpu_isa()) + ", oneDNN ISA " + caps.isa;
  if (prec_ == GemmPrec::kBf16) describe_ += ", native bf16 matmul";
  if (prec_ == GemmPrec::kBf16Emu)
    describe_ += ", bf16 EMULATED (bf16-rounded operands, fp32 GEMM: no bf16 matmul on this CPU)";
  if (prec_ == GemmPrec::kInt8)
    describe_ += s16_ ? ", int8 weights 8-bit or wider, s16 activations (igemm_s16s8: no VNNI)" : ", int8 weights 8-bit";
  invariant_fp32_ = opts_.deterministic || use_sgemm_fp32();
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

Int8Facts CpuOps::int8_facts() const {
  Int8Facts f;
  if (prec_ != GemmPrec::kInt8) return f;
  // VNNI: 8-bit weights; igemm_s16s8: weights over igemm_range(K), 9 bits or more for every
  // K up to 2^20 (see igemm.h), reported as the 8 they are at least.
  f.weight_bits = 8;
  f.s16_activations = s16_;
  f.smoothquant = !stats_.empty();
  f.pooled16 = precise();
  f.attention_fp32 = !(opts_.attn_bf16_int8 && cpu_isa() >= Isa::kAvx512Bf16);
  return f;
}

std::string CpuOps::describe() const {
  std::string d = describe_ + gemm_impl_;
  if (prec_ == GemmPrec::kInt8) {  // the gate's facts, spelled out
    const Int8Facts f = int8_facts();
    d += f.smoothquant ? ", SmoothQuant alpha " + fmt_alpha() + " (calibrated)" : ", SmoothQuant off (no calibration)";
    d += f.pooled16 ? ", 16-bit pooled rows" : ", 8-bit pooled rows";
    d += f.attention_fp32 ? ", attention fp32" : ", attention bf16";
  } else if (prec_ == GemmPrec::kBf16) {
    d += opts_.attn_bf16 && cpu_isa() >= Isa::kAvx512Bf16 ? ", attention bf16" : ", attention fp32";
  }
  return d;
}

OpsCaps CpuOps::caps() const {
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

ParamPtr CpuOps::do_prepare_linear(const LinearDesc& d) {
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
                        : d.epilogue == Epilogue::kGeluTanh ? GemmPost::kBiasGeluTanh
                        : d.epilogue == Epilogue::kResidual ? GemmPost::kBiasAccumulate
                                                            : GemmPost::kBias;
  p->lin = std::make_unique<Linear>(eng_, prec_, post, ws, bs, rows, K, opts_.force_fixed_m,
                                    invariant_fp32_ && prec_ != GemmPrec::kBf16);
  const std::size_t dot = d.name.rfind('.');
  p->prof = "gemm_" + (dot == std::string::npos ? d.name : d.name.substr(dot + 1));
  if (gemm_impl_.empty()) gemm_impl_ = ", GEMM " + p->lin->impl_info();
  return p;
}

ParamPtr CpuOps::prepare_embedding(const EmbedDesc& d) {
  auto p = std::make_unique<CpuEmbed>();
  p->word = {d.word, d.word ? d.word->f32_ptr() : nullptr};
  p->pos = {d.position, d.position ? d.position->f32_ptr() : nullptr};
  p->type = {d.type, d.type ? d.type->f32_ptr() : nullptr};
  p->has_norm = d.has_norm;
  if (d.has_norm) fill_norm(d.norm, p->norm);
  return p;
}

void CpuOps::bind(Act& a, char* p) const {
  a.ld = a.cols;
  a.elem = 4;
  a.data = has_main(a.use) ? p : nullptr;
  a.aux = a.aux2 = nullptr;
  if (!p || a.use == ActUse::kPlain || prec_ == GemmPrec::kF32) return;
  a.aux = p + (has_main(a.use) ? align64(static_cast<std::size_t>(a.rows) * a.cols * 4) : 0);
  if (prec_ == GemmPrec::kInt8) a.aux2 = a.aux + align64(static_cast<std::size_t>(a.rows) * a.cols * comp_elem());
  if (precise()) a.aux3 = a.aux + comp_bytes(a.rows, a.cols);
}

Act CpuOps::rows_view(const Act& a, int r0, int n) const {
  check(r0 >= 0 && n >= 0 && r0 + n <= a.rows, "rows_view: rows out of range");
  Act v = a;
  v.rows = n;
  v.row0 = a.row0 + r0;
  if (a.data) v.data = a.data + static_cast<std::size_t>(r0) * a.ld * 4;
  if (a.aux) v.aux = a.aux + static_cast<std::size_t>(r0) * a.cols * comp_elem();
  if (a.aux2) v.aux2 = a.aux2 + static_cast<std::size_t>(r0) * sizeof(RowQ);
  return v;
}

void CpuOps::smooth(const std::string& name, std::vector<const float*>& ws, const std::vector<int>& rows, int K,
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

void CpuOps::record(const CpuLinear& w, const Act& in) {
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

void CpuOps::on_begin() {
  if (!precise() && !recording_) return;
  const PackedBatch& b = batch();
  pooled_seq_.assign(static_cast<std::size_t>(b.total_tokens()), -1);
  if (pooled_rows() == RowSel::kAll) return;
  for (int s = 0; s < b.num_seqs(); ++s) pooled_seq_[static_cast<std::size_t>(selected_row(b, s, pooled_rows()))] = s;
}

Clock::time_point CpuOps::tick(const std::string& what, Clock::time_point t0) {
  const auto t1 = Clock::now();
  if (opts_.profile) {
    std::lock_guard<std::mutex> lock(prof_mu_);
    prof_[what] += std::chrono::duration<double>(t1 - t0).count();
  }
  return t1;
}

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
