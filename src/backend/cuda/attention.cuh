#pragma once
// Varlen attention: the path CudaOps chose (plan.h choose_attention_path) picks the kernel.
#include "backend/cuda/attention_simple.cuh"
#include "backend/cuda/attention_tc.cuh"

namespace crossrank::cuda {
inline namespace CR_KERNEL_NS {

template <class L>
void dispatch_attention(const AttnArgs& a, L&& launch) {
  if (a.path == AttnPath::kTensor) dispatch_attention_tc(a, launch);
  else dispatch_attention_simple(a, launch);
}

}  // namespace CR_KERNEL_NS
}  // namespace crossrank::cuda
