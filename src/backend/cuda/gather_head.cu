// Gather / convert / classifier-head launchers. Parallelisation: gather a block per output
// row; convert grid-stride; head a warp per output feature, then a block per sequence
// (gather_head.cuh).
#include "backend/cuda/gather_head.cuh"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/launch.h"

namespace crossrank::cuda {

void launch_gather(const GatherArgs& a, CudaContext& ctx) { dispatch_gather(a, CudaLaunch{ctx, "gather_kernel"}); }
void launch_convert(const ConvertArgs& a, CudaContext& ctx) { dispatch_convert(a, CudaLaunch{ctx, "convert_kernel"}); }
void launch_head(const HeadArgs& a, CudaContext& ctx) { dispatch_head(a, CudaLaunch{ctx, "head_kernel"}); }

}  // namespace crossrank::cuda
