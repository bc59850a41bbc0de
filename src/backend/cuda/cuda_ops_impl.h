#pragma once
// The CUDA backend's Ops (internal to src/backend/cuda: cuda_ops.cc defines construction,
// parameters and the batch metadata, cuda_ops_run.cc the ops; cuda_ops.h the factories).
// What they do: argument checking, parameter upload, the
// per-pass batch metadata, op scratch, and the mapping of each op onto the device's GEMM
// and fused kernels:
//   embed            embed_ln (lookup + LayerNorm, fp32 statistics)
//   linear           cuBLASLt GEMM; epilogue none / residual in cuBLASLt (BIAS, beta = 1),
//                    GELU (erf / tanh) and the gated units (SwiGLU, GeGLU erf / tanh) in
//                    bias_act after a GEMM without epilogue (every epilogue is fused)
//   add, activate, glu, scale   bias_act (elementwise); mean pooling: gather (mean)
//   linear_add_norm  GEMM into scratch, then norm(x + z + bias) in one kernel
//   norm             norm (per row or per group)
//   rope, attention, gather_rows, head: their kernels
// Per-sequence rows (rows == sequences) are fp32 (plan.h act_elem): a GEMM reads them
// through a conversion into op scratch; the row kernels read any element type.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/device.h"
#include "backend/cuda/math.cuh"
#include "backend/cuda/plan.h"
#include "backend/ops.h"

namespace crossrank::cuda {

// Device memory of the process (weights, arenas, metadata, library workspaces): counted on
// every allocation and release (cuda_device_memory reads it).
void count_alloc(std::size_t bytes);
void count_free(std::size_t bytes);

inline Elem elem_of(DType d) {
  switch (d) {
    case DType::kFp16: return Elem::kF16;
    case DType::kBf16: return Elem::kBF16;
    default: return Elem::kF32;
  }
}

// Device memory owned by a parameter or the ops; freed through its device.
class DevMem {
 public:
  DevMem() = default;
  DevMem(std::shared_ptr<Device> d, std::size_t bytes) : dev_(std::move(d)), bytes_(std::max<std::size_t>(bytes, 1)) {
    p_ = dev_->alloc(bytes_);
    count_alloc(bytes_);
  }
  ~DevMem() { reset(); }
  DevMem(DevMem&& o) noexcept { *this = std::move(o); }
  DevMem& operator=(DevMem&& o) noexcept {
    if (this != &o) {
      reset();
      dev_ = std::move(o.dev_);
      p_ = o.p_;
      bytes_ = o.bytes_;
      o.p_ = nullptr;
      o.bytes_ = 0;
    }
    return *this;
  }
  void reset() {
    if (p_) {
      dev_->release(p_);
      count_free(bytes_);
    }
    p_ = nullptr;
    bytes_ = 0;
  }
  void* get() const { return p_; }
  std::size_t bytes() const { return bytes_; }

 private:
  std::shared_ptr<Device> dev_;
  void* p_ = nullptr;
  std::size_t bytes_ = 0;
};

// Host fp32 values -> `e` elements (round to nearest even).
inline void convert_host(const float* in, std::size_t n, Elem e, void* out) {
  switch (e) {
    case Elem::kF32: std::memcpy(out, in, n * 4); break;
    case Elem::kF16: {
      auto* o = static_cast<__half*>(out);
#pragma omp parallel for schedule(static) if (n > (1u << 16))
      for (std::size_t i = 0; i < n; ++i) o[i] = from_f32<__half>(in[i]);
      break;
    }
    case Elem::kBF16: {
      auto* o = static_cast<__nv_bfloat16*>(out);
#pragma omp parallel for schedule(static) if (n > (1u << 16))
      for (std::size_t i = 0; i < n; ++i) o[i] = from_f32<__nv_bfloat16>(in[i]);
      break;
    }
  }
}

struct CuLinear final : Param {
  DevMem w, bias_dt, bias_f32;  // [N, K] in dtype; bias [N] in dtype and fp32
  int N = 0, K = 0;
  bool has_bias = false;
  Epilogue epi = Epilogue::kNone;
  std::string name;
};
struct CuNorm final : Param {
  DevMem gamma, beta;  // fp32 [dim]
  int dim = 0;
  bool rms = false, has_beta = false;
  float eps = 0.f;
};
struct CuEmbed final : Param {
  DevMem word, pos, type;  // tables in dtype
  int H = 0, V = 0, P = 0, Ty = 0;
  bool has_norm = false;
  CuNorm norm;
};
struct CuHead final : Param {
  DevMem dense_w, dense_b, out_w, out_b;  // fp32
  int H = 0, n = 0;
  bool dense = false;
};

// The per-pass batch metadata on the device.
struct Meta {
  const std::int32_t *ids = nullptr, *pos = nullptr, *types = nullptr, *cu = nullptr, *parent = nullptr;
  const std::int32_t *tiles_tc = nullptr, *tiles_simple = nullptr;
  int n_tiles_tc = 0, n_tiles_simple = 0;
};

class CudaOps final : public Ops {
 public:
  CudaOps(std::shared_ptr<Device> dev, DType dtype, bool planner, bool deterministic = false);
  ~CudaOps() override {
    if (!planner_) {
      try {
        dev_->synchronize();
      } catch (...) {
      }
    }
    if (staging_) dev_->release_host(staging_);
    if (logits_host_) dev_->release_host(logits_host_);
    count_free(reserved_);
  }

  const char* name() const override { return "cuda"; }
  DType dtype() const override { return dtype_; }
  std::string describe() const override { return describe_; }
  OpsCaps caps() const override;

  // ---- parameters ------------------------------------------------------------------
  ParamPtr do_prepare_linear(const LinearDesc& d) override;
  ParamPtr prepare_norm(const NormDesc& d) override {
    auto p = std::make_unique<CuNorm>();
    fill_norm(d, *p);
    return p;
  }
  ParamPtr prepare_embedding(const EmbedDesc& d) override;
  ParamPtr prepare_head(const HeadDesc& d) override;

  // ---- memory ------------------------------------------------------------------------
  char* allocate_arena(std::size_t bytes) override;
  void free_arena(char* p, std::size_t bytes) override {
    if (!p) return;
    dev_->release(p);
    count_free(bytes);
  }
  std::size_t extra_pass_bytes(int tokens) const override { return meta_bytes_bound(tokens); }

 protected:
  std::size_t act_bytes(int rows, int cols, ActUse, bool tokens) const override {
    return static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols) * elem_bytes(elem_for(rows, tokens));
  }
  void bind(Act& a, char* p) const override {
    a.data = p;
    a.ld = a.cols;
    a.elem = elem_bytes(elem_for(a.rows, a.tokens));
    a.aux = nullptr;
  }

  // ---- scratch sizes (dry runs); do_* take exactly these ------------------------------------
  std::size_t linear_scratch(const Act& in, const Param& wp, const Act& out) const override;
  std::size_t linear_add_norm_scratch(const Act& in, const Param& wp, const Act& x) const override {
    const auto& w = static_cast<const CuLinear&>(wp);
    meta_stale_ = true;
    return input_scratch(in) + align64(static_cast<std::size_t>(in.rows) * w.N * elem_bytes(dt_));
  }
  std::size_t attention_scratch(const AttnDesc&, const Act&, const Act&) const override {
    meta_stale_ = true;
    return 0;
  }
  std::size_t head_scratch(const Act& pooled, const Param& hp) const override;

  // ---- ops -----------------------------------------------------------------------------
  void do_embed(const Param& ep, Act& out) override;

  void do_linear(const Act& in, const Param& wp, Act& out) override;

  void do_linear_add_norm(const Act& in, const Param& wp, Act& x, const Param& np) override;

  void do_norm(const Act& in, const Param& np, Act& out, int group) override;

  void do_rope(Act& q, Act& k, const RopeDesc& d) override;

  void do_attention(const AttnDesc& d, const Act& q, const Act& k, const Act& v, Act& out) override;

  // ---- primitives: the elementwise kernel (bias_act) and mean pooling (gather) ----
  void do_add(const Act& x_add, Act& x) override {
    BiasActArgs a = elementwise(x, x);
    a.add = mat(x_add);
    dev_->bias_act(a);
  }
  void do_activate(const Act& in, Activation act, Act& out) override {
    BiasActArgs a = elementwise(in, out);
    a.act = act_fn(act);
    dev_->bias_act(a);
  }
  void do_glu(const Act& in, Activation act, Act& out) override {
    BiasActArgs a = elementwise(in, out);
    a.act = act_fn(act);
    a.glu = true;
    dev_->bias_act(a);
  }
  void do_scale(Act& x, float s) override {
    BiasActArgs a = elementwise(x, x);
    a.scale = s;
    dev_->bias_act(a);
  }
  void do_mean_rows(const Act& in, Act& out) override;

  void do_gather_rows(const Act& in, RowSel sel, Act& out) override;

  std::vector<float> do_head(const Act& pooled, const Param& hp) override;

  void do_write(Act& a, const std::vector<float>& host) override;
  std::vector<float> do_read(const Act& a) override;

 private:
  Elem elem_for(int rows, bool tokens) const { return act_elem(rows, batch().num_seqs(), tokens, dt_); }
  static ActFn act_fn(Activation a) {
    static_assert(static_cast<int>(ActFn::kGeluTanh) == static_cast<int>(Activation::kGeluTanh) &&
                  static_cast<int>(ActFn::kTanh) == static_cast<int>(Activation::kTanh) &&
                  static_cast<int>(ActFn::kSilu) == static_cast<int>(Activation::kSilu));
    return static_cast<ActFn>(a);
  }
  // Elementwise out = z (identity, no bias, scale 1) over in's rows and out's columns.
  BiasActArgs elementwise(const Act& z, const Act& out) const {
    BiasActArgs a;
    a.z = mat(z);
    a.out = mat(out);
    a.rows = out.rows;
    a.cols = out.cols;
    return a;
  }
  Mat mat(const Act& a) const { return Mat{a.data, a.ld, a.elem == 4 ? Elem::kF32 : dt_}; }
  static bool aligned16(const Mat& m) {
    return reinterpret_cast<std::uintptr_t>(m.p) % 16 == 0 && (static_cast<std::size_t>(m.ld) * elem_bytes(m.t)) % 16 == 0;
  }

  // Scratch a GEMM input needs: a copy in the compute dtype when its rows are fp32.
  std::size_t input_scratch(const Act& in) const {
    const Elem e = in.elem == 4 ? Elem::kF32 : dt_;
    return e == dt_ ? 0 : align64(static_cast<std::size_t>(in.rows) * in.cols * elem_bytes(dt_));
  }
  Mat gemm_input(const Act& in);
  GemmArgs gemm_of(const CuLinear& w, const Mat& in, int rows) const {
    GemmArgs g;
    g.in = in;
    g.w = w.w.get();
    g.w_t = dt_;
    g.M = rows;
    g.N = w.N;
    g.K = w.K;
    g.invariant = deterministic_;
    return g;
  }
  NormArgs norm_args(const CuNorm& n, const Mat& in, const Mat& out, int rows, int cols, int group) const;

  void fill_norm(const NormDesc& d, CuNorm& p);
  // A tensor's values (zeros when planning: planners never read tensor data).
  std::vector<float> values(const HostTensor* t) const {
    return planner_ ? std::vector<float>(static_cast<std::size_t>(t->numel()), 0.f) : t->f32();
  }
  DevMem upload_f32(const std::vector<float>& v) { return upload_as(v, Elem::kF32); }
  DevMem upload_as(const std::vector<float>& v, Elem e);
  // A host tensor (any source type) into `dst` as `e`, in chunks (bounded host memory).
  void upload_tensor(const HostTensor& t, void* dst, Elem e);

  // The batch metadata on the device, uploaded at the first op of a pass that needs it.
  // A pass is new after a sizing run (every *_scratch hook marks it) or a head (the end
  // of a pass), or when the batch object or its cu_seqlens differ.
  const Meta& meta();

  std::shared_ptr<Device> dev_;
  DType dtype_;
  Elem dt_;
  bool planner_;
  bool deterministic_;  // GEMMs on the batch-invariant kernel (GemmArgs::invariant)
  std::size_t reserved_ = 0;  // the device's own memory (cuBLASLt workspace), counted once per ops
  std::string describe_;
  // batch metadata
  DevMem meta_dev_;
  std::int32_t* staging_ = nullptr;
  std::size_t staging_cap_ = 0;
  bool upload_pending_ = false;
  mutable bool meta_stale_ = true;
  const PackedBatch* meta_batch_ = nullptr;
  const std::int32_t* meta_ids_ = nullptr;
  std::vector<std::int32_t> meta_cu_;
  Meta meta_;
  // logits
  float* logits_host_ = nullptr;
  std::size_t logits_cap_ = 0;
};

}  // namespace crossrank::cuda
