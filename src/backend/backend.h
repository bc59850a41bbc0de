#pragma once
// Model-level backend seam (as in TEI): a backend scores one packed variable-length
// batch. Every optimised backend is tested against the fp32 reference backend.
#include <cstddef>
#include <memory>
#include <vector>

#include "batch/packed_batch.h"
#include "crossrank/crossrank.h"
#include "model/weights.h"

namespace crossrank {

class Backend {
 public:
  virtual ~Backend() = default;
  // One raw fp32 logit per sequence of `batch`, in order. May throw std::bad_alloc when
  // memory runs out (the engine then shrinks the batch and retries).
  virtual std::vector<float> forward(const PackedBatch& batch) = 0;
  // Estimated peak activation bytes of forward(batch) (used to size batches).
  virtual std::size_t activation_bytes(int total_tokens, int max_seqlen, int num_seqs) const = 0;
  virtual const char* name() const = 0;
  virtual DType dtype() const = 0;
};

// Naive, obviously-right fp32 forward pass: the oracle for every other backend.
std::unique_ptr<Backend> make_reference_backend(std::shared_ptr<const ModelWeights> weights);

// Optimised CPU backend (oneDNN GEMMs + fused kernels) in fp32, bf16 or int8.
// Throws Error if the dtype is not supported on this CPU.
std::unique_ptr<Backend> make_cpu_backend(std::shared_ptr<const ModelWeights> weights, DType dtype);

// CUDA backend; throws Error when built without CUDA or no GPU is usable.
std::unique_ptr<Backend> make_cuda_backend(std::shared_ptr<const ModelWeights> weights, DType dtype);
// True when a CUDA device is usable (false in CPU-only builds).
bool cuda_available();

}  // namespace crossrank
