#pragma once
// Host launchers of the fused kernels (one per .cu file), on the context's stream. Each
// checks the launch (check_launch) and throws Error on failure. Plain C++ declarations.
#include "backend/cuda/kernels.h"

namespace crossrank::cuda {

struct CudaContext;

void launch_embed(const EmbedArgs& a, CudaContext& ctx);          // embed_ln.cu
void launch_norm(const NormArgs& a, CudaContext& ctx);            // norm.cu
void launch_bias_act(const BiasActArgs& a, CudaContext& ctx);     // bias_act.cu
void launch_rope(const RopeArgs& a, CudaContext& ctx);            // rope.cu
void launch_attention_simple(const AttnArgs& a, CudaContext& ctx);  // attention_simple.cu
void launch_attention_tc(const AttnArgs& a, CudaContext& ctx);      // attention_tc.cu
void launch_gather(const GatherArgs& a, CudaContext& ctx);        // gather_head.cu
void launch_convert(const ConvertArgs& a, CudaContext& ctx);      // gather_head.cu
void launch_head(const HeadArgs& a, CudaContext& ctx);            // gather_head.cu
void launch_gemm_det(const GemmArgs& a, int sm, CudaContext& ctx);  // gemm_det.cu (GemmArgs::invariant)

}  // namespace crossrank::cuda
