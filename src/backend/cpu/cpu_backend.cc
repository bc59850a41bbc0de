// Optimised CPU backend: oneDNN matmul GEMMs with pre-packed weights + fused AVX2 row
// kernels + blocked varlen attention, in fp32, bf16 or int8.
//
// Per layer (T tokens of the packed batch, H hidden, I intermediate):
//   qkv[T,3H]  = x W_qkv^T + b              one fused GEMM (Q|K|V weights stacked)
//   ctx[T,H]   = attention(qkv)              per (sequence, head) task, attention.cc
//   x          = LN1(x + ctx W_o^T + b_o)    GEMM with bias + sum post-op into x, LN row kernel
//   inter[T,I] = GELU(x W_1^T + b_1)         GEMM with bias + eltwise_gelu_erf post-ops
//   x          = LN2(x + inter W_2^T + b_2)  GEMM with bias + sum post-op, LN row kernel
// int8 replaces the post-ops with one fused row pass after each GEMM (dequantise with the
// per-token and per-channel scales, bias, GELU / residual + LayerNorm, and quantise the next
// GEMM's input) because oneDNN 2.6 matmul has no per-row (per-token) scales.
//
// Last layer ("shortcut"): K and V are needed for all tokens, but only the first token's
// hidden state reaches the head, so Q, attention output, W_o, FFN and LayerNorms run on
// the S first tokens only (rows are independent in all of these ops, so this is exact).
//
// Parallelism: GEMMs use oneDNN's OpenMP threading over M/N; row kernels are
// `omp parallel for` over tokens; attention over (sequence, head) tasks, dynamically.
//
// Measured (bench/cpu_backend_bench --peak --profile, synthetic v2-m3, 24 layers, 2 threads,
// CPU-time normalised because the shared machine was oversubscribed): 8 x 512 tokens
// fp32 158 GFLOP/s executed = 98% of the fp32 GEMM peak (161) on the same shapes; int8 310 =
// 95% of the int8 peak (326); time split fp32: GEMMs 90%, attention 9.4%, LN 0.3%;
// int8: GEMMs 72%, attention (fp32) 17.5%, dequant/LN/quant rows 5%.
//
// Weights: each Linear keeps its own converted copy in oneDNN's layout (fp32: +1.2 GB for
// v2-m3's layers on top of the ModelWeights, bf16-emulated the same, int8: +0.3 GB).
//
// Memory: forward() uses one arena laid out by plan(); activation_bytes() returns the same
// plan's size plus a bound on oneDNN's internal GEMM packing buffers. The arena is kept for
// the next call when it is <= 512 MiB (a bigger request frees it before allocating, so a
// forward never holds more than max(its own arena, the kept one)).
#include "backend/cpu/cpu_backend.h"

#include <omp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <mutex>
#include <new>

#include <oneapi/dnnl/dnnl.hpp>

#include "backend/cpu/attention.h"
#include "backend/cpu/gemm.h"
#include "backend/cpu/kernels.h"
#include "util/log.h"

namespace crossrank::cpu {
namespace {

enum Op { kEmbed, kGemmQkv, kAttention, kGemmOut, kGemmFfn1, kGemmFfn2, kRowOps, kConvert, kHead, kNumOps };
const char* const kOpNames[kNumOps] = {"embed+ln",  "gemm_qkv",       "attention",           "gemm_attn_out", "gemm_ffn1",
                                       "gemm_ffn2", "ln/dequant/quant", "bf16 convert/round", "head"};

using Clock = std::chrono::steady_clock;

struct LayerGemms {
  std::unique_ptr<Linear> qkv;    // [3H, H]; absent on a shortcut last layer
  std::unique_ptr<Linear> q, kv;  // shortcut last layer: [H, H] and [2H, H]
  std::unique_ptr<Linear> out;    // [H, H], accumulates into x
  std::unique_ptr<Linear> ffn1;   // [I, H], GELU
  std::unique_ptr<Linear> ffn2;   // [H, I], accumulates into x
};

// Arena layout for one forward pass (byte offsets, 64-byte aligned).
struct Plan {
  std::size_t x, big, ctx, conv, q8, qs, qz;  // full-batch buffers
  std::size_t x0, q0, ctx0, sbig, sq8, sqs, sqz;  // first-token buffers (shortcut + head)
  std::size_t attn;                            // attention scratch (per thread)
  std::size_t total;
};

inline std::size_t align64(std::size_t n) { return (n + 63) & ~std::size_t(63); }

struct ArenaDeleter {
  void operator()(char* p) const { ::operator delete[](p, std::align_val_t(64)); }
};
constexpr std::size_t kKeepArenaBytes = std::size_t(512) << 20;

class CpuBackend final : public Backend, public CpuBackendInfo {
 public:
  CpuBackend(std::shared_ptr<const ModelWeights> w, DType dtype, const CpuBackendOptions& opts)
      : w_(std::move(w)), dtype_(dtype), opts_(opts), eng_(dnnl::engine::kind::cpu, 0) {
    const ModelConfig& c = w_->config;
    H_ = c.hidden;
    I_ = c.intermediate;
    NH_ = c.heads;
    D_ = c.head_dim();
    if (H_ <= 0 || NH_ <= 0 || H_ % NH_ != 0 || c.layers <= 0) throw Error("cpu backend: bad model shape");
    if (opts_.attn_q_block < 1 || opts_.attn_k_block < 1) throw Error("cpu backend: bad attention block sizes");
    const GemmCaps& caps = gemm_caps();
    switch (dtype) {
      case DType::kFp32: prec_ = GemmPrec::kF32; break;
      case DType::kBf16:
        prec_ = caps.bf16_native && !opts_.force_bf16_emulation ? GemmPrec::kBf16 : GemmPrec::kBf16Emu;
        break;
      case DType::kInt8: prec_ = GemmPrec::kInt8; break;
      case DType::kFp16: throw Error("fp16 is a GPU dtype; on CPU use bf16 (or fp32 / int8)");
    }
    const int nl = c.layers;
    layers_.resize(nl);
    for (int l = 0; l < nl; ++l) {
      const LayerWeights& L = w_->layers[l];
      LayerGemms& g = layers_[l];
      const bool shortcut = opts_.last_layer_shortcut && l == nl - 1;
      auto mk = [&](GemmPost post, std::vector<const float*> ws, std::vector<const float*> bs, std::vector<int> rows,
                    int K) {
        return std::make_unique<Linear>(eng_, prec_, post, ws, bs, rows, K, opts_.force_fixed_m);
      };
      if (shortcut) {
        g.q = mk(GemmPost::kBias, {L.q_w}, {L.q_b}, {H_}, H_);
        g.kv = mk(GemmPost::kBias, {L.k_w, L.v_w}, {L.k_b, L.v_b}, {H_, H_}, H_);
      } else {
        g.qkv = mk(GemmPost::kBias, {L.q_w, L.k_w, L.v_w}, {L.q_b, L.k_b, L.v_b}, {H_, H_, H_}, H_);
      }
      g.out = mk(GemmPost::kBiasAccumulate, {L.attn_out_w}, {L.attn_out_b}, {H_}, H_);
      g.ffn1 = mk(GemmPost::kBiasGelu, {L.inter_w}, {L.inter_b}, {I_}, H_);
      g.ffn2 = mk(GemmPost::kBiasAccumulate, {L.out_w}, {L.out_b}, {H_}, I_);
    }
    const Linear& any = *layers_[0].ffn1;
    describe_ = std::string("cpu ") + to_string(dtype) + ": oneDNN ISA " + caps.isa + ", GEMM " + any.impl_info();
    if (prec_ == GemmPrec::kBf16) describe_ += ", native bf16 matmul";
    if (prec_ == GemmPrec::kBf16Emu) describe_ += ", bf16 EMULATED (bf16-rounded operands, fp32 GEMM: no bf16 matmul on this CPU)";
    if (prec_ == GemmPrec::kInt8)
      describe_ += caps.int8_saturates ? ", int8 weights 7-bit (u8*s8 saturates without VNNI)" : ", int8 weights 8-bit";
    describe_ += opts_.last_layer_shortcut ? ", last-layer shortcut" : ", no shortcut";
    log_debug(describe_);
    if (prec_ == GemmPrec::kBf16Emu && !opts_.force_bf16_emulation) {
      static std::once_flag once;
      std::call_once(once, [&] {
        log_warn("bf16: this CPU has no bf16 matmul (oneDNN ISA " + caps.isa +
                 "); bf16 is emulated with fp32 GEMMs (same speed as fp32, bf16 accuracy). Prefer fp32 or int8 here.");
      });
    }
  }

  const char* name() const override { return "cpu"; }
  DType dtype() const override { return dtype_; }
  std::string describe() const override { return describe_; }
  std::size_t last_arena_bytes() const override { return last_arena_bytes_; }
  std::vector<std::pair<std::string, double>> op_seconds() const override {
    std::lock_guard<std::mutex> lock(prof_mu_);
    std::vector<std::pair<std::string, double>> r;
    for (int i = 0; i < kNumOps; ++i) r.emplace_back(kOpNames[i], prof_[i]);
    return r;
  }
  void reset_profile() override {
    std::lock_guard<std::mutex> lock(prof_mu_);
    prof_.fill(0.0);
  }

  std::size_t activation_bytes(int total_tokens, int max_seqlen, int num_seqs) const override {
    const int nthr = std::max(omp_get_max_threads(), omp_get_num_procs());
    return plan(total_tokens, max_seqlen, num_seqs, nthr).total + onednn_internal_bytes(total_tokens, nthr);
  }

  std::vector<float> forward(const PackedBatch& batch) override;

 private:
  int bq(int max_seqlen) const { return std::max(1, std::min(opts_.attn_q_block, max_seqlen)); }
  int bk(int max_seqlen) const { return std::max(1, std::min(opts_.attn_k_block, max_seqlen)); }

  Plan plan(int T, int Lmax, int S, int nthr) const {
    Plan p{};
    std::size_t off = 0;
    auto take = [&](std::size_t bytes) {
      const std::size_t o = off;
      off += align64(bytes);
      return o;
    };
    const std::size_t t = static_cast<std::size_t>(std::max(T, 0)), s = static_cast<std::size_t>(std::max(S, 0));
    const std::size_t wide = std::max(H_, I_), big = std::max(3 * H_, I_);
    const bool i8 = prec_ == GemmPrec::kInt8;
    const std::size_t conv_elt = prec_ == GemmPrec::kBf16 ? 2 : prec_ == GemmPrec::kBf16Emu ? 4 : 0;
    p.x = take(t * H_ * 4);
    p.big = take(t * big * 4);
    p.ctx = take(t * H_ * 4);
    p.conv = take(t * wide * conv_elt);
    p.q8 = take(i8 ? t * wide : 0);
    p.qs = take(i8 ? t * 4 : 0);
    p.qz = take(i8 ? t * 4 : 0);
    p.x0 = take(s * H_ * 4);
    p.q0 = take(s * H_ * 4);
    p.ctx0 = take(s * H_ * 4);
    p.sbig = take(s * wide * 4);
    p.sq8 = take(i8 ? s * wide : 0);
    p.sqs = take(i8 ? s * 4 : 0);
    p.sqz = take(i8 ? s * 4 : 0);
    p.attn = take(static_cast<std::size_t>(nthr) * attention_scratch_floats(bq(Lmax), bk(Lmax), D_, Lmax) * 4);
    p.total = off;
    return p;
  }

  // oneDNN's gemm:jit allocates its own packing buffers inside each call (not visible
  // through the scratchpad API for runtime-M primitives): per thread, one panel of A
  // and one of B (<= ~4 MB each for K <= 4096), plus the int8 row/column offset sums.
  std::size_t onednn_internal_bytes(int T, int nthr) const {
    return static_cast<std::size_t>(nthr) * (8u << 20) + (16u << 20) + static_cast<std::size_t>(std::max(T, 0)) * 64;
  }

  // GEMM input for an f32 activation matrix [M, K]: itself (fp32, int8 handled elsewhere)
  // or its bf16 conversion / bf16-rounded copy in the conversion buffer.
  const void* prep(const float* src, int M, int K, char* conv) const {
    if (prec_ == GemmPrec::kF32) return src;
#pragma omp parallel for schedule(static)
    for (int m = 0; m < M; ++m) {
      const float* r = src + static_cast<std::size_t>(m) * K;
      if (prec_ == GemmPrec::kBf16)
        to_bf16_row(r, K, reinterpret_cast<uint16_t*>(conv) + static_cast<std::size_t>(m) * K);
      else
        round_bf16_row(r, K, reinterpret_cast<float*>(conv) + static_cast<std::size_t>(m) * K);
    }
    return conv;
  }

  std::shared_ptr<const ModelWeights> w_;
  DType dtype_;
  CpuBackendOptions opts_;
  GemmPrec prec_ = GemmPrec::kF32;
  dnnl::engine eng_;
  int H_ = 0, I_ = 0, NH_ = 0, D_ = 0;
  std::vector<LayerGemms> layers_;
  std::string describe_;
  std::atomic<std::size_t> last_arena_bytes_{0};
  std::mutex arena_mu_;
  std::unique_ptr<char[], ArenaDeleter> cached_arena_;
  std::size_t cached_arena_bytes_ = 0;
  mutable std::mutex prof_mu_;
  std::array<double, kNumOps> prof_{};
};


std::vector<float> CpuBackend::forward(const PackedBatch& batch) {
  const int S = batch.num_seqs();
  if (S <= 0) return {};
  const int T = batch.total_tokens();
  // Longest sequence from cu_seqlens itself (scratch sizes depend on it; do not trust a
  // hand-built batch's max_seqlen).
  int Lmax = 1;
  for (int s = 0; s < S; ++s) Lmax = std::max(Lmax, batch.cu_seqlens[s + 1] - batch.cu_seqlens[s]);
  const ModelConfig& c = w_->config;
  const int H = H_, I = I_, nthr = omp_get_max_threads();
  const float eps = c.layer_norm_eps;
  const bool i8 = prec_ == GemmPrec::kInt8;

  const Plan p = plan(T, Lmax, S, nthr);
  // The arena is kept between calls (up to kKeepArenaBytes) so repeated batches do not
  // page-fault it in again: fresh mmap'ed memory cost ~23k minor faults and ~5% of the
  // CPU time per forward on bge-reranker-base 8 x 512. A concurrent second caller (not
  // expected: one worker thread at a time) simply allocates its own.
  std::unique_lock<std::mutex> arena_lock(arena_mu_, std::try_to_lock);
  std::unique_ptr<char[], ArenaDeleter> own_arena;
  char* base = nullptr;
  if (arena_lock.owns_lock() && cached_arena_ && cached_arena_bytes_ >= p.total) {
    base = cached_arena_.get();
  } else {
    if (arena_lock.owns_lock()) cached_arena_.reset(), cached_arena_bytes_ = 0;  // free before allocating
    own_arena.reset(static_cast<char*>(::operator new[](p.total, std::align_val_t(64))));
    base = own_arena.get();
    if (arena_lock.owns_lock() && p.total <= kKeepArenaBytes) {
      cached_arena_ = std::move(own_arena);
      cached_arena_bytes_ = p.total;
    }
  }
  last_arena_bytes_ = p.total;
  float* x = reinterpret_cast<float*>(base + p.x);
  float* big = reinterpret_cast<float*>(base + p.big);
  int32_t* bigi = reinterpret_cast<int32_t*>(big);
  float* ctx = reinterpret_cast<float*>(base + p.ctx);
  char* conv = base + p.conv;
  uint8_t* q8 = reinterpret_cast<uint8_t*>(base + p.q8);
  float* qs = reinterpret_cast<float*>(base + p.qs);
  int32_t* qz = reinterpret_cast<int32_t*>(base + p.qz);
  float* x0 = reinterpret_cast<float*>(base + p.x0);
  float* q0 = reinterpret_cast<float*>(base + p.q0);
  float* ctx0 = reinterpret_cast<float*>(base + p.ctx0);
  float* sbig = reinterpret_cast<float*>(base + p.sbig);
  uint8_t* sq8 = reinterpret_cast<uint8_t*>(base + p.sq8);
  float* sqs = reinterpret_cast<float*>(base + p.sqs);
  int32_t* sqz = reinterpret_cast<int32_t*>(base + p.sqz);
  float* attn_scratch = reinterpret_cast<float*>(base + p.attn);

  dnnl::stream strm(eng_);
  std::array<double, kNumOps> prof{};
  auto t0 = Clock::now();
  auto tick = [&](Op op) {
    if (!opts_.profile) return;
    const auto t1 = Clock::now();
    prof[op] += std::chrono::duration<double>(t1 - t0).count();
    t0 = t1;
  };
  const int32_t* cu = batch.cu_seqlens.data();
  AttnArgs att;
  att.cu = cu;
  att.S = S;
  att.heads = NH_;
  att.head_dim = D_;
  att.q_block = bq(Lmax);
  att.k_block = bk(Lmax);

  // Embeddings + LayerNorm (+ quantisation of the first GEMM input in int8).
#pragma omp parallel for schedule(static)
  for (int t = 0; t < T; ++t) {
    float* xr = x + static_cast<std::size_t>(t) * H;
    const float* we = w_->word_emb + static_cast<std::size_t>(batch.input_ids[t]) * H;
    const float* pe = w_->pos_emb + static_cast<std::size_t>(batch.position_ids[t]) * H;
    const float* te = w_->type_emb + static_cast<std::size_t>(batch.token_type_ids[t]) * H;
    for (int i = 0; i < H; ++i) xr[i] = we[i] + pe[i] + te[i];
    add_layer_norm_row(xr, nullptr, H, w_->emb_ln_g, w_->emb_ln_b, eps);
    if (i8) quantize_row_u8(xr, H, q8 + static_cast<std::size_t>(t) * H, qs + t, qz + t);
  }
  tick(kEmbed);

  const int nl = static_cast<int>(layers_.size());
  bool first_rows_in_x0 = false;
  for (int l = 0; l < nl; ++l) {
    const LayerWeights& LW = w_->layers[l];
    const LayerGemms& g = layers_[l];
    const bool shortcut = static_cast<bool>(g.q);
    // ---- attention block ------------------------------------------------------------
    // Output of this block: rows `xa` (T rows of x, or S rows of x0 on the shortcut).
    float* xa = x;
    int Ma = T;
    if (!shortcut) {
      if (i8) {
        g.qkv->run(strm, q8, T, bigi);
        tick(kGemmQkv);
        const Linear& G = *g.qkv;
#pragma omp parallel for schedule(static)
        for (int t = 0; t < T; ++t) {
          int32_t* r = bigi + static_cast<std::size_t>(t) * 3 * H;
          dequant_row(r, 3 * H, qz[t], qs[t], G.w_sum(), G.w_scale(), G.bias(), reinterpret_cast<float*>(r));
        }
        tick(kRowOps);
      } else {
        const void* in = prep(x, T, H, conv);
        tick(kConvert);
        g.qkv->run(strm, in, T, big);
        tick(kGemmQkv);
      }
      att.q = big, att.ldq = 3 * H;
      att.k = big + H, att.ldk = 3 * H;
      att.v = big + 2 * H, att.ldv = 3 * H;
      att.o = ctx, att.ldo = H;
      att.first_token_only = false;
    } else {
      // K, V for all tokens; Q for the first token of each sequence.
      if (i8) {
        g.kv->run(strm, q8, T, bigi);
        tick(kGemmQkv);
        const Linear& G = *g.kv;
#pragma omp parallel for schedule(static)
        for (int t = 0; t < T; ++t) {
          int32_t* r = bigi + static_cast<std::size_t>(t) * 2 * H;
          dequant_row(r, 2 * H, qz[t], qs[t], G.w_sum(), G.w_scale(), G.bias(), reinterpret_cast<float*>(r));
        }
        for (int s = 0; s < S; ++s) {
          std::memcpy(sq8 + static_cast<std::size_t>(s) * H, q8 + static_cast<std::size_t>(cu[s]) * H, H);
          sqs[s] = qs[cu[s]];
          sqz[s] = qz[cu[s]];
          std::memcpy(x0 + static_cast<std::size_t>(s) * H, x + static_cast<std::size_t>(cu[s]) * H, 4 * H);
        }
        tick(kRowOps);
        g.q->run(strm, sq8, S, reinterpret_cast<int32_t*>(q0));
        tick(kGemmQkv);
        for (int s = 0; s < S; ++s) {
          int32_t* r = reinterpret_cast<int32_t*>(q0) + static_cast<std::size_t>(s) * H;
          dequant_row(r, H, sqz[s], sqs[s], g.q->w_sum(), g.q->w_scale(), g.q->bias(), reinterpret_cast<float*>(r));
        }
        tick(kRowOps);
      } else {
        const void* in = prep(x, T, H, conv);
        tick(kConvert);
        g.kv->run(strm, in, T, big);
        tick(kGemmQkv);
        for (int s = 0; s < S; ++s)
          std::memcpy(x0 + static_cast<std::size_t>(s) * H, x + static_cast<std::size_t>(cu[s]) * H, 4 * H);
        const void* in0 = prep(x0, S, H, conv);
        tick(kConvert);
        g.q->run(strm, in0, S, q0);
        tick(kGemmQkv);
      }
      att.q = q0, att.ldq = H;
      att.k = big, att.ldk = 2 * H;
      att.v = big + H, att.ldv = 2 * H;
      att.o = ctx0, att.ldo = H;
      att.first_token_only = true;
      xa = x0;
      Ma = S;
      first_rows_in_x0 = true;
    }
    attention(att, attn_scratch, opts_.attn_sgemm);
    tick(kAttention);
    float* ca = shortcut ? ctx0 : ctx;
    uint8_t* qa = shortcut ? sq8 : q8;
    float* qsa = shortcut ? sqs : qs;
    int32_t* qza = shortcut ? sqz : qz;
    float* ba = shortcut ? sbig : big;  // [Ma, max(I, ...)] work rows
    int32_t* bai = reinterpret_cast<int32_t*>(ba);

    // ---- x = LN1(x + ctx W_o^T + b) ---------------------------------------------------
    if (i8) {
#pragma omp parallel for schedule(static)
      for (int t = 0; t < Ma; ++t)
        quantize_row_u8(ca + static_cast<std::size_t>(t) * H, H, qa + static_cast<std::size_t>(t) * H, qsa + t, qza + t);
      tick(kRowOps);
      g.out->run(strm, qa, Ma, bai);
      tick(kGemmOut);
      const Linear& G = *g.out;
#pragma omp parallel for schedule(static)
      for (int t = 0; t < Ma; ++t) {
        int32_t* r = bai + static_cast<std::size_t>(t) * H;
        float* rf = reinterpret_cast<float*>(r);
        float* xr = xa + static_cast<std::size_t>(t) * H;
        dequant_row(r, H, qza[t], qsa[t], G.w_sum(), G.w_scale(), G.bias(), rf);
        add_layer_norm_row(xr, rf, H, LW.ln1_g, LW.ln1_b, eps);
        quantize_row_u8(xr, H, qa + static_cast<std::size_t>(t) * H, qsa + t, qza + t);
      }
      tick(kRowOps);
    } else {
      const void* in = prep(ca, Ma, H, conv);
      tick(kConvert);
      g.out->run(strm, in, Ma, xa);  // xa += ctx W^T + b (sum post-op)
      tick(kGemmOut);
#pragma omp parallel for schedule(static)
      for (int t = 0; t < Ma; ++t)
        add_layer_norm_row(xa + static_cast<std::size_t>(t) * H, nullptr, H, LW.ln1_g, LW.ln1_b, eps);
      tick(kRowOps);
    }

    // ---- x = LN2(x + GELU(x W_1^T + b_1) W_2^T + b_2) ---------------------------------
    if (i8) {
      g.ffn1->run(strm, qa, Ma, bai);
      tick(kGemmFfn1);
      const Linear& G1 = *g.ffn1;
#pragma omp parallel for schedule(static)
      for (int t = 0; t < Ma; ++t) {
        int32_t* r = bai + static_cast<std::size_t>(t) * I;
        float* rf = reinterpret_cast<float*>(r);
        dequant_row(r, I, qza[t], qsa[t], G1.w_sum(), G1.w_scale(), G1.bias(), rf);
        gelu_row(rf, I);
        quantize_row_u8(rf, I, qa + static_cast<std::size_t>(t) * I, qsa + t, qza + t);
      }
      tick(kRowOps);
      g.ffn2->run(strm, qa, Ma, bai);
      tick(kGemmFfn2);
      const Linear& G2 = *g.ffn2;
      const bool quant_next = l + 1 < nl;
#pragma omp parallel for schedule(static)
      for (int t = 0; t < Ma; ++t) {
        int32_t* r = bai + static_cast<std::size_t>(t) * H;
        float* rf = reinterpret_cast<float*>(r);
        float* xr = xa + static_cast<std::size_t>(t) * H;
        dequant_row(r, H, qza[t], qsa[t], G2.w_sum(), G2.w_scale(), G2.bias(), rf);
        add_layer_norm_row(xr, rf, H, LW.ln2_g, LW.ln2_b, eps);
        if (quant_next) quantize_row_u8(xr, H, qa + static_cast<std::size_t>(t) * H, qsa + t, qza + t);
      }
      tick(kRowOps);
    } else {
      const void* in = prep(xa, Ma, H, conv);
      tick(kConvert);
      g.ffn1->run(strm, in, Ma, ba);  // GELU fused
      tick(kGemmFfn1);
      const void* in2 = prep(ba, Ma, I, conv);
      tick(kConvert);
      g.ffn2->run(strm, in2, Ma, xa);  // xa += inter W^T + b
      tick(kGemmFfn2);
#pragma omp parallel for schedule(static)
      for (int t = 0; t < Ma; ++t)
        add_layer_norm_row(xa + static_cast<std::size_t>(t) * H, nullptr, H, LW.ln2_g, LW.ln2_b, eps);
      tick(kRowOps);
    }
  }

  // ---- head (fp32 in every mode): logit = w_o . tanh(W_d h0 + b_d) + b_o -------------
  if (!first_rows_in_x0)
    for (int s = 0; s < S; ++s)
      std::memcpy(x0 + static_cast<std::size_t>(s) * H, x + static_cast<std::size_t>(cu[s]) * H, 4 * H);
  float* pooled = q0;
  dnnl_sgemm('N', 'T', S, H, H, 1.0f, x0, H, w_->head_dense_w, H, 0.f, pooled, H);
  std::vector<float> logits(S);
  for (int s = 0; s < S; ++s) {
    const float* pr = pooled + static_cast<std::size_t>(s) * H;
    float acc = 0.f;
    for (int i = 0; i < H; ++i) acc += std::tanh(pr[i] + w_->head_dense_b[i]) * w_->head_out_w[i];
    logits[s] = acc + w_->head_out_b[0];
  }
  tick(kHead);
  if (opts_.profile) {
    std::lock_guard<std::mutex> lock(prof_mu_);
    for (int i = 0; i < kNumOps; ++i) prof_[i] += prof[i];
  }
  return logits;
}

}  // namespace

std::unique_ptr<Backend> make_cpu_backend_ex(std::shared_ptr<const ModelWeights> weights, DType dtype,
                                             const CpuBackendOptions& opts) {
  if (!weights) throw Error("cpu backend: no weights");
  return std::make_unique<CpuBackend>(std::move(weights), dtype, opts);
}

}  // namespace crossrank::cpu

namespace crossrank {

std::unique_ptr<Backend> make_cpu_backend(std::shared_ptr<const ModelWeights> weights, DType dtype) {
  return cpu::make_cpu_backend_ex(std::move(weights), dtype, cpu::CpuBackendOptions{});
}

}  // namespace crossrank
