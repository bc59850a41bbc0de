// Reference backend: a direct fp32 transcription of the HF forward pass, written for
// clarity, not speed. It is the oracle that every optimised path is tested against.
// Parallelism: OpenMP over tokens (linear layers) and over (sequence, head) pairs
// (attention); the inner dot products are plain simd reductions.
#include <cmath>
#include <vector>

#include "backend/backend.h"

namespace crossrank {
namespace {

// y[t, o] = b[o] + sum_i x[t, i] * W[o, i]   (x: [T, in], W: [out, in], y: [T, out])
void linear(const float* x, int T, int in, const float* W, const float* b, int out, float* y) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int t = 0; t < T; ++t) {
    for (int o = 0; o < out; ++o) {
      const float* xr = x + static_cast<size_t>(t) * in;
      const float* wr = W + static_cast<size_t>(o) * in;
      float acc = 0.f;
#pragma omp simd reduction(+ : acc)
      for (int i = 0; i < in; ++i) acc += xr[i] * wr[i];
      y[static_cast<size_t>(t) * out + o] = acc + b[o];
    }
  }
}

// x[t] = LayerNorm(x[t] + r[t]) over H features (r may be null).
void add_layer_norm(float* x, const float* r, int T, int H, const float* g, const float* b, float eps) {
#pragma omp parallel for schedule(static)
  for (int t = 0; t < T; ++t) {
    float* xr = x + static_cast<size_t>(t) * H;
    if (r) {
      const float* rr = r + static_cast<size_t>(t) * H;
      for (int i = 0; i < H; ++i) xr[i] += rr[i];
    }
    double mean = 0;
    for (int i = 0; i < H; ++i) mean += xr[i];
    mean /= H;
    double var = 0;
    for (int i = 0; i < H; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    var /= H;
    const double inv = 1.0 / std::sqrt(var + eps);
    for (int i = 0; i < H; ++i) xr[i] = static_cast<float>((xr[i] - mean) * inv) * g[i] + b[i];
  }
}

class ReferenceBackend final : public Backend {
 public:
  explicit ReferenceBackend(std::shared_ptr<const ModelWeights> w) : w_(std::move(w)) {}

  std::vector<float> forward(const PackedBatch& batch) override {
    const ModelConfig& c = w_->config;
    const int T = batch.total_tokens(), H = c.hidden, I = c.intermediate, NH = c.heads, D = c.head_dim();
    std::vector<float> x(static_cast<size_t>(T) * H), q(x.size()), k(x.size()), v(x.size()), ctx(x.size()),
        tmp(x.size()), inter(static_cast<size_t>(T) * I);
    // Embeddings: word + position + token type, then LayerNorm.
    for (int t = 0; t < T; ++t) {
      const float* we = w_->word_emb + static_cast<size_t>(batch.input_ids[t]) * H;
      const float* pe = w_->pos_emb + static_cast<size_t>(batch.position_ids[t]) * H;
      const float* te = w_->type_emb + static_cast<size_t>(batch.token_type_ids[t]) * H;
      for (int i = 0; i < H; ++i) x[static_cast<size_t>(t) * H + i] = we[i] + pe[i] + te[i];
    }
    add_layer_norm(x.data(), nullptr, T, H, w_->emb_ln_g, w_->emb_ln_b, c.layer_norm_eps);
    const float scale = 1.0f / std::sqrt(static_cast<float>(D));
    const int S = batch.num_seqs();
    for (const LayerWeights& L : w_->layers) {
      linear(x.data(), T, H, L.q_w, L.q_b, H, q.data());
      linear(x.data(), T, H, L.k_w, L.k_b, H, k.data());
      linear(x.data(), T, H, L.v_w, L.v_b, H, v.data());
      // Full (bidirectional) softmax attention within each sequence, per head.
#pragma omp parallel for collapse(2) schedule(dynamic)
      for (int s = 0; s < S; ++s) {
        for (int h = 0; h < NH; ++h) {
          const int b0 = batch.cu_seqlens[s], n = batch.seqlen(s);
          std::vector<float> p(n);
          for (int i = 0; i < n; ++i) {
            const float* qi = &q[static_cast<size_t>(b0 + i) * H + h * D];
            float mx = -INFINITY;
            for (int j = 0; j < n; ++j) {
              const float* kj = &k[static_cast<size_t>(b0 + j) * H + h * D];
              float acc = 0.f;
#pragma omp simd reduction(+ : acc)
              for (int d = 0; d < D; ++d) acc += qi[d] * kj[d];
              p[j] = acc * scale;
              mx = std::max(mx, p[j]);
            }
            double sum = 0;
            for (int j = 0; j < n; ++j) {
              p[j] = std::exp(p[j] - mx);
              sum += p[j];
            }
            float* out = &ctx[static_cast<size_t>(b0 + i) * H + h * D];
            for (int d = 0; d < D; ++d) out[d] = 0.f;
            for (int j = 0; j < n; ++j) {
              const float pj = static_cast<float>(p[j] / sum);
              const float* vj = &v[static_cast<size_t>(b0 + j) * H + h * D];
              for (int d = 0; d < D; ++d) out[d] += pj * vj[d];
            }
          }
        }
      }
      linear(ctx.data(), T, H, L.attn_out_w, L.attn_out_b, H, tmp.data());
      add_layer_norm(x.data(), tmp.data(), T, H, L.ln1_g, L.ln1_b, c.layer_norm_eps);
      linear(x.data(), T, H, L.inter_w, L.inter_b, I, inter.data());
#pragma omp parallel for schedule(static)
      for (size_t i = 0; i < inter.size(); ++i)
        inter[i] = 0.5f * inter[i] * (1.0f + std::erf(inter[i] * static_cast<float>(M_SQRT1_2)));
      linear(inter.data(), T, I, L.out_w, L.out_b, H, tmp.data());
      add_layer_norm(x.data(), tmp.data(), T, H, L.ln2_g, L.ln2_b, c.layer_norm_eps);
    }
    // Head on the first token of each sequence: dense -> tanh -> out (one logit).
    std::vector<float> logits(S);
    std::vector<float> first(H), pooled(H);
    for (int s = 0; s < S; ++s) {
      const float* h0 = &x[static_cast<size_t>(batch.cu_seqlens[s]) * H];
      linear(h0, 1, H, w_->head_dense_w, w_->head_dense_b, H, pooled.data());
      for (int i = 0; i < H; ++i) pooled[i] = std::tanh(pooled[i]);
      linear(pooled.data(), 1, H, w_->head_out_w, w_->head_out_b, 1, &logits[s]);
    }
    return logits;
  }

  std::size_t activation_bytes(int total_tokens, int max_seqlen, int num_seqs) const override {
    const auto& c = w_->config;
    return sizeof(float) * (static_cast<size_t>(total_tokens) * (6 * c.hidden + c.intermediate) +
                            static_cast<size_t>(max_seqlen) * 64);
  }
  const char* name() const override { return "reference"; }
  DType dtype() const override { return DType::kFp32; }

 private:
  std::shared_ptr<const ModelWeights> w_;
};

}  // namespace

std::unique_ptr<Backend> make_reference_backend(std::shared_ptr<const ModelWeights> weights) {
  return std::make_unique<ReferenceBackend>(std::move(weights));
}

}  // namespace crossrank
