// Placeholder until the optimised CPU backend lands: fp32 falls back to the reference.
#include "backend/backend.h"

namespace crossrank {

std::unique_ptr<Backend> make_cpu_backend(std::shared_ptr<const ModelWeights> weights, DType dtype) {
  if (dtype != DType::kFp32) throw Error(std::string("dtype ") + to_string(dtype) + " not supported yet on CPU");
  return make_reference_backend(std::move(weights));
}

}  // namespace crossrank
