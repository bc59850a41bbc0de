// Norm / residual + bias + norm launcher. Parallelisation: a block per (row, group),
// threads over the group's columns, block reductions for fp32 statistics (norm.cuh).
#include "backend/cuda/norm.cuh"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/launch.h"

namespace crossrank::cuda {

void launch_norm(const NormArgs& a, CudaContext& ctx) { dispatch_norm(a, CudaLaunch{ctx, "norm_kernel"}); }

}  // namespace crossrank::cuda
