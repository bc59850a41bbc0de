// CudaOps (cuda_ops_impl.h): construction, parameter upload, the arena, the per-pass batch
// metadata, the planner device and the factories; the ops are in cuda_ops_run.cc.
#include "backend/cuda/cuda_ops_impl.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>

#include "backend/backend.h"
#include "util/error.h"

namespace crossrank {
namespace cuda {
namespace {

// Device memory of the process (weights, arenas, metadata, library workspaces).
std::atomic<std::size_t> g_current{0}, g_peak{0};

}  // namespace

void count_alloc(std::size_t bytes) {
  const std::size_t now = g_current.fetch_add(bytes) + bytes;
  std::size_t peak = g_peak.load();
  while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
  }
}
void count_free(std::size_t bytes) { g_current.fetch_sub(bytes); }

namespace {

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

}  // namespace

CudaOps::CudaOps(std::shared_ptr<Device> dev, DType dtype, bool planner, bool deterministic)
    : dev_(std::move(dev)), dtype_(dtype), dt_(elem_of(dtype)), planner_(planner), deterministic_(deterministic) {
  if (dtype == DType::kInt8)
    throw Error(ErrorCode::kUnsupported, "cuda backend: int8 is not implemented (use fp16, bf16 or fp32)");
  if (dtype == DType::kBf16 && dev_->sm() < 80)
    throw Error(ErrorCode::kUnsupported, "cuda backend: bf16 needs sm_80 or newer (this GPU is sm_" +
                                             std::to_string(dev_->sm()) + "); use fp16");
  describe_ = std::string("cuda ") + to_string(dtype) + ": " + dev_->describe() +
              (deterministic ? ", batch-invariant GEMMs (fixed K order" : ", cuBLASLt GEMMs (fp32 accumulate") +
              (dtype == DType::kFp32 ? ", no TF32" : "") + "), attention: " + (dev_->sm() >= 80 && dtype != DType::kFp32 ? "tensor cores (wmma)" : "simple");
  reserved_ = dev_->reserved_bytes();
  count_alloc(reserved_);
}

OpsCaps CudaOps::caps() const {
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

ParamPtr CudaOps::do_prepare_linear(const LinearDesc& d) {
  check(!d.weights.empty(), "linear '" + d.name + "': no weights");
  auto p = std::make_unique<CuLinear>();
  p->K = static_cast<int>(d.weights[0]->cols());
  for (const HostTensor* t : d.weights) {
    check(t->cols() == p->K, "linear '" + d.name + "': blocks differ in K");
    p->N += static_cast<int>(t->rows());
  }
  check(!epilogue_parts(d.epilogue).glu || p->N % 2 == 0, "linear '" + d.name + "': a gated epilogue needs an even N");
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

ParamPtr CudaOps::prepare_embedding(const EmbedDesc& d) {
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

ParamPtr CudaOps::prepare_head(const HeadDesc& d) {
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

char* CudaOps::allocate_arena(std::size_t bytes) {
  if (planner_) throw Error(ErrorCode::kUnsupported, "cuda planner ops cannot allocate an arena");
  // Testing aid: CROSSRANK_CUDA_ARENA_LIMIT_MB makes larger arenas fail as out-of-memory
  // (the engine's x3/4 back-off, on a GPU of any size).
  if (const char* e = std::getenv("CROSSRANK_CUDA_ARENA_LIMIT_MB"); e && *e)
    if (bytes > (static_cast<std::size_t>(std::strtoull(e, nullptr, 10)) << 20)) throw std::bad_alloc();
  char* p = static_cast<char*>(dev_->alloc(bytes));  // std::bad_alloc when out of memory
  count_alloc(bytes);
  return p;
}

void CudaOps::fill_norm(const NormDesc& d, CuNorm& p) {
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

DevMem CudaOps::upload_as(const std::vector<float>& v, Elem e) {
  DevMem m(dev_, v.size() * elem_bytes(e));
  if (planner_) return m;
  std::vector<unsigned char> buf(v.size() * elem_bytes(e));
  convert_host(v.data(), v.size(), e, buf.data());
  dev_->upload(m.get(), buf.data(), buf.size());
  return m;
}

void CudaOps::upload_tensor(const HostTensor& t, void* dst, Elem e) {
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

const Meta& CudaOps::meta() {
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

std::unique_ptr<Ops> make_cuda_ops_on(std::shared_ptr<Device> device, DType dtype, bool deterministic) {
  check(device != nullptr, "make_cuda_ops_on: no device");
  return std::make_unique<CudaOps>(std::move(device), dtype, false, deterministic);
}

std::unique_ptr<Ops> make_cuda_planner_ops(DType dtype, int sm) {
  return std::make_unique<CudaOps>(std::make_shared<PlannerDevice>(sm), dtype, true);
}

}  // namespace cuda

std::unique_ptr<Ops> make_cuda_ops(DType dtype, int device, bool deterministic) {
  if (dtype == DType::kInt8)
    throw Error(ErrorCode::kUnsupported, "cuda backend: int8 is not implemented (use fp16, bf16 or fp32)");
  return cuda::make_cuda_ops_on(cuda::make_cuda_device(device), dtype, deterministic);
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
