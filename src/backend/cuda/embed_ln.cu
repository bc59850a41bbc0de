// Embedding + LayerNorm launcher. Parallelisation: a block per token, threads over the
// hidden columns, block reductions for the fp32 statistics (details in embed_ln.cuh).
#include "backend/cuda/embed_ln.cuh"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/launch.h"

namespace crossrank::cuda {

void launch_embed(const EmbedArgs& a, CudaContext& ctx) { dispatch_embed(a, CudaLaunch{ctx, "embed_kernel"}); }

}  // namespace crossrank::cuda
