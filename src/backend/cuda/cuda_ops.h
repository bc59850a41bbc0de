#pragma once
// The CUDA backend's Ops (ops.h) over a Device (device.h): the GPU (make_cuda_device), or
// the host emulator of the kernels in tests. Plain C++.
//
// Memory: parameters are uploaded once in the compute dtype (GEMM weights, embedding
// tables) or fp32 (norms, fused-epilogue biases, the head); activations live in the
// runner's device arena (Act.elem 2 for fp16 / bf16, 4 for fp32), the per-sequence rows
// always fp32 (plan.h act_elem). Each pass uploads its batch metadata (ids, positions,
// types, cu_seqlens, parents, attention tiles) once, asynchronously, at its first op that
// needs it; the only host wait of a pass is the logits' download in head().
#include <cstddef>
#include <memory>

#include "backend/cuda/device.h"
#include "backend/ops.h"

namespace crossrank::cuda {

// The CUDA ops of `dtype` (fp16, bf16 or fp32) on `device`. Throws Error (kUnsupported)
// for int8, or bf16 before sm80. deterministic: batch-invariant GEMMs (gemm_det.cuh); the
// other kernels are batch-invariant already (per row, per sequence, fixed tiling).
std::unique_ptr<Ops> make_cuda_ops_on(std::shared_ptr<Device> device, DType dtype, bool deterministic = false);
// A GPU. Throws Error (kUnavailable / kInvalidInput) when it cannot be used.
std::shared_ptr<Device> make_cuda_device(int device);
// Visible CUDA devices (0 when none or no driver), and a device's compute capability x 10.
int cuda_device_count();
int cuda_compute_capability(int device);
// Ops that only plan: every prepare_* records shapes, dry runs size passes exactly as on
// a GPU with compute capability `sm` (activation_bytes for capacity planning on any
// machine); running an op or allocating an arena throws Error.
std::unique_ptr<Ops> make_cuda_planner_ops(DType dtype, int sm = 90);

}  // namespace crossrank::cuda
