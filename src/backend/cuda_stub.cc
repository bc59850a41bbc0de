// CUDA entry points for builds without CUDA: report clearly instead of failing to link.
#ifndef CROSSRANK_WITH_CUDA
#include "backend/backend.h"

namespace crossrank {

bool cuda_available() { return false; }

DeviceMemory cuda_device_memory(bool) { return {}; }

std::unique_ptr<Ops> make_cuda_ops(DType, int, bool) {
  throw Error(ErrorCode::kUnsupported,
              "this build of crossrank has no CUDA backend (configure with -DCROSSRANK_WITH_CUDA=ON)");
}

}  // namespace crossrank
#endif
