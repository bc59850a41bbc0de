// Varlen attention launcher, simple path. Parallelisation: a block per (query tile, head),
// a warp per query row, a lane per key of each 32-key chunk streamed through shared
// memory with an online softmax (attention_simple.cuh).
#include "backend/cuda/attention_simple.cuh"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/launch.h"

namespace crossrank::cuda {

void launch_attention_simple(const AttnArgs& a, CudaContext& ctx) {
  dispatch_attention_simple(a, CudaLaunch{ctx, "attn_simple_kernel"});
}

}  // namespace crossrank::cuda
