// Engine: model loading (folder, Hugging Face id or synthetic), tokenization, length-sorted batching
// under a pair count / token / memory budget, and dispatch to a backend.
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <numeric>

#include "backend/backend.h"
#include "model/calibration.h"
#include "batch/packed_batch.h"
#include "model/architecture.h"
#include "engine/batch_policy.h"
#include "hub/hub.h"
#include "model/config.h"
#include "model/weights.h"
#include "engine/engine_internal.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_json.h"
#include "util/paths.h"
#include "util/error.h"
#include "util/log.h"

namespace crossrank {

namespace fs = std::filesystem;

DType parse_dtype(std::string_view s) {
  if (s == "fp32" || s == "float32") return DType::kFp32;
  if (s == "bf16" || s == "bfloat16") return DType::kBf16;
  if (s == "int8") return DType::kInt8;
  if (s == "fp16" || s == "float16") return DType::kFp16;
  throw Error("unknown dtype '" + std::string(s) + "' (expected fp32, bf16, int8 or fp16)");
}
BackendKind parse_backend(std::string_view s) {
  if (s == "auto") return BackendKind::kAuto;
  if (s == "ref" || s == "reference") return BackendKind::kReference;
  if (s == "cpu") return BackendKind::kCpu;
  if (s == "cuda" || s == "gpu") return BackendKind::kCuda;
  throw Error("unknown backend '" + std::string(s) + "' (expected auto, ref, cpu or cuda)");
}
LongDoc parse_long_doc(std::string_view s) {
  if (s == "truncate") return LongDoc::kTruncate;
  if (s == "chunk") return LongDoc::kChunk;
  throw Error("unknown long-doc mode '" + std::string(s) + "' (expected truncate or chunk)");
}
Truncation parse_truncation(std::string_view s) {
  if (s == "flagembedding") return Truncation::kFlagEmbedding;
  if (s == "longest_first") return Truncation::kLongestFirst;
  throw Error("unknown truncation '" + std::string(s) + "' (expected flagembedding or longest_first)");
}
const char* to_string(DType d) {
  switch (d) {
    case DType::kFp32: return "fp32";
    case DType::kBf16: return "bf16";
    case DType::kInt8: return "int8";
    case DType::kFp16: return "fp16";
  }
  return "?";
}
const char* to_string(BackendKind b) {
  switch (b) {
    case BackendKind::kAuto: return "auto";
    case BackendKind::kReference: return "ref";
    case BackendKind::kCpu: return "cpu";
    case BackendKind::kCuda: return "cuda";
  }
  return "?";
}
const char* to_string(Truncation t) {
  return t == Truncation::kFlagEmbedding ? "flagembedding" : "longest_first";
}
const char* version() { return CROSSRANK_VERSION; }

namespace {

// Default activation budget: half of the memory available now, at most 8 GiB.
std::size_t default_budget_bytes() {
  const long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  std::size_t avail = pages > 0 && page > 0 ? static_cast<std::size_t>(pages) * page : (4ull << 30);
  return std::min<std::size_t>(avail / 2, 8ull << 30);
}

// Tokenizer for synthetic models, which have no files: the family's own
// (Architecture::synthetic_tokenizer); $CROSSRANK_TOKENIZER_DIR overrides it.
std::unique_ptr<Tokenizer> synthetic_tokenizer(const ModelConfig& c) {
  if (const char* env = std::getenv("CROSSRANK_TOKENIZER_DIR"); env && *env && fs::exists(env))
    return load_tokenizer(env);
  return c.arch->synthetic_tokenizer(c);
}

class EngineImpl final : public Engine {
 public:
  // `tensors` is ours alone: tensors the backend has copied (packed Linear weights) are
  // released after it is built, so the process does not hold both copies.
  EngineImpl(std::string name, ModelConfig config, std::shared_ptr<TensorMap> tensors,
             std::unique_ptr<Tokenizer> tok, const EngineOptions& opts)
      : config_(std::move(config)), tok_(std::move(tok)), deterministic_(opts.deterministic) {
    if (opts.threads > 0) omp_set_num_threads(opts.threads);
    budget_ = opts.memory_budget_mb ? opts.memory_budget_mb << 20 : default_budget_bytes();
    BackendKind kind = opts.backend;
    if (kind == BackendKind::kAuto) kind = cuda_available() ? BackendKind::kCuda : BackendKind::kCpu;
    std::unique_ptr<Ops> ops;
    switch (kind) {
      case BackendKind::kReference:
        if (opts.dtype != DType::kFp32)
          throw Error(ErrorCode::kUnsupported, "the reference backend runs fp32 only");
        ops = make_reference_ops();
        break;
      case BackendKind::kCuda:
        ops = make_cuda_ops(opts.dtype, opts.device, opts.deterministic);
        break;
      default:
        if (opts.dtype == DType::kFp16)
          throw Error(ErrorCode::kUnsupported, "fp16 is a GPU dtype; on CPU use bf16");
        ops = make_cpu_ops(opts.dtype, opts.deterministic);
    }
    if (tok_) {
      config_.arch->check_tokenizer(*tok_, config_);
      config_.arch->bind_tokenizer(*tok_, config_);
    }
    RunnerOptions ro;
    if (tok_ && ops->wants_calibration()) ro.calibration = calibration_batch();
    backend_ = make_backend(std::move(ops), config_, tensors, ro);
    // On a GPU the activation budget comes from the device's free memory (after the weights).
    if (!opts.memory_budget_mb && kind == BackendKind::kCuda)
      if (const std::size_t free = backend_->caps().free_memory) budget_ = free / 10 * 8;
    for (const std::string& n : backend_->ops().copied_tensors()) tensors->release(n);
    TensorMap::trim();
    kind_ = kind;
    info_.name = std::move(name);
    info_.architecture = config_.architecture;
    info_.family = config_.family();
    info_.layers = config_.layers;
    info_.hidden = config_.hidden;
    info_.heads = config_.heads;
    info_.kv_heads = config_.kv_heads;
    info_.head_dim = config_.head_dim;
    info_.intermediate = config_.intermediate;
    info_.vocab_size = config_.vocab_size;
    info_.max_length = config_.max_length;
    info_.parameters = config_.parameters();
    log_debug(backend_->describe());
  }

  // The built-in calibration pairs (model/calibration.h), encoded for this model.
  std::shared_ptr<const PackedBatch> calibration_batch() const {
    std::vector<EncodedPair> enc;
    for (const auto& [q, d] : calibration_pairs()) enc.push_back(config_.arch->encode(*tok_, config_, q, d, ScoreOptions{}));
    std::vector<const EncodedPair*> ptrs;
    for (const auto& e : enc) ptrs.push_back(&e);
    return std::make_shared<const PackedBatch>(pack_batch(ptrs, config_, !deterministic_));
  }

  EncodedPair encode(std::string_view query, std::string_view document, const ScoreOptions& opts) const override {
    return config_.arch->encode(*tok_, config_, query, document, opts);
  }

  std::vector<EncodedPair> encode_chunks(std::string_view query, std::string_view document,
                                         const ScoreOptions& opts) const override {
    return config_.arch->encode_chunks(*tok_, config_, query, document, opts);
  }

  std::vector<float> forward(std::span<const EncodedPair* const> batch) override {
    if (batch.empty()) return {};
    return backend_->forward(pack_batch(batch, config_, !deterministic_));
  }

  std::vector<double> score(std::span<const Pair> pairs, const ScoreOptions& opts) override {
    check(opts.batch_size > 0, "batch_size must be > 0");
    check(opts.max_batch_tokens >= 0, "max_batch_tokens must be >= 0");
    const size_t n = pairs.size();
    // Tokenize in parallel (one or, with chunking, several sequences per pair); the first
    // error (lowest index) is reported.
    std::vector<std::vector<EncodedPair>> per_pair(n);
    std::vector<std::string> errors(n);
    std::atomic<bool> failed{false};
#pragma omp parallel for schedule(dynamic, 16)
    for (size_t i = 0; i < n; ++i) {
      try {
        if (opts.long_doc == LongDoc::kChunk)
          per_pair[i] = encode_chunks(pairs[i].query, pairs[i].document, opts);
        else
          per_pair[i].push_back(encode(pairs[i].query, pairs[i].document, opts));
      } catch (const std::exception& e) {
        errors[i] = e.what();
        failed = true;
      }
    }
    if (failed)
      for (size_t i = 0; i < n; ++i)
        if (!errors[i].empty()) throw Error("pair " + std::to_string(i) + ": " + errors[i]);
    std::vector<const EncodedPair*> seqs;
    std::vector<size_t> owner;
    for (size_t i = 0; i < n; ++i)
      for (const auto& e : per_pair[i]) {
        seqs.push_back(&e);
        owner.push_back(i);
      }
    const std::vector<float> logits = forward_sorted(seqs, opts);
    // A non-finite logit is an error, not a score: it became -inf through std::max (and
    // JSON null in `score`'s output), or hid behind a finite chunk (2026-12-08).
    for (size_t k = 0; k < seqs.size(); ++k)
      if (!std::isfinite(logits[k]))
        throw Error("pair " + std::to_string(owner[k]) + ": the model's logit is not finite (" +
                    std::to_string(logits[k]) + "): non-finite or overflowing weights or activations");
    std::vector<double> out(n, -INFINITY);
    for (size_t k = 0; k < seqs.size(); ++k) out[owner[k]] = std::max<double>(out[owner[k]], logits[k]);
    if (opts.normalize)
      for (double& z : out) z = 1.0 / (1.0 + std::exp(-z));
    return out;
  }

  // Runs sequences longest first in batches of at most opts.batch_size sequences, within
  // opts.max_batch_tokens and the memory budget; shrinks the batch (x3/4) on bad_alloc.
  // Returns one logit per sequence, in the given order.
  std::vector<float> forward_sorted(const std::vector<const EncodedPair*>& seqs, const ScoreOptions& opts) {
    const size_t n = seqs.size();
    // Longest first (as FlagEmbedding): the first batch is the most memory-hungry, so a
    // shrink happens up front, and equal-length neighbours share a batch.
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return seqs[a]->ids.size() > seqs[b]->ids.size(); });
    std::vector<float> out(n);
    size_t pos = 0;
    BatchPolicy policy(*this, opts.batch_size, opts.max_batch_tokens);
    while (pos < n) {
      size_t take = 0, tokens = 0;
      const int maxlen = static_cast<int>(seqs[order[pos]]->ids.size());
      while (pos + take < n) {
        const size_t len = seqs[order[pos + take]]->ids.size();
        if (!policy.fits(take + 1, tokens + len, maxlen)) {
          if (policy.memory_bound(take + 1, tokens + len, maxlen) && !shrink_logged_.exchange(true))
            log_warn("batch of " + std::to_string(opts.batch_size) + " pairs x " + std::to_string(maxlen) +
                     " tokens exceeds the memory budget (" + std::to_string(budget_ >> 20) +
                     " MiB); running smaller batches");
          break;
        }
        tokens += len;
        ++take;
      }
      std::vector<const EncodedPair*> batch(take);
      for (size_t i = 0; i < take; ++i) batch[i] = seqs[order[pos + i]];
      std::vector<float> logits;
      try {
        logits = forward(batch);
      } catch (const std::bad_alloc&) {
        if (!policy.shrink(take))
          throw Error(ErrorCode::kOutOfMemory, "out of memory running a single pair of " + std::to_string(maxlen) + " tokens");
        log_warn("out of memory on a batch of " + std::to_string(take) + " pairs; retrying with " +
                 std::to_string(policy.max_seqs()));
        continue;
      }
      for (size_t i = 0; i < take; ++i) out[order[pos + i]] = logits[i];
      pos += take;
    }
    return out;
  }

  std::size_t activation_bytes(int total_tokens, int max_seqlen, int num_seqs) const override {
    return backend_->activation_bytes(total_tokens, max_seqlen, num_seqs);
  }
  std::size_t memory_budget() const override { return budget_; }
  int preferred_batch_tokens() const override { return backend_->caps().preferred_batch_tokens; }
  const ModelInfo& info() const override { return info_; }
  const ModelConfig& config() const { return config_; }
  const Tokenizer* tokenizer() const { return tok_.get(); }
  Int8Facts int8_facts() const { return backend_->int8_facts(); }
  DType dtype() const override { return backend_->dtype(); }
  BackendKind backend() const override { return kind_; }
  std::string describe() const override { return backend_->describe(); }

 private:
  ModelConfig config_;
  std::unique_ptr<Tokenizer> tok_;
  std::unique_ptr<Backend> backend_;
  BackendKind kind_ = BackendKind::kCpu;
  bool deterministic_ = false;  // EngineOptions::deterministic: no shared prefixes either
  ModelInfo info_;
  std::size_t budget_ = 0;
  std::atomic<bool> shrink_logged_{false};
};

// Absurd option values are a clear error before anything loads. Why 1024 threads at most:
// an OpenMP pool of 100000 threads crashed in thread creation (segfault; 4096 merely ran
// 17x slower than 256 on 2 cores, 2026-12-08), and the largest x86 servers have 768
// logical CPUs. Why 16 TiB of budget at most: the budget is kept in bytes, and MB << 20
// wrapped around 2^64 for 2^44 MB (silently becoming 0).
void check_options(const EngineOptions& o) {
  if (o.threads < 0 || o.threads > 1024)
    throw Error("threads must be in [0, 1024] (0: all cores), not " + std::to_string(o.threads));
  if (o.memory_budget_mb > (std::size_t{1} << 24))
    throw Error("memory budget must be at most 16777216 MB (16 TiB; 0: auto), not " +
                std::to_string(o.memory_budget_mb) + " MB");
  if (o.device < 0) throw Error("device must be >= 0 (a CUDA device index), not " + std::to_string(o.device));
}

}  // namespace

std::unique_ptr<Engine> Engine::open(const std::string& model, const EngineOptions& opts) {
  check_options(opts);
  const std::string prefix = "synthetic:";
  if (model.rfind(prefix, 0) == 0) {
    // synthetic:NAME or synthetic:NAME@SEED
    std::string name = model.substr(prefix.size());
    std::uint64_t seed = 0;
    if (auto at = name.find('@'); at != std::string::npos) {
      try {
        seed = std::stoull(name.substr(at + 1));
      } catch (const std::exception&) {
        throw Error("bad seed in '" + model + "'");
      }
      name = name.substr(0, at);
    }
    ModelConfig c = synthetic_config(name);
    if (!opts.reranker.empty() && opts.reranker != c.arch->recipe())
      throw Error(ErrorCode::kUnsupported, "--reranker '" + opts.reranker + "' does not apply to " + model +
                                               " (its recipe: " + (*c.arch->recipe() ? c.arch->recipe() : "none") + ")");
    auto tok = synthetic_tokenizer(c);
    auto w = synthetic_weights(c, seed);
    return std::make_unique<EngineImpl>(model, c, w, std::move(tok), opts);
  }
  // A Hugging Face id (ORG/NAME[@REVISION]) becomes its snapshot folder in the HF cache.
  const std::string folder = hub::resolve_model(model);
  const fs::path dir(folder);
  if (!fs::is_directory(dir)) throw Error(model + ": model folder not found");
  if (!fs::exists(dir / "config.json")) throw Error(model + ": no config.json in the model folder");
  ModelConfig c = load_config((dir / "config.json").string(), ModelHint{model, opts.reranker});
  auto tok = load_tokenizer(folder);
  auto w = load_weights(folder, c);
  return std::make_unique<EngineImpl>(model, c, w, std::move(tok), opts);
}

const ModelConfig& engine_config(const Engine& e) { return dynamic_cast<const EngineImpl&>(e).config(); }
const Tokenizer* engine_tokenizer(const Engine& e) { return dynamic_cast<const EngineImpl&>(e).tokenizer(); }
Int8Facts engine_int8_facts(const Engine& e) { return dynamic_cast<const EngineImpl&>(e).int8_facts(); }

}  // namespace crossrank
