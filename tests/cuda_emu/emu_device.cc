// The emulated device behind make_cuda_emu_ops (emu_ops.h): host memory, synchronous
// copies, a host GEMM with the cuBLASLt contract of kernels.h GemmArgs (fp32
// accumulation, + beta C + bias, rounded once to the output type), and every fused
// kernel through its dispatch_<op> function and the fiber emulator.
#include "cuda_emu/emu.h"  // first: defines the CUDA builtins the kernels use

#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "backend/cuda/attention.cuh"
#include "backend/cuda/bias_act.cuh"
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/device.h"
#include "backend/cuda/embed_ln.cuh"
#include "backend/cuda/gather_head.cuh"
#include "backend/cuda/gemm_det.cuh"
#include "backend/cuda/norm.cuh"
#include "backend/cuda/rope.cuh"
#include "cuda_emu/emu_ops.h"
#include "util/error.h"

namespace crossrank::cuda {
namespace {

class EmuDevice final : public Device {
 public:
  explicit EmuDevice(int sm) : sm_(sm) {}
  std::string describe() const override { return "host emulator (sm_" + std::to_string(sm_) + ")"; }
  int sm() const override { return sm_; }
  std::size_t max_smem() const override { return sm_ >= 90 ? 227 * 1024 : sm_ >= 80 ? 163 * 1024 : 64 * 1024; }
  std::size_t free_memory() const override { return std::size_t(1) << 30; }

  void* alloc(std::size_t bytes) override {
    void* p = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
    if (!p) throw std::bad_alloc();
    return p;
  }
  void release(void* p) override { std::free(p); }
  void* alloc_host(std::size_t bytes) override { return alloc(bytes); }
  void release_host(void* p) override { std::free(p); }
  void upload(void* dst, const void* src, std::size_t bytes) override { std::memcpy(dst, src, bytes); }
  void upload_async(void* dst, const void* src, std::size_t bytes) override { std::memcpy(dst, src, bytes); }
  void download_async(void* dst, const void* src, std::size_t bytes) override { std::memcpy(dst, src, bytes); }
  void upload_rows(void* dst, std::size_t dp, const void* src, std::size_t sp, std::size_t w, std::size_t rows) override {
    for (std::size_t r = 0; r < rows; ++r) std::memcpy(static_cast<char*>(dst) + r * dp, static_cast<const char*>(src) + r * sp, w);
  }
  void download_rows(void* dst, std::size_t dp, const void* src, std::size_t sp, std::size_t w, std::size_t rows) override {
    upload_rows(dst, dp, src, sp, w, rows);
  }
  void synchronize() override {}

  void gemm(const GemmArgs& g) override {
    if (g.invariant) return dispatch_gemm_det(g, sm_, launch_);  // the kernel source itself
    check(g.in.t == g.w_t, "emu gemm: input and weight types differ");
    // Operands as fp32 (exact for fp16 / bf16), then fp32 dot products.
    std::vector<float> w(static_cast<std::size_t>(g.N) * g.K), x(static_cast<std::size_t>(g.M) * g.K);
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = load_any(g.w, i, g.w_t);
    for (int m = 0; m < g.M; ++m)
      for (int k = 0; k < g.K; ++k)
        x[static_cast<std::size_t>(m) * g.K + k] = load_any(g.in.p, static_cast<std::size_t>(m) * g.in.ld + k, g.in.t);
#pragma omp parallel for schedule(static)
    for (int m = 0; m < g.M; ++m) {
      const float* xr = x.data() + static_cast<std::size_t>(m) * g.K;
      for (int n = 0; n < g.N; ++n) {
        const float* wr = w.data() + static_cast<std::size_t>(n) * g.K;
        float acc = 0.f;
#pragma omp simd reduction(+ : acc)
        for (int k = 0; k < g.K; ++k) acc += wr[k] * xr[k];
        const std::size_t o = static_cast<std::size_t>(m) * g.out.ld + n;
        if (g.accumulate) acc += load_any(g.out.p, o, g.out.t);
        if (g.bias) acc += load_any(g.bias, n, g.out.t);
        store_any(g.out.p, o, g.out.t, acc);
      }
    }
  }
  void embed(const EmbedArgs& a) override { dispatch_embed(a, launch_); }
  void norm(const NormArgs& a) override { dispatch_norm(a, launch_); }
  void bias_act(const BiasActArgs& a) override { dispatch_bias_act(a, launch_); }
  void rope(const RopeArgs& a) override { dispatch_rope(a, launch_); }
  void attention(const AttnArgs& a) override { dispatch_attention(a, launch_); }
  void gather(const GatherArgs& a) override { dispatch_gather(a, launch_); }
  void head(const HeadArgs& a) override { dispatch_head(a, launch_); }
  void convert(const ConvertArgs& a) override { dispatch_convert(a, launch_); }

 private:
  struct Launch {
    const EmuDevice* dev;
    template <class A>
    void operator()(void (*kernel)(A), const Geom& g, const A& a) const {
      check(g.threads >= 1 && g.threads <= 1024, "emu: bad block size");
      check(g.smem <= dev->max_smem(), "emu: kernel needs more shared memory than the emulated GPU has");
      emu::launch(emu::Dim{g.gx, g.gy, 1}, emu::Dim{g.threads, 1, 1}, g.smem, kernel, a);
      ++launches;
    }
    mutable long launches = 0;
  };
  int sm_;
  Launch launch_{this};
};

}  // namespace

std::unique_ptr<Ops> make_cuda_emu_ops(DType dtype, int sm, bool deterministic) {
  return make_cuda_ops_on(std::make_shared<EmuDevice>(sm), dtype, deterministic);
}

}  // namespace crossrank::cuda
