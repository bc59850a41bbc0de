#pragma once
// Model-level backend seam (as in TEI): a backend scores one packed variable-length
// batch. It is implemented once, by the runner (runner.cc), over a model (written once
// per family over the op interface) and one backend's Ops (ref, cpu, cuda).
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "backend/ops.h"
#include "batch/packed_batch.h"
#include "crossrank/crossrank.h"
#include "model/config.h"
#include "model/tensors.h"

namespace crossrank {

class Backend {
 public:
  virtual ~Backend() = default;
  // One raw fp32 logit per packed pair of `batch` (PackedBatch::pair_seq order), in
  // order. Throws std::bad_alloc when memory runs out (the batch policy then shrinks the
  // batch and retries). Serialised: one pass at a time.
  virtual std::vector<float> forward(const PackedBatch& batch) = 0;
  // Peak activation bytes of forward() over such a batch (arena + library workspaces).
  virtual std::size_t activation_bytes(int total_tokens, int max_seqlen, int num_seqs) const = 0;
  virtual const char* name() const = 0;
  virtual DType dtype() const = 0;
  virtual OpsCaps caps() const = 0;
  virtual std::string describe() const = 0;
  virtual Int8Facts int8_facts() const = 0;  // Ops::int8_facts
  // Bytes of the activation arena the last forward() used.
  virtual std::size_t last_arena_bytes() const = 0;
  // The ops (tests and benchmarks reach backend-specific introspection through it).
  virtual Ops& ops() = 0;
};

struct RunnerOptions {
  bool last_layer_shortcut = true;  // see BuildOptions (src/model/architecture.h)
  // A batch of representative pairs for ops that want calibration (Ops::wants_calibration);
  // null: none (those ops then run uncalibrated).
  std::shared_ptr<const PackedBatch> calibration;
};

// The runner: builds `config`'s model on `ops` from `tensors` and serves passes. `tensors`
// must stay alive while the backend is (backends may read them zero-copy).
std::unique_ptr<Backend> make_backend(std::unique_ptr<Ops> ops, const ModelConfig& config,
                                      std::shared_ptr<const TensorMap> tensors, const RunnerOptions& opts = {});

// The ops of each backend.
// Naive, obviously-right fp32 ops: the oracle for every other backend, op by op.
std::unique_ptr<Ops> make_reference_ops();
// Optimised CPU ops (oneDNN GEMMs + fused kernels) in fp32, bf16 or int8; throws Error
// (kUnsupported) for fp16. deterministic: batch-invariant kernels (EngineOptions).
std::unique_ptr<Ops> make_cpu_ops(DType dtype, bool deterministic = false);
// CUDA ops on device `device`; throws Error when built without CUDA or no GPU is usable.
// deterministic: batch-invariant GEMMs (fixed K order per output; src/backend/cuda/gemm_det.cuh).
std::unique_ptr<Ops> make_cuda_ops(DType dtype, int device = 0, bool deterministic = false);
// True when a CUDA device is usable (false in CPU-only builds).
bool cuda_available();
// Device memory the CUDA backend holds (weights, arenas, workspaces) now and at most since
// the last reset (bytes; zeros in CPU-only builds). reset_peak: restart the peak from now.
struct DeviceMemory {
  std::size_t current = 0, peak = 0;
};
DeviceMemory cuda_device_memory(bool reset_peak = false);

// Shorthands: the runner over a backend's ops.
std::unique_ptr<Backend> make_reference_backend(const ModelConfig& config, std::shared_ptr<const TensorMap> tensors);
std::unique_ptr<Backend> make_cpu_backend(const ModelConfig& config, std::shared_ptr<const TensorMap> tensors,
                                          DType dtype);

}  // namespace crossrank
