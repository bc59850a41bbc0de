// Varlen attention launcher, tensor-core path. Parallelisation: a block per (64-row query
// tile, head), 4 warps of 16 query rows, 64-key K/V tiles in shared memory, wmma for
// Q K^T and P V, lane pairs per row for the online softmax (attention_tc.cuh).
#include "backend/cuda/attention_tc.cuh"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/launch.h"

namespace crossrank::cuda {

void launch_attention_tc(const AttnArgs& a, CudaContext& ctx) {
  dispatch_attention_tc(a, CudaLaunch{ctx, "attn_tc_kernel"});
}

}  // namespace crossrank::cuda
