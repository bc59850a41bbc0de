#pragma once
// The CUDA backend's ops (src/backend/cuda/cuda_ops_impl.h) over the host emulator of its
// kernels (emu.h): the very kernel source, dispatch and launch geometry, run on the CPU,
// with a plain host GEMM in place of cuBLASLt. `sm` (compute capability x 10) selects the
// attention path as on such a GPU (>= 80: tensor-core path for fp16 / bf16). Built only
// with CROSSRANK_WITH_CUDA (it needs the CUDA headers, not a GPU).
#include <memory>

#include "backend/ops.h"

namespace crossrank::cuda {

// deterministic: the batch-invariant GEMM kernel (gemm_det.cuh), emulated, for the GEMMs.
std::unique_ptr<Ops> make_cuda_emu_ops(DType dtype, int sm = 80, bool deterministic = false);

}  // namespace crossrank::cuda
