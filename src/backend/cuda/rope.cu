// Rotary embedding launcher. Parallelisation: grid-stride over (token, head, pair) triples,
// a thread rotates one feature pair (rope.cuh).
#include "backend/cuda/rope.cuh"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/launch.h"

namespace crossrank::cuda {

void launch_rope(const RopeArgs& a, CudaContext& ctx) { dispatch_rope(a, CudaLaunch{ctx, "rope_kernel"}); }

}  // namespace crossrank::cuda
