#include "backend/cuda/context.h"

#include <cstdlib>
#include <cstring>

#include "util/error.h"

namespace crossrank::cuda {

void throw_cuda(cudaError_t e, const char* what, const char* file, int line) {
  const char* base = std::strrchr(file, '/');
  std::string msg = std::string(base ? base + 1 : file) + ":" + std::to_string(line) + ": " + what + ": " +
                    cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
  if (e == cudaErrorMemoryAllocation) throw Error(ErrorCode::kOutOfMemory, "CUDA out of memory: " + msg);
  throw Error(ErrorCode::kInternal, "CUDA error: " + msg);
}

void throw_cublas(cublasStatus_t s, const char* what, const char* file, int line) {
  const char* base = std::strrchr(file, '/');
  throw Error(ErrorCode::kInternal, std::string("cuBLASLt error: ") + (base ? base + 1 : file) + ":" +
                                        std::to_string(line) + ": " + what + ": status " + std::to_string(int(s)));
}

CudaContext::CudaContext(int dev) : device(dev) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    cudaGetLastError();
    throw Error(ErrorCode::kUnavailable, "cuda: no CUDA device is visible");
  }
  if (dev < 0 || dev >= n)
    throw Error(ErrorCode::kInvalidInput,
                "cuda: device " + std::to_string(dev) + " does not exist (" + std::to_string(n) + " visible)");
  CROSSRANK_CUDA_CHECK(cudaSetDevice(dev));
  CROSSRANK_CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
  sm = prop.major * 10 + prop.minor;
  if (sm < 75)
    throw Error(ErrorCode::kUnsupported, std::string("cuda: ") + prop.name + " (sm_" + std::to_string(sm) +
                                             ") is older than sm_75 (Turing), the oldest GPU this build supports");
  max_smem = prop.sharedMemPerBlockOptin;
  CROSSRANK_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  CROSSRANK_CUBLAS_CHECK(cublasLtCreate(&lt));
  // 32 MiB: cuBLASLt's recommendation for Hopper; 4 MiB is enough before it.
  workspace_bytes = sm >= 90 ? (std::size_t(32) << 20) : (std::size_t(4) << 20);
  CROSSRANK_CUDA_CHECK(cudaMalloc(&workspace, workspace_bytes));
  const char* env = std::getenv("CROSSRANK_CUDA_SYNC_CHECK");
  sync_check = env && std::strcmp(env, "0") != 0;
}

CudaContext::~CudaContext() {
  cudaSetDevice(device);
  if (stream) cudaStreamSynchronize(stream);
  if (workspace) cudaFree(workspace);
  if (lt) cublasLtDestroy(lt);
  if (stream) cudaStreamDestroy(stream);
}

void check_launch(CudaContext& ctx, const char* what, const char* file, int line) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw_cuda(e, what, file, line);
  if (ctx.sync_check) {
    const cudaError_t s = cudaStreamSynchronize(ctx.stream);
    if (s != cudaSuccess) throw_cuda(s, what, file, line);
  }
}

void allow_smem(CudaContext& ctx, const void* kernel, std::size_t bytes) {
  auto it = ctx.smem_raised.find(kernel);
  if (it != ctx.smem_raised.end() && it->second >= bytes) return;
  if (bytes > ctx.max_smem)
    throw Error(ErrorCode::kUnsupported, "cuda: a kernel needs " + std::to_string(bytes) +
                                             " bytes of shared memory; this GPU allows " + std::to_string(ctx.max_smem));
  CROSSRANK_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
  ctx.smem_raised[kernel] = bytes;
}

}  // namespace crossrank::cuda
