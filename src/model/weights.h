#pragma once
// fp32 weights of a single-logit cross-encoder, in Hugging Face layout (Linear weight is
// [out, in], y = x W^T + b). The XLM-R head (classifier.dense -> tanh -> out_proj on <s>)
// and the BERT head (pooler.dense -> tanh -> classifier on [CLS]) are the same
// computation, so both fill head_dense_* / head_out_*.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/config.h"

namespace crossrank {

class TensorStore;

struct LayerWeights {
  const float *q_w, *q_b, *k_w, *k_b, *v_w, *v_b;  // [H,H], [H]
  const float *attn_out_w, *attn_out_b;            // [H,H], [H]
  const float *ln1_g, *ln1_b;                      // [H]
  const float *inter_w, *inter_b;                  // [I,H], [I]
  const float *out_w, *out_b;                      // [H,I], [H]
  const float *ln2_g, *ln2_b;                      // [H]
};

struct ModelWeights {
  ModelConfig config;
  const float* word_emb = nullptr;  // [V,H]
  const float* pos_emb = nullptr;   // [P,H]
  const float* type_emb = nullptr;  // [T,H]
  const float *emb_ln_g = nullptr, *emb_ln_b = nullptr;
  std::vector<LayerWeights> layers;
  const float *head_dense_w = nullptr, *head_dense_b = nullptr;  // [H,H], [H]
  const float *head_out_w = nullptr, *head_out_b = nullptr;      // [1,H], [1]

  std::vector<std::vector<float>> owned;  // converted (F16/BF16/unaligned) or synthetic data
  std::shared_ptr<TensorStore> store;     // keeps the mmap alive for F32 tensors
};

// Loads weights from a model folder's safetensors (names with or without the
// "roberta."/"bert." prefix; LayerNorm gamma/beta accepted). Checks every shape against
// `config`; throws Error naming the tensor, the file, and expected vs found.
std::shared_ptr<ModelWeights> load_weights(const std::string& model_dir, const ModelConfig& config);

// Seeded random weights with the HF tensor names of `config`'s architecture; the generator
// is specified in scripts/synthetic_weights.py and is bit-identical to it.
std::shared_ptr<ModelWeights> synthetic_weights(const ModelConfig& config, std::uint64_t seed);

// Frees the six per-layer Linear weight matrices (q, k, v, attention output, FFN in/out;
// ~95% of an encoder's bytes outside the embeddings) and nulls their pointers: owned
// buffers are released, mmap'd pages dropped with madvise(MADV_DONTNEED). For a backend
// that has made its own packed copies. Why: v2-m3 fp32 held 3.4 GB resident with both
// copies, against 2.27 GB of weights; 2.18 GB after this. Returns the bytes released.
std::size_t release_layer_linears(ModelWeights& w);

// The value generator itself (exposed for tests): fills n values of tensor `name`.
void synthetic_fill(const std::string& name, std::uint64_t seed, float* out, std::int64_t n);

}  // namespace crossrank
