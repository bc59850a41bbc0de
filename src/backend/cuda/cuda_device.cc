// The GPU behind the Device interface: CUDA runtime memory and copies on one stream,
// cuBLASLt GEMMs (gemm_lt.cc) and the fused kernels (the .cu launchers).
#include <cuda_runtime.h>

#include <new>

#include "backend/cuda/context.h"
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/device.h"
#include "backend/cuda/gemm_lt.h"
#include "backend/cuda/launch.h"
#include "util/error.h"

namespace crossrank::cuda {
namespace {

class CudaDevice final : public Device {
 public:
  explicit CudaDevice(int device) : ctx_(device), gemm_(ctx_) {}

  std::string describe() const override {
    return std::string(ctx_.prop.name) + " (sm_" + std::to_string(ctx_.sm) + ", " +
           std::to_string(ctx_.prop.totalGlobalMem >> 20) + " MiB, device " + std::to_string(ctx_.device) + ")";
  }
  int sm() const override { return ctx_.sm; }
  std::size_t max_smem() const override { return ctx_.max_smem; }
  std::size_t free_memory() const override {
    use();
    std::size_t free = 0, total = 0;
    CROSSRANK_CUDA_CHECK(cudaMemGetInfo(&free, &total));
    return free;
  }
  std::size_t reserved_bytes() const override { return ctx_.workspace_bytes; }

  void* alloc(std::size_t bytes) override {
    use();
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, bytes);
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // clear the sticky-free error
      throw std::bad_alloc();
    }
    CROSSRANK_CUDA_CHECK(e);
    return p;
  }
  void release(void* p) override {
    if (!p) return;
    use();
    cudaFree(p);
  }
  void* alloc_host(std::size_t bytes) override {
    use();
    void* p = nullptr;
    CROSSRANK_CUDA_CHECK(cudaHostAlloc(&p, bytes, cudaHostAllocDefault));
    return p;
  }
  void release_host(void* p) override {
    if (p) cudaFreeHost(p);
  }

  void upload(void* dst, const void* src, std::size_t bytes) override {
    use();
    CROSSRANK_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx_.stream));
    CROSSRANK_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
  }
  void upload_async(void* dst, const void* src, std::size_t bytes) override {
    use();
    CROSSRANK_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx_.stream));
  }
  void download_async(void* dst, const void* src, std::size_t bytes) override {
    use();
    CROSSRANK_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx_.stream));
  }
  void upload_rows(void* dst, std::size_t dpitch, const void* src, std::size_t spitch, std::size_t width,
                   std::size_t rows) override {
    use();
    CROSSRANK_CUDA_CHECK(cudaMemcpy2DAsync(dst, dpitch, src, spitch, width, rows, cudaMemcpyHostToDevice, ctx_.stream));
    CROSSRANK_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
  }
  void download_rows(void* dst, std::size_t dpitch, const void* src, std::size_t spitch, std::size_t width,
                     std::size_t rows) override {
    use();
    CROSSRANK_CUDA_CHECK(cudaMemcpy2DAsync(dst, dpitch, src, spitch, width, rows, cudaMemcpyDeviceToHost, ctx_.stream));
    CROSSRANK_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
  }
  void synchronize() override {
    use();
    CROSSRANK_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
  }

  void gemm(const GemmArgs& a) override {
    use();
    if (a.invariant) launch_gemm_det(a, ctx_.sm, ctx_);
    else gemm_.run(a);
  }
  void embed(const EmbedArgs& a) override {
    use();
    launch_embed(a, ctx_);
  }
  void norm(const NormArgs& a) override {
    use();
    launch_norm(a, ctx_);
  }
  void bias_act(const BiasActArgs& a) override {
    use();
    launch_bias_act(a, ctx_);
  }
  void rope(const RopeArgs& a) override {
    use();
    launch_rope(a, ctx_);
  }
  void attention(const AttnArgs& a) override {
    use();
    if (a.path == AttnPath::kTensor) launch_attention_tc(a, ctx_);
    else launch_attention_simple(a, ctx_);
  }
  void gather(const GatherArgs& a) override {
    use();
    launch_gather(a, ctx_);
  }
  void head(const HeadArgs& a) override {
    use();
    launch_head(a, ctx_);
  }
  void convert(const ConvertArgs& a) override {
    use();
    launch_convert(a, ctx_);
  }

 private:
  // The CUDA device is per host thread; passes may run on any thread.
  void use() const { CROSSRANK_CUDA_CHECK(cudaSetDevice(ctx_.device)); }

  mutable CudaContext ctx_;
  GemmLt gemm_;
};

}  // namespace

std::shared_ptr<Device> make_cuda_device(int device) { return std::make_shared<CudaDevice>(device); }

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

int cuda_compute_capability(int device) {
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, device) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return p.major * 10 + p.minor;
}

}  // namespace crossrank::cuda
