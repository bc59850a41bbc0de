// The runner: Backend implemented once over (model, ops). Each pass is sized by a dry run
// of the model on the same ops (exact for every family and backend), then run in one
// arena that is kept between passes up to the backend's keep_arena_bytes.
#include <algorithm>
#include <mutex>

#include "backend/backend.h"
#include "model/architecture.h"
#include "util/error.h"

namespace crossrank {
namespace {

class Runner final : public Backend {
 public:
  Runner(std::unique_ptr<Ops> ops, const ModelConfig& c, std::shared_ptr<const TensorMap> t, const RunnerOptions& o)
      : ops_(std::move(ops)), config_(c), tensors_(std::move(t)) {
    check(config_.arch != nullptr, "runner: model config without an architecture");
    caps_ = ops_->caps();
    if (o.calibration && o.calibration->num_seqs() > 0 && ops_->wants_calibration()) {
      // Build, run the calibration batch recording input statistics, build again with them.
      model_ = build_model(o);
      ops_->record_input_stats(true);
      try {
        forward(*o.calibration);
      } catch (...) {
        ops_->record_input_stats(false);
        throw;
      }
      ops_->record_input_stats(false);
      InputStats stats = ops_->input_stats();
      model_.reset();
      drop_arena();
      ops_->set_input_stats(std::move(stats));
    }
    model_ = build_model(o);
  }
  ~Runner() override { drop_arena(); }

  std::vector<float> forward(const PackedBatch& b) override {
    const int S = b.num_seqs();
    if (S <= 0) return {};
    std::lock_guard<std::mutex> lock(mu_);
    ops_->begin_sizing(b);
    model_->forward(*ops_, b);
    const std::size_t need = ops_->end();
    char* arena = arena_for(need);
    std::vector<float> all;
    try {
      ops_->begin(b, arena, need);
      all = model_->forward(*ops_, b);
      ops_->end();
    } catch (...) {
      ops_->end();
      if (arena != kept_) ops_->free_arena(arena, need);
      throw;
    }
    if (arena != kept_) ops_->free_arena(arena, need);
    last_arena_ = need;
    if (b.pair_seq.empty()) {
      if (!b.has_prefixes()) return all;
      // Drop the logits of prefix-only sequences.
      std::vector<bool> is_parent(S, false);
      for (int s = 0; s < S; ++s)
        if (b.parent[s] >= 0) is_parent[b.parent[s]] = true;
      std::vector<float> out;
      for (int s = 0; s < S; ++s)
        if (!is_parent[s]) out.push_back(all[s]);
      return out;
    }
    std::vector<float> out(b.pair_seq.size());
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = all[b.pair_seq[i]];
    return out;
  }

  std::size_t activation_bytes(int total_tokens, int max_seqlen, int num_seqs) const override {
    PackedBatch shape;
    const int S = std::max(1, num_seqs), T = std::max(total_tokens, S);
    const int L = std::clamp(max_seqlen, 1, T - (S - 1));
    shape.cu_seqlens.push_back(0);
    shape.cu_seqlens.push_back(L);
    const int rest = T - L;
    for (int s = 1; s < S; ++s) shape.cu_seqlens.push_back(shape.cu_seqlens.back() + (rest / (S - 1)) + (s <= rest % (S - 1) ? 1 : 0));
    shape.max_seqlen = L;
    std::lock_guard<std::mutex> lock(mu_);
    ops_->begin_sizing(shape);
    model_->forward(*ops_, shape);
    return ops_->end() + ops_->extra_pass_bytes(T);
  }

  const char* name() const override { return ops_->name(); }
  DType dtype() const override { return ops_->dtype(); }
  OpsCaps caps() const override { return ops_->caps(); }
  std::string describe() const override { return ops_->describe(); }
  Int8Facts int8_facts() const override { return ops_->int8_facts(); }
  std::size_t last_arena_bytes() const override { return last_arena_; }
  Ops& ops() override { return *ops_; }

 private:
  std::unique_ptr<Model> build_model(const RunnerOptions& o);

  // An arena of at least `need` bytes: the kept one, or a new one (kept when small
  // enough; a bigger request frees the kept one first, so a pass never holds more than
  // max(its own arena, the kept one)).
  char* arena_for(std::size_t need) {
    if (kept_ && kept_bytes_ >= need) return kept_;
    drop_arena();
    char* p = ops_->allocate_arena(std::max<std::size_t>(need, 64));
    if (need <= caps_.keep_arena_bytes) {
      kept_ = p;
      kept_bytes_ = std::max<std::size_t>(need, 64);
    }
    return p;
  }
  void drop_arena() {
    if (kept_) ops_->free_arena(kept_, kept_bytes_);
    kept_ = nullptr;
    kept_bytes_ = 0;
  }

  std::unique_ptr<Ops> ops_;
  ModelConfig config_;
  std::shared_ptr<const TensorMap> tensors_;
  std::unique_ptr<Model> model_;
  OpsCaps caps_;
  mutable std::mutex mu_;
  char* kept_ = nullptr;
  std::size_t kept_bytes_ = 0, last_arena_ = 0;
};

std::unique_ptr<Model> Runner::build_model(const RunnerOptions& o) {
  BuildOptions b;
  b.last_layer_shortcut = o.last_layer_shortcut;
  return config_.arch->build(config_, *tensors_, *ops_, b);
}

}  // namespace

std::unique_ptr<Backend> make_backend(std::unique_ptr<Ops> ops, const ModelConfig& config,
                                      std::shared_ptr<const TensorMap> tensors, const RunnerOptions& opts) {
  check(ops != nullptr && tensors != nullptr, "make_backend: no ops or tensors");
  return std::make_unique<Runner>(std::move(ops), config, std::move(tensors), opts);
}

std::unique_ptr<Backend> make_reference_backend(const ModelConfig& config, std::shared_ptr<const TensorMap> tensors) {
  return make_backend(make_reference_ops(), config, std::move(tensors));
}

std::unique_ptr<Backend> make_cpu_backend(const ModelConfig& config, std::shared_ptr<const TensorMap> tensors,
                                          DType dtype) {
  return make_backend(make_cpu_ops(dtype), config, std::move(tensors));
}

}  // namespace crossrank
