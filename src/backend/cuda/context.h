#pragma once
// The CUDA context the backend passes explicitly down its call chain (no thread-local
// globals): device, stream, cuBLASLt handle and workspace, device properties, and the
// error checks (CROSSRANK_CUDA_CHECK / CROSSRANK_CUBLAS_CHECK throw Error with file:line).
// Host code only (compiled by the C++ compiler and by nvcc).
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <string>
#include <unordered_map>

namespace crossrank::cuda {

[[noreturn]] void throw_cuda(cudaError_t e, const char* what, const char* file, int line);
[[noreturn]] void throw_cublas(cublasStatus_t s, const char* what, const char* file, int line);

#define CROSSRANK_CUDA_CHECK(expr)                                                   \
  do {                                                                               \
    const cudaError_t cr_e_ = (expr);                                                \
    if (cr_e_ != cudaSuccess) ::crossrank::cuda::throw_cuda(cr_e_, #expr, __FILE__, __LINE__); \
  } while (0)
#define CROSSRANK_CUBLAS_CHECK(expr)                                                     \
  do {                                                                                   \
    const cublasStatus_t cr_s_ = (expr);                                                 \
    if (cr_s_ != CUBLAS_STATUS_SUCCESS) ::crossrank::cuda::throw_cublas(cr_s_, #expr, __FILE__, __LINE__); \
  } while (0)

struct CudaContext {
  // Selects `device`, creates the stream, the cuBLASLt handle and its workspace. Throws
  // Error (kUnavailable) when the device cannot be used.
  explicit CudaContext(int device);
  ~CudaContext();
  CudaContext(const CudaContext&) = delete;
  CudaContext& operator=(const CudaContext&) = delete;

  int device = 0;
  cudaStream_t stream = nullptr;
  cublasLtHandle_t lt = nullptr;
  void* workspace = nullptr;
  std::size_t workspace_bytes = 0;
  cudaDeviceProp prop{};
  int sm = 0;                  // compute capability x 10
  std::size_t max_smem = 0;    // opt-in dynamic shared memory per block
  bool sync_check = false;     // CROSSRANK_CUDA_SYNC_CHECK=1: synchronise after every launch
  std::unordered_map<const void*, std::size_t> smem_raised;  // kernel -> dynamic smem allowed
};

// After a launch: reports a launch failure (bad configuration) at `file:line` without
// synchronising; with sync_check, also waits and reports faults of the kernel itself.
void check_launch(CudaContext& ctx, const char* what, const char* file, int line);
// Raises a kernel's dynamic shared memory limit to `bytes` (once per kernel).
void allow_smem(CudaContext& ctx, const void* kernel, std::size_t bytes);

}  // namespace crossrank::cuda
