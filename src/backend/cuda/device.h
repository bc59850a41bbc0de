#pragma once
// What the CUDA ops (cuda_ops_impl.h) need from a device: memory, stream-ordered copies, the
// GEMM and the fused kernels of kernels.h. Implemented by the GPU (cuda_device.cc: CUDA
// runtime, cuBLASLt, the .cu launchers) and, for tests on machines without a GPU, by the
// host emulator (tests/cuda_emu/), which runs the very same kernel source. Plain C++.
//
// Ordering: every call after the first is ordered after the previous ones (one stream);
// only synchronize(), upload() and the *_rows copies wait on the host.
#include <cstddef>
#include <string>

#include "backend/cuda/kernels.h"

namespace crossrank::cuda {

class Device {
 public:
  virtual ~Device() = default;

  // One line: GPU name, compute capability, memory.
  virtual std::string describe() const = 0;
  // Compute capability x 10 (75, 80, 86, 89, 90).
  virtual int sm() const = 0;
  // Opt-in dynamic shared memory per block (bytes).
  virtual std::size_t max_smem() const = 0;
  // Device memory free now (bytes).
  virtual std::size_t free_memory() const = 0;
  // Bytes the device holds for itself (e.g. the cuBLASLt workspace).
  virtual std::size_t reserved_bytes() const { return 0; }

  // Device memory, 256-byte aligned. Throws std::bad_alloc when the device is out of memory.
  virtual void* alloc(std::size_t bytes) = 0;
  virtual void release(void* p) = 0;
  // Page-locked host memory for asynchronous copies.
  virtual void* alloc_host(std::size_t bytes) = 0;
  virtual void release_host(void* p) = 0;

  // Host -> device, waits until done (any host memory; parameter uploads).
  virtual void upload(void* dst, const void* src, std::size_t bytes) = 0;
  // Stream-ordered copies from / to page-locked host memory (alloc_host).
  virtual void upload_async(void* dst, const void* pinned_src, std::size_t bytes) = 0;
  virtual void download_async(void* pinned_dst, const void* src, std::size_t bytes) = 0;
  // Strided row copies (width bytes per row), waiting until done (tests, debugging).
  virtual void upload_rows(void* dst, std::size_t dpitch, const void* src, std::size_t spitch, std::size_t width,
                           std::size_t rows) = 0;
  virtual void download_rows(void* dst, std::size_t dpitch, const void* src, std::size_t spitch, std::size_t width,
                             std::size_t rows) = 0;
  // Waits until everything issued so far has finished.
  virtual void synchronize() = 0;

  // ---- compute ----
  virtual void gemm(const GemmArgs& a) = 0;
  virtual void embed(const EmbedArgs& a) = 0;
  virtual void norm(const NormArgs& a) = 0;
  virtual void bias_act(const BiasActArgs& a) = 0;
  virtual void rope(const RopeArgs& a) = 0;
  virtual void attention(const AttnArgs& a) = 0;
  virtual void gather(const GatherArgs& a) = 0;
  virtual void head(const HeadArgs& a) = 0;
  virtual void convert(const ConvertArgs& a) = 0;
};

}  // namespace crossrank::cuda
