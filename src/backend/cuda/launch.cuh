#pragma once
// The launch adapter the .cu files hand to the dispatch_<op> functions of the .cuh
// files: raises the dynamic shared memory limit when needed, launches on the context's
// stream, checks the launch. nvcc only.
#include "backend/cuda/context.h"
#include "backend/cuda/plan.h"

namespace crossrank::cuda {

struct CudaLaunch {
  CudaContext& ctx;
  const char* what;
  template <class A>
  void operator()(void (*kernel)(A), const Geom& g, const A& a) const {
    if (g.smem > kDefaultSmem) allow_smem(ctx, reinterpret_cast<const void*>(kernel), g.smem);
    kernel<<<dim3(g.gx, g.gy), dim3(g.threads), g.smem, ctx.stream>>>(a);
    check_launch(ctx, what, __FILE__, __LINE__);
  }
};

}  // namespace crossrank::cuda
