// The CUDA backend's ops (see cuda_ops.h): argument checking, parameter upload, the
// per-pass batch metadata, op scratch, and the mapping of each op onto the device's GEMM
// and fused kernels:
//   embed            embed_ln (lookup + LayerNorm, fp32 statistics)
//   linear           cuBLASLt GEMM; epilogue none / residual in cuBLASLt (BIAS, beta = 1),
//                    GELU (exact erf) and SwiGLU in bias_act after a GEMM without epilogue
//   linear_add_norm  GEMM into scratch, then norm(x + z + bias) in one kernel
//   norm             norm (per row or per group)
//   rope, attention, gather_rows, head: their kernels
// Per-sequence rows (rows == sequences) are fp32 (plan.h act_elem): a GEMM reads them
// through a conversion into op scratch; the row kernels read any element type.
#include "backend/cuda/cuda_ops.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/cuda/math.cuh"
#include "backend/cuda/plan.h"
#include "util/error.h"

namespace crossrank {
namespace cuda {
namespace {

// Device memory of the process (weights, arenas, metadata, library workspaces).
std::atomic<std::size_t> g_current{0}, g_peak{0};

void count_alloc(std::size_t bytes) {
  const std::size_t now = g_current.fetch_add(bytes) + bytes;
  std::size_t peak = g_peak.load();
  while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
  }
}
void count_free(std::size_t bytes) { g_current.fetch_sub(bytes); }

Elem elem_of(DType d) {
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
void convert_host(const float* in, std::size_t n, Elem e, void* out) {
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

// A device for planning only (make_cuda_planner_ops): no memory, no kernels.
class PlannerDevice final : public Device {
 public:
  explicit PlannerDevice(int sm) : sm_(sm) {}
  std::string describe() const override { return "planner (no device, sm_" + std::to_string(sm_) + ")"; }
  int sm() const override { return sm_; }
  std::size_t max_smem() const override { return sm_ >= 90 ? 227 * 1024 : sm_ >= 80 ? 163 * 1024 : 64 * 1024; }
  std::size_t free_memory() const override { return 0; }
  void* alloc(std::size_t bytes) override { return reinterpret_cast<void*>(next_ += (bytes + 255) / 256 * 256 + 256); }
  void release(void*) override {}
  void* alloc_host(std::size_t bytes) override { return ::operator new(bytes); }
  void release_host(void* p) override { ::operator delete(p); }
  void upload(void*, const void*, std::size_t) override {}
  void upload_async(void*, const void*, std::size_t) override { fail(); }
  void download_async(void*, const void*, std::size_t) override { fail(); }
  void upload_rows(void*, std::size_t, const void*, std::size_t, std::size_t, std::size_t) override { fail(); }
  void download_rows(void*, std::size_t, const void*, std::size_t, std::size_t, std::size_t) override { fail(); }
  void synchronize() override {}
  void gemm(const GemmArgs&) override { fail(); }
  void embed(const EmbedArgs&) override { fail(); }
  void norm(const NormArgs&) override { fail(); }
  void bias_act(const BiasActArgs&) override { fail(); }
  void rope(const RopeArgs&) override { fail(); }
  void attention(const AttnArgs&) override { fail(); }
  void gather(const GatherArgs&) override { fail(); }
  void head(const HeadArgs&) override { fail(); }
  void convert(const ConvertArgs&) override { fail(); }

 private:
  [[noreturn]] static void fail() { throw Error(ErrorCode::kUnsupported, "cuda planner ops cannot run passes"); }
  int sm_;
  std::uintptr_t next_ = 1 << 20;
};

class CudaOps final : public Ops {
 public:
  CudaOps(std::shared_ptr<Device> dev, DType dtype, bool planner)
      : dev_(std::move(dev)), dtype_(dtype), dt_(elem_of(dtype)), planner_(planner) {
    if (dtype == DType::kInt8)
      throw Error(ErrorCode::kUnsupported, "cuda backend: int8 is not implemented (use fp16, bf16 or fp32)");
    if (dtype == DType::kBf16 && dev_->sm() < 80)
      throw Error(ErrorCode::kUnsupported, "cuda backend: bf16 needs sm_80 or newer (this GPU is sm_" +
                                               std::to_string(dev_->sm()) + "); use fp16");
    describe_ = std::string("cuda ") + to_string(dtype) + ": " + dev_->describe() +
                ", cuBLASLt GEMMs (fp32 accumulate" + (dtype == DType::kFp32 ? ", no TF32" : "") +
                "), attention: " + (dev_->sm() >= 80 && dtype != DType::kFp32 ? "tensor cores (wmma)" : "simple");
    reserved_ = dev_->reserved_bytes();
    count_alloc(reserved_);
  }
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
  OpsCaps caps() const override {
    OpsCaps c;
    c.dtypes = {DType::kFp16, DType::kFp32};
    if (dev_->sm() >= 80) c.dtypes.insert(c.dtypes.begin() + 1, DType::kBf16);
    c.preferred_batch_tokens = 16384;  // as TEI on GPUs
    c.padded = false;
    c.free_memory = dev_->free_memory();
    // Keep the arena between passes (no cudaMalloc / cudaFree, which synchronises, per pass).
    c.keep_arena_bytes = std::size_t(8) << 30;
    return c;
  }

  // ---- parameters ------------------------------------------------------------------
  ParamPtr do_prepare_linear(const LinearDesc& d) override {
    check(!d.weights.empty(), "linear '" + d.name + "': no weights");
    auto p = std::make_unique<CuLinear>();
    p->K = static_cast<int>(d.weights[0]->cols());
    for (const HostTensor* t : d.weights) {
      check(t->cols() == p->K, "linear '" + d.name + "': blocks differ in K");
      p->N += static_cast<int>(t->rows());
    }
    check(d.epilogue != Epilogue::kSwiGlu || p->N % 2 == 0, "linear '" + d.name + "': SwiGLU needs an even N");
    p->epi = d.epilogue;
    p->name = d.name;
    p->w = DevMem(dev_, static_cast<std::size_t>(p->N) * p->K * elem_bytes(dt_));
    std::size_t row = 0;
    for (const HostTensor* t : d.weights) {
      upload_tensor(*t, static_cast<char*>(p->w.get()) + row * p->K * elem_bytes(dt_), dt_);
      row += static_cast<std::size_t>(t->rows());
      note_copied(t);
    }
    p->has_bias = !d.biases.empty();
    if (p->has_bias) {
      std::vector<float> b(static_cast<std::size_t>(p->N), 0.f);
      std::size_t r0 = 0;
      for (std::size_t i = 0; i < d.weights.size(); ++i) {
        if (i < d.biases.size() && d.biases[i]) {
          check(d.biases[i]->numel() == d.weights[i]->rows(), "linear '" + d.name + "': bias size mismatch");
          if (!planner_) d.biases[i]->to_f32(b.data() + r0, 0, d.biases[i]->numel());
          note_copied(d.biases[i]);
        }
        r0 += static_cast<std::size_t>(d.weights[i]->rows());
      }
      p->bias_f32 = upload_f32(b);
      if (dt_ != Elem::kF32) p->bias_dt = upload_as(b, dt_);
    }
    return p;
  }
  ParamPtr prepare_norm(const NormDesc& d) override {
    auto p = std::make_unique<CuNorm>();
    fill_norm(d, *p);
    return p;
  }
  ParamPtr prepare_embedding(const EmbedDesc& d) override {
    check(d.word != nullptr, "embedding: no word table");
    auto p = std::make_unique<CuEmbed>();
    p->H = static_cast<int>(d.word->cols());
    p->V = static_cast<int>(d.word->rows());
    auto table = [&](const HostTensor* t, DevMem& m, int& rows) {
      if (!t) return;
      check(t->cols() == p->H, "embedding: tables differ in width");
      rows = static_cast<int>(t->rows());
      m = DevMem(dev_, static_cast<std::size_t>(t->numel()) * elem_bytes(dt_));
      upload_tensor(*t, m.get(), dt_);
      note_copied(t);
    };
    table(d.word, p->word, p->V);
    table(d.position, p->pos, p->P);
    table(d.type, p->type, p->Ty);
    p->has_norm = d.has_norm;
    if (d.has_norm) fill_norm(d.norm, p->norm);
    return p;
  }
  ParamPtr prepare_head(const HeadDesc& d) override {
    check(d.out != nullptr, "head: no output layer");
    auto p = std::make_unique<CuHead>();
    p->H = static_cast<int>(d.out->cols());
    if (d.dense_w) {
      check(d.dense_w->rows() == p->H && d.dense_w->cols() == p->H, "head: dense layer must be [H, H]");
      p->dense = true;
      p->dense_w = upload_f32(values(d.dense_w));
      p->dense_b = upload_f32(d.dense_b ? values(d.dense_b) : std::vector<float>(p->H, 0.f));
    }
    const std::vector<std::int64_t> rows = head_out_rows(d);
    p->n = static_cast<int>(rows.size());
    std::vector<float> w, b;
    for (auto r : rows) {
      auto v = planner_ ? std::vector<float>(p->H, 0.f) : d.out->row_f32(r);
      w.insert(w.end(), v.begin(), v.end());
      b.push_back(d.out_b && !planner_ ? d.out_b->row_f32(r)[0] : 0.f);
    }
    p->out_w = upload_f32(w);
    p->out_b = upload_f32(b);
    return p;
  }

  // ---- memory ------------------------------------------------------------------------
  char* allocate_arena(std::size_t bytes) override {
    if (planner_) throw Error(ErrorCode::kUnsupported, "cuda planner ops cannot allocate an arena");
    // Testing aid: CROSSRANK_CUDA_ARENA_LIMIT_MB makes larger arenas fail as out-of-memory
    // (the engine's x3/4 back-off, on a GPU of any size).
    if (const char* e = std::getenv("CROSSRANK_CUDA_ARENA_LIMIT_MB"); e && *e)
      if (bytes > (static_cast<std::size_t>(std::strtoull(e, nullptr, 10)) << 20)) throw std::bad_alloc();
    char* p = static_cast<char*>(dev_->alloc(bytes));  // std::bad_alloc when out of memory
    count_alloc(bytes);
    return p;
  }
  void free_arena(char* p, std::size_t bytes) override {
    if (!p) return;
    dev_->release(p);
    count_free(bytes);
  }
  std::size_t extra_pass_bytes(int tokens) const override { return meta_bytes_bound(tokens); }

 protected:
  std::size_t act_bytes(int rows, int cols, ActUse) const override {
    return static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols) * elem_bytes(elem_for(rows));
  }
  void bind(Act& a, char* p) const override {
    a.data = p;
    a.ld = a.cols;
    a.elem = elem_bytes(elem_for(a.rows));
    a.aux = nullptr;
  }

  // ---- scratch sizes (dry runs); do_* take exactly these ------------------------------------
  std::size_t linear_scratch(const Act& in, const Param& wp, const Act& out) const override {
    const auto& w = static_cast<const CuLinear&>(wp);
    meta_stale_ = true;  // a sizing run: the next pass is a new batch
    std::size_t n = input_scratch(in);
    if (w.epi == Epilogue::kSwiGlu) n += align64(static_cast<std::size_t>(in.rows) * w.N * elem_bytes(dt_));
    return n;
  }
  std::size_t linear_add_norm_scratch(const Act& in, const Param& wp, const Act& x) const override {
    const auto& w = static_cast<const CuLinear&>(wp);
    meta_stale_ = true;
    return input_scratch(in) + align64(static_cast<std::size_t>(in.rows) * w.N * elem_bytes(dt_));
  }
  std::size_t attention_scratch(const AttnDesc&, const Act&, const Act&) const override {
    meta_stale_ = true;
    return 0;
  }
  std::size_t head_scratch(const Act& pooled, const Param& hp) const override {
    const auto& h = static_cast<const CuHead&>(hp);
    meta_stale_ = true;
    const std::size_t S = static_cast<std::size_t>(pooled.rows);
    return (h.dense ? align64(S * h.H * 4) : 0) + align64(S * 4);
  }

  // ---- ops -----------------------------------------------------------------------------
  void do_embed(const Param& ep, Act& out) override {
    const auto& e = static_cast<const CuEmbed&>(ep);
    const PackedBatch& b = batch();
    check(out.rows == b.total_tokens() && out.cols == e.H, "embed: output shape mismatch");
    const Meta& m = meta();
    EmbedArgs a;
    a.out = mat(out);
    a.tokens = out.rows;
    a.H = e.H;
    a.table_t = dt_;
    a.word = e.word.get();
    a.pos = e.pos.get();
    a.type = e.type.get();
    a.ids = m.ids;
    a.pos_ids = m.pos;
    a.type_ids = m.types;
    a.norm = e.has_norm;
    if (e.has_norm) {
      check(e.norm.dim == e.H, "embed: norm width mismatch");
      a.rms = e.norm.rms;
      a.gamma = static_cast<const float*>(e.norm.gamma.get());
      a.beta = e.norm.has_beta ? static_cast<const float*>(e.norm.beta.get()) : nullptr;
      a.eps = e.norm.eps;
    }
    dev_->embed(a);
  }

  void do_linear(const Act& in, const Param& wp, Act& out) override {
    const auto& w = static_cast<const CuLinear&>(wp);
    check(in.cols == w.K, "linear '" + w.name + "': input has " + std::to_string(in.cols) + " columns, weights " +
                              std::to_string(w.K));
    const int outN = w.epi == Epilogue::kSwiGlu ? w.N / 2 : w.N;
    check(out.cols == outN && out.rows == in.rows, "linear '" + w.name + "': output shape mismatch");
    if (in.rows == 0) return;
    GemmArgs g = gemm_of(w, gemm_input(in), in.rows);
    const Mat o = mat(out);
    switch (w.epi) {
      case Epilogue::kNone:
      case Epilogue::kResidual:
        g.out = o;
        g.bias = w.has_bias ? (o.t == Elem::kF32 ? w.bias_f32.get() : w.bias_dt.get()) : nullptr;
        g.accumulate = w.epi == Epilogue::kResidual;
        dev_->gemm(g);
        break;
      case Epilogue::kGelu: {
        g.out = o;
        dev_->gemm(g);
        BiasActArgs a;
        a.act = BiasAct::kGelu;
        a.z = o;
        a.out = o;
        a.bias = w.has_bias ? static_cast<const float*>(w.bias_f32.get()) : nullptr;
        a.rows = in.rows;
        a.cols = w.N;
        dev_->bias_act(a);
        break;
      }
      case Epilogue::kSwiGlu: {
        g.out = Mat{scratch(static_cast<std::size_t>(in.rows) * w.N * elem_bytes(dt_)), w.N, dt_};
        dev_->gemm(g);
        BiasActArgs a;
        a.act = BiasAct::kSwiGlu;
        a.z = g.out;
        a.out = o;
        a.bias = w.has_bias ? static_cast<const float*>(w.bias_f32.get()) : nullptr;
        a.rows = in.rows;
        a.cols = outN;
        dev_->bias_act(a);
        break;
      }
    }
  }

  void do_linear_add_norm(const Act& in, const Param& wp, Act& x, const Param& np) override {
    const auto& w = static_cast<const CuLinear&>(wp);
    const auto& n = static_cast<const CuNorm&>(np);
    check(w.epi == Epilogue::kResidual, "linear_add_norm: the linear must be prepared with Epilogue::kResidual");
    check(in.cols == w.K && x.cols == w.N && x.rows == in.rows && n.dim == w.N, "linear_add_norm: shape mismatch");
    if (in.rows == 0) return;
    GemmArgs g = gemm_of(w, gemm_input(in), in.rows);
    g.out = Mat{scratch(static_cast<std::size_t>(in.rows) * w.N * elem_bytes(dt_)), w.N, dt_};
    dev_->gemm(g);
    NormArgs a = norm_args(n, mat(x), mat(x), in.rows, w.N, w.N);
    a.z = g.out;
    a.zbias = w.has_bias ? static_cast<const float*>(w.bias_f32.get()) : nullptr;
    dev_->norm(a);
  }

  void do_norm(const Act& in, const Param& np, Act& out, int group) override {
    const auto& n = static_cast<const CuNorm&>(np);
    const int g = group > 0 ? group : in.cols;
    check(in.cols % g == 0 && n.dim == g && out.cols == in.cols && out.rows == in.rows, "norm: shape mismatch");
    dev_->norm(norm_args(n, mat(in), mat(out), in.rows, in.cols, g));
  }

  void do_rope(Act& q, Act& k, const RopeDesc& d) override {
    const PackedBatch& b = batch();
    check(d.rotary_dim > 0 && d.rotary_dim % 2 == 0 && d.rotary_dim <= d.head_dim, "rope: bad rotary_dim");
    check(d.rotary_dim / 2 <= kMaxRopeHalf, "rope: rotary_dim > 256 is not supported on cuda");
    RopeArgs a;
    a.half = d.rotary_dim / 2;
    a.head_dim = d.head_dim;
    // As the reference op (and HF): inv_freq in fp32 on the host.
    for (int i = 0; i < a.half; ++i)
      a.inv_freq[i] = 1.0f / std::pow(d.theta, static_cast<float>(2 * i) / static_cast<float>(d.rotary_dim));
    const Meta& m = meta();
    a.pos_ids = m.pos;
    for (Act* x : {&q, &k}) {
      check(x->cols % d.head_dim == 0 && x->rows == b.total_tokens(), "rope: shape mismatch");
      a.x = mat(*x);
      a.rows = x->rows;
      a.heads = x->cols / d.head_dim;
      dev_->rope(a);
    }
  }

  void do_attention(const AttnDesc& d, const Act& q, const Act& k, const Act& v, Act& out) override {
    const PackedBatch& b = batch();
    check(d.kv_heads > 0 && d.heads % d.kv_heads == 0, "attention: heads not a multiple of kv_heads");
    const int D = d.head_dim;
    check(q.cols == d.heads * D && k.cols == d.kv_heads * D && v.cols == k.cols && out.cols == q.cols,
          "attention: shape mismatch");
    check(q.rows == selected_rows(b, d.q_rows) && out.rows == q.rows, "attention: query rows mismatch");
    check(k.rows == b.total_tokens() && v.rows == k.rows, "attention: key rows mismatch");
    if (b.num_seqs() == 0) return;
    AttnArgs a;
    a.q = mat(q);
    a.k = mat(k);
    a.v = mat(v);
    a.out = mat(out);
    check(a.k.t == a.v.t, "attention: keys and values differ in element type");
    a.heads = d.heads;
    a.kv_heads = d.kv_heads;
    a.head_dim = D;
    a.scale = d.scale;
    a.rows = static_cast<Rows>(d.q_rows);
    a.causal = d.causal;
    a.num_seqs = b.num_seqs();
    AttnShape sh;
    sh.sm = dev_->sm();
    sh.q = a.q.t;
    sh.k = a.k.t;
    sh.v = a.v.t;
    sh.out = a.out.t;
    sh.rows = a.rows;
    sh.head_dim = D;
    sh.aligned16 = aligned16(a.q) && aligned16(a.k) && aligned16(a.v) && aligned16(a.out);
    sh.max_smem = dev_->max_smem();
    a.path = choose_attention_path(sh);
    const Meta& m = meta();
    a.cu = m.cu;
    a.parent = m.parent;
    if (a.rows == Rows::kAll) {
      const bool tc = a.path == AttnPath::kTensor;
      a.tiles = tc ? m.tiles_tc : m.tiles_simple;
      a.n_tiles = tc ? m.n_tiles_tc : m.n_tiles_simple;
      a.tile_rows = tc ? kTcTileRows : kSimpleWarpsAll;
    }
    dev_->attention(a);
  }

  // Primitives not yet written as CUDA kernels: a clear error, never a wrong answer.
  bool fuses(Epilogue e) const override {
    return e == Epilogue::kNone || e == Epilogue::kGelu || e == Epilogue::kSwiGlu || e == Epilogue::kResidual;
  }
  void do_add(const Act&, Act&) override { unsupported("add"); }
  void do_activate(const Act&, Activation, Act&) override { unsupported("activate"); }
  void do_glu(const Act&, Activation, Act&) override { unsupported("glu"); }
  void do_scale(Act&, float) override { unsupported("scale"); }
  void do_mean_rows(const Act&, Act&) override { unsupported("mean pooling"); }
  [[noreturn]] static void unsupported(const char* op) {
    throw Error(ErrorCode::kUnsupported, std::string("cuda backend: ") + op + " is not implemented yet (use --backend cpu)");
  }

  void do_gather_rows(const Act& in, RowSel sel, Act& out) override {
    const PackedBatch& b = batch();
    check(out.rows == selected_rows(b, sel) && out.cols == in.cols, "gather_rows: shape mismatch");
    GatherArgs a;
    a.in = mat(in);
    a.out = mat(out);
    a.rows_out = out.rows;
    a.cols = in.cols;
    a.sel = static_cast<Rows>(sel);
    if (sel != RowSel::kAll) a.cu = meta().cu;
    dev_->gather(a);
  }

  std::vector<float> do_head(const Act& pooled, const Param& hp) override {
    const auto& h = static_cast<const CuHead&>(hp);
    check(pooled.cols == h.H, "head: pooled width mismatch");
    const int S = pooled.rows;
    std::vector<float> out(static_cast<std::size_t>(S));
    meta_stale_ = true;  // the pass ends here
    if (S == 0) return out;
    HeadArgs a;
    a.pooled = mat(pooled);
    a.S = S;
    a.H = h.H;
    if (h.dense) {
      a.hidden = reinterpret_cast<float*>(scratch(static_cast<std::size_t>(S) * h.H * 4));
      a.dense_w = static_cast<const float*>(h.dense_w.get());
      a.dense_b = static_cast<const float*>(h.dense_b.get());
    }
    a.out_w = static_cast<const float*>(h.out_w.get());
    a.out_b = static_cast<const float*>(h.out_b.get());
    a.n_out = h.n;
    a.logits = reinterpret_cast<float*>(scratch(static_cast<std::size_t>(S) * 4));
    dev_->head(a);
    if (logits_cap_ < static_cast<std::size_t>(S)) {
      if (logits_host_) dev_->release_host(logits_host_);
      logits_cap_ = std::max<std::size_t>(S, 1024);
      logits_host_ = static_cast<float*>(dev_->alloc_host(logits_cap_ * 4));
    }
    dev_->download_async(logits_host_, a.logits, static_cast<std::size_t>(S) * 4);
    dev_->synchronize();  // the pass's one host wait
    upload_pending_ = false;
    std::memcpy(out.data(), logits_host_, static_cast<std::size_t>(S) * 4);
    return out;
  }

  void do_write(Act& a, const std::vector<float>& host) override {
    const Mat m = mat(a);
    const std::size_t eb = elem_bytes(m.t), row = static_cast<std::size_t>(a.cols) * eb;
    std::vector<unsigned char> buf(static_cast<std::size_t>(a.rows) * row);
    convert_host(host.data(), host.size(), m.t, buf.data());
    if (a.rows > 0) dev_->upload_rows(a.data, static_cast<std::size_t>(a.ld) * eb, buf.data(), row, row, a.rows);
    upload_pending_ = false;
  }
  std::vector<float> do_read(const Act& a) override {
    const Mat m = mat(a);
    const std::size_t eb = elem_bytes(m.t), row = static_cast<std::size_t>(a.cols) * eb;
    std::vector<unsigned char> buf(static_cast<std::size_t>(a.rows) * row);
    if (a.rows > 0) dev_->download_rows(buf.data(), row, a.data, static_cast<std::size_t>(a.ld) * eb, row, a.rows);
    upload_pending_ = false;
    std::vector<float> out(static_cast<std::size_t>(a.rows) * a.cols);
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = load_any(buf.data(), i, m.t);
    return out;
  }

 private:
  Elem elem_for(int rows) const { return act_elem(rows, batch().num_seqs(), dt_); }
  Mat mat(const Act& a) const { return Mat{a.data, a.ld, a.elem == 4 ? Elem::kF32 : dt_}; }
  static bool aligned16(const Mat& m) {
    return reinterpret_cast<std::uintptr_t>(m.p) % 16 == 0 && (static_cast<std::size_t>(m.ld) * elem_bytes(m.t)) % 16 == 0;
  }

  // Scratch a GEMM input needs: a copy in the compute dtype when its rows are fp32.
  std::size_t input_scratch(const Act& in) const {
    const Elem e = in.elem == 4 ? Elem::kF32 : dt_;
    return e == dt_ ? 0 : align64(static_cast<std::size_t>(in.rows) * in.cols * elem_bytes(dt_));
  }
  Mat gemm_input(const Act& in) {
    const Mat m = mat(in);
    if (m.t == dt_) return m;
    ConvertArgs c;
    c.in = m;
    c.out = Mat{scratch(static_cast<std::size_t>(in.rows) * in.cols * elem_bytes(dt_)), in.cols, dt_};
    c.rows = in.rows;
    c.cols = in.cols;
    dev_->convert(c);
    return c.out;
  }
  GemmArgs gemm_of(const CuLinear& w, const Mat& in, int rows) const {
    GemmArgs g;
    g.in = in;
    g.w = w.w.get();
    g.w_t = dt_;
    g.M = rows;
    g.N = w.N;
    g.K = w.K;
    return g;
  }
  NormArgs norm_args(const CuNorm& n, const Mat& in, const Mat& out, int rows, int cols, int group) const {
    NormArgs a;
    a.in = in;
    a.out = out;
    a.rows = rows;
    a.cols = cols;
    a.group = group;
    a.rms = n.rms;
    a.gamma = static_cast<const float*>(n.gamma.get());
    a.beta = n.has_beta ? static_cast<const float*>(n.beta.get()) : nullptr;
    a.eps = n.eps;
    return a;
  }

  void fill_norm(const NormDesc& d, CuNorm& p) {
    check(d.weight != nullptr, "norm: no weight");
    p.dim = static_cast<int>(d.weight->numel());
    p.rms = d.kind == NormKind::kRmsNorm;
    p.eps = d.eps;
    p.gamma = upload_f32(norm_weight_f32(d));
    p.has_beta = d.bias != nullptr && !p.rms;
    if (p.has_beta) {
      check(d.bias->numel() == p.dim, "norm: bias size mismatch");
      p.beta = upload_f32(values(d.bias));
    }
  }
  // A tensor's values (zeros when planning: planners never read tensor data).
  std::vector<float> values(const HostTensor* t) const {
    return planner_ ? std::vector<float>(static_cast<std::size_t>(t->numel()), 0.f) : t->f32();
  }
  DevMem upload_f32(const std::vector<float>& v) { return upload_as(v, Elem::kF32); }
  DevMem upload_as(const std::vector<float>& v, Elem e) {
    DevMem m(dev_, v.size() * elem_bytes(e));
    if (planner_) return m;
    std::vector<unsigned char> buf(v.size() * elem_bytes(e));
    convert_host(v.data(), v.size(), e, buf.data());
    dev_->upload(m.get(), buf.data(), buf.size());
    return m;
  }
  // A host tensor (any source type) into `dst` as `e`, in chunks (bounded host memory).
  void upload_tensor(const HostTensor& t, void* dst, Elem e) {
    if (planner_) return;
    const std::int64_t n = t.numel(), chunk = std::int64_t(1) << 22;
    std::vector<float> f(static_cast<std::size_t>(std::min(n, chunk)));
    std::vector<unsigned char> c(f.size() * elem_bytes(e));
    for (std::int64_t off = 0; off < n; off += chunk) {
      const std::int64_t m = std::min(chunk, n - off);
      t.to_f32(f.data(), off, m);
      convert_host(f.data(), static_cast<std::size_t>(m), e, c.data());
      dev_->upload(static_cast<char*>(dst) + static_cast<std::size_t>(off) * elem_bytes(e), c.data(),
                   static_cast<std::size_t>(m) * elem_bytes(e));
    }
  }

  // The batch metadata on the device, uploaded at the first op of a pass that needs it.
  // A pass is new after a sizing run (every *_scratch hook marks it) or a head (the end
  // of a pass), or when the batch object or its cu_seqlens differ.
  const Meta& meta() {
    const PackedBatch& b = batch();
    if (!meta_stale_ && meta_batch_ == &b && meta_ids_ == b.input_ids.data() && meta_cu_ == b.cu_seqlens)
      return meta_;
    const int T = b.total_tokens(), S = b.num_seqs();
    check(static_cast<int>(b.input_ids.size()) == T && static_cast<int>(b.position_ids.size()) == T,
          "cuda: batch ids / positions do not match cu_seqlens");
    const auto tc = attention_tiles(b.cu_seqlens, kTcTileRows);
    const auto simple = attention_tiles(b.cu_seqlens, kSimpleWarpsAll);
    const MetaLayout L = meta_layout(T, S, b.has_prefixes(), static_cast<int>(tc.size() / 2),
                                     static_cast<int>(simple.size() / 2));
    const std::size_t bytes = L.total * sizeof(std::int32_t);
    if (upload_pending_) dev_->synchronize();  // the staging buffer may still be read
    if (staging_cap_ < bytes) {
      if (staging_) dev_->release_host(staging_);
      staging_cap_ = std::max(bytes, std::size_t(1) << 16);
      staging_ = static_cast<std::int32_t*>(dev_->alloc_host(staging_cap_));
    }
    if (meta_dev_.bytes() < bytes) {
      meta_dev_.reset();
      meta_dev_ = DevMem(dev_, std::max(bytes * 2, std::size_t(1) << 16));
    }
    std::int32_t* h = staging_;
    std::memcpy(h + L.ids, b.input_ids.data(), T * 4);
    std::memcpy(h + L.pos, b.position_ids.data(), T * 4);
    if (static_cast<int>(b.token_type_ids.size()) == T) std::memcpy(h + L.types, b.token_type_ids.data(), T * 4);
    else std::fill(h + L.types, h + L.types + T, 0);
    std::memcpy(h + L.cu, b.cu_seqlens.data(), (S + 1) * 4);
    if (L.has_parent) std::memcpy(h + L.parent, b.parent.data(), S * 4);
    if (!tc.empty()) std::memcpy(h + L.tiles_tc, tc.data(), tc.size() * 4);
    if (!simple.empty()) std::memcpy(h + L.tiles_simple, simple.data(), simple.size() * 4);
    dev_->upload_async(meta_dev_.get(), h, bytes);
    upload_pending_ = true;
    const auto* d = static_cast<const std::int32_t*>(meta_dev_.get());
    meta_.ids = d + L.ids;
    meta_.pos = d + L.pos;
    meta_.types = d + L.types;
    meta_.cu = d + L.cu;
    meta_.parent = L.has_parent ? d + L.parent : nullptr;
    meta_.tiles_tc = d + L.tiles_tc;
    meta_.tiles_simple = d + L.tiles_simple;
    meta_.n_tiles_tc = L.n_tiles_tc;
    meta_.n_tiles_simple = L.n_tiles_simple;
    meta_stale_ = false;
    meta_batch_ = &b;
    meta_ids_ = b.input_ids.data();
    meta_cu_ = b.cu_seqlens;
    return meta_;
  }

  std::shared_ptr<Device> dev_;
  DType dtype_;
  Elem dt_;
  bool planner_;
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

}  // namespace

std::unique_ptr<Ops> make_cuda_ops_on(std::shared_ptr<Device> device, DType dtype) {
  check(device != nullptr, "make_cuda_ops_on: no device");
  return std::make_unique<CudaOps>(std::move(device), dtype, false);
}

std::unique_ptr<Ops> make_cuda_planner_ops(DType dtype, int sm) {
  return std::make_unique<CudaOps>(std::make_shared<PlannerDevice>(sm), dtype, true);
}

}  // namespace cuda

std::unique_ptr<Ops> make_cuda_ops(DType dtype, int device) {
  if (dtype == DType::kInt8)
    throw Error(ErrorCode::kUnsupported, "cuda backend: int8 is not implemented (use fp16, bf16 or fp32)");
  return cuda::make_cuda_ops_on(cuda::make_cuda_device(device), dtype);
}

bool cuda_available() {
  const int n = cuda::cuda_device_count();
  for (int d = 0; d < n; ++d)
    if (cuda::cuda_compute_capability(d) >= 75) return true;
  return false;
}

DeviceMemory cuda_device_memory(bool reset_peak) {
  DeviceMemory m;
  m.current = cuda::g_current.load();
  m.peak = cuda::g_peak.load();
  if (reset_peak) cuda::g_peak.store(m.current);
  return m;
}

}  // namespace crossrank
