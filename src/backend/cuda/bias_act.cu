// Bias + GELU(erf) / SwiGLU launcher. Parallelisation: grid-stride over output elements,
// one per thread per step (bias_act.cuh).
#include "backend/cuda/bias_act.cuh"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/launch.h"

namespace crossrank::cuda {

void launch_bias_act(const BiasActArgs& a, CudaContext& ctx) { dispatch_bias_act(a, CudaLaunch{ctx, "bias_act_kernel"}); }

}  // namespace crossrank::cuda
