#pragma once
// Loading a model's tensors into a TensorMap (source dtype kept), from a Hugging Face
// folder's safetensors or from the seeded synthetic generator. The tensor table comes
// from the family (Architecture::tensors), so this file knows no family.
#include <cstdint>
#include <memory>
#include <string>

#include "model/config.h"
#include "model/tensors.h"

namespace crossrank {

// Loads every tensor `config`'s family lists from `model_dir` (model.safetensors or a
// sharded index), accepting each tensor's aliases (e.g. without the "roberta." prefix,
// LayerNorm gamma/beta). Checks every shape; throws Error naming the tensor, the file,
// and expected vs found. F32, F16 and BF16 are kept as stored (mmap'd, zero-copy).
std::shared_ptr<TensorMap> load_weights(const std::string& model_dir, const ModelConfig& config);

// Seeded random weights with the family's tensor names; the generator is specified in
// scripts/synthetic_weights.py and is bit-identical to it.
std::shared_ptr<TensorMap> synthetic_weights(const ModelConfig& config, std::uint64_t seed);

// The value generator itself (exposed for tests): fills n values of tensor `name`.
void synthetic_fill(const std::string& name, std::uint64_t seed, float* out, std::int64_t n);

}  // namespace crossrank
