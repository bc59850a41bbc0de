#include "model/weights.h"

#include <cstring>

#include "model/architecture.h"
#include "util/error.h"
#include "util/safetensors.h"

namespace crossrank {

namespace {

constexpr std::uint64_t kGolden = 0x9E3779B97F4A7C15ull;

inline std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

}  // namespace

void synthetic_fill(const std::string& name, std::uint64_t seed, float* out, std::int64_t n) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char ch : name) h = (h ^ ch) * 0x100000001b3ull;
  h ^= mix(seed);
  float offset = 0.0f, scale = 0.0346410162f;
  // The LayerNorms of jinaai's XLM-R flash layout (scripts/synthetic_weights.py: FLASH_LN).
  const bool flash_ln_w = ends_with(name, "norm1.weight") || ends_with(name, "norm2.weight") || ends_with(name, "emb_ln.weight");
  const bool flash_ln_b = ends_with(name, "norm1.bias") || ends_with(name, "norm2.bias") || ends_with(name, "emb_ln.bias");
  if (flash_ln_w) {
    offset = 1.0f; scale = 0.1f;
  } else if (flash_ln_b) {
    scale = 0.1f;
  } else if (ends_with(name, "LayerNorm.weight") || ends_with(name, ".gamma")) {
    offset = 1.0f; scale = 0.1f;
  } else if (ends_with(name, "norm.weight")) {  // RMSNorm weights (Qwen3: *_layernorm, q/k_norm, model.norm)
    offset = 1.0f; scale = 0.1f;
  } else if (ends_with(name, "LayerNorm.bias") || ends_with(name, ".beta")) {
    scale = 0.1f;
  } else if (name == "classifier.out_proj.weight" || name == "classifier.weight") {
    scale = 1.0f;
  } else if (ends_with(name, ".bias")) {
    scale = 0.02f;
  }
  const float inv = 1.0f / 8388608.0f;  // 2^-23, exact
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) {
    const std::uint64_t x = mix(h + static_cast<std::uint64_t>(i + 1) * kGolden);
    const float r = static_cast<float>(static_cast<std::int64_t>(x >> 40) - 8388608) * inv;
    const float t = scale * r;  // separate roundings: multiply, then add (no FMA contraction)
    out[i] = offset + t;
  }
}

std::shared_ptr<TensorMap> synthetic_weights(const ModelConfig& config, std::uint64_t seed) {
  auto w = std::make_shared<TensorMap>();
  for (const TensorSpec& s : config.arch->tensors(config)) {
    if (s.optional) continue;
    int64_t n = 1;
    for (auto d : s.shape) n *= d;
    std::vector<float> buf(static_cast<size_t>(n));
    synthetic_fill(s.name, seed, buf.data(), n);
    w->add_owned(s.name, s.shape, std::move(buf));
  }
  return w;
}

std::shared_ptr<TensorMap> load_weights(const std::string& model_dir, const ModelConfig& config) {
  auto store = std::make_shared<TensorStore>(model_dir);
  auto w = std::make_shared<TensorMap>();
  for (const TensorSpec& s : config.arch->tensors(config)) {
    const TensorView* t = store->find(s.name);
    for (size_t i = 0; !t && i < s.aliases.size(); ++i) t = store->find(s.aliases[i]);
    if (!t) {
      if (s.optional) continue;
      throw Error(model_dir + "/model.safetensors: missing tensor '" + s.name + "' (needed by " +
                  config.architecture + ")");
    }
    if (t->shape != s.shape)
      throw Error(t->file + ": tensor '" + t->name + "' has shape " + shape_str(t->shape) + ", expected " +
                  shape_str(s.shape));
    HostTensor h;
    h.name = s.name;
    h.shape = s.shape;
    h.data = t->data;
    switch (t->dtype) {
      case StDType::kF32: h.type = SrcType::kF32; break;
      case StDType::kF16: h.type = SrcType::kF16; break;
      case StDType::kBF16: h.type = SrcType::kBF16; break;
      default:
        throw Error(ErrorCode::kUnsupported, t->file + ": tensor '" + t->name + "' has dtype " + t->dtype_name +
                                                 "; supported: F32, F16, BF16");
    }
    w->add_view(std::move(h), store);
  }
  return w;
}

}  // namespace crossrank
