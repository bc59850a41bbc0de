// Batch-invariant GEMM launcher (--deterministic): a block per 64 x 64 output tile, fixed
// K order per output (gemm_det.cuh).
#include "backend/cuda/gemm_det.cuh"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/launch.h"

namespace crossrank::cuda {

void launch_gemm_det(const GemmArgs& a, int sm, CudaContext& ctx) {
  dispatch_gemm_det(a, sm, CudaLaunch{ctx, "gemm_det_kernel"});
}

}  // namespace crossrank::cuda
