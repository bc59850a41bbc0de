// The general CPU attention path (see attention.h) and rotary embeddings.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/attention.h"
#include "backend/cpu/kernels.h"
#include "util/error.h"

namespace crossrank::cpu {

namespace {
inline const float* frow(const Act& a, int r) {
  return reinterpret_cast<const float*>(a.data) + static_cast<std::size_t>(r) * a.ld;
}
}  // namespace

void attention_generic(const AttnDesc& d, const Act& q, const Act& k, const Act& v, Act& out, const PackedBatch& b) {
  const int S = b.num_seqs(), D = d.head_dim, group = d.heads / d.kv_heads;
#pragma omp parallel
  {
    std::vector<int> keys;
    std::vector<float> p, o(static_cast<std::size_t>(D));
#pragma omp for collapse(2) schedule(dynamic)
    for (int s = 0; s < S; ++s) {
      for (int h = 0; h < d.heads; ++h) {
        keys.clear();
        const int par = b.parent_of(s);
        if (par >= 0)
          for (int j = b.cu_seqlens[par]; j < b.cu_seqlens[par + 1]; ++j) keys.push_back(j);
        const int own0 = static_cast<int>(keys.size());
        for (int j = b.cu_seqlens[s]; j < b.cu_seqlens[s + 1]; ++j) keys.push_back(j);
        p.resize(keys.size());
        const int n = b.seqlen(s), kvh = h / group;
        const int i0 = d.q_rows == RowSel::kLast ? n - 1 : 0, i1 = d.q_rows == RowSel::kFirst ? 1 : n;
        for (int i = i0; i < i1; ++i) {
          const int qrow = d.q_rows == RowSel::kAll ? b.cu_seqlens[s] + i : s;
          const float* qi = frow(q, qrow) + h * D;
          const int visible = d.causal ? own0 + i + 1 : static_cast<int>(keys.size());
          float mx = -INFINITY;
          for (int j = 0; j < visible; ++j) {
            const float* kj = frow(k, keys[j]) + kvh * D;
            float acc = 0.f;
#pragma omp simd reduction(+ : acc)
            for (int e = 0; e < D; ++e) acc += qi[e] * kj[e];
            p[j] = acc * d.scale;
            mx = std::max(mx, p[j]);
          }
          double sum = 0;
          for (int j = 0; j < visible; ++j) sum += (p[j] = std::exp(p[j] - mx));
          std::fill(o.begin(), o.end(), 0.f);
          for (int j = 0; j < visible; ++j) {
            const float pj = p[j];
            const float* vj = frow(v, keys[j]) + kvh * D;
#pragma omp simd
            for (int e = 0; e < D; ++e) o[e] += pj * vj[e];
          }
          float* orow = reinterpret_cast<float*>(out.data) + static_cast<std::size_t>(qrow) * out.ld + h * D;
          const float inv = static_cast<float>(1.0 / sum);
          for (int e = 0; e < D; ++e) orow[e] = o[e] * inv;
        }
      }
    }
  }
}

void rope_rows(Act& q, Act& k, const RopeDesc& d, const PackedBatch& b) {
  const int half = d.rotary_dim / 2;
  check(d.rotary_dim > 0 && d.rotary_dim % 2 == 0 && d.rotary_dim <= d.head_dim, "rope: bad rotary_dim");
  std::vector<float> inv(half);
  for (int i = 0; i < half; ++i)
    inv[i] = 1.0f / std::pow(d.theta, static_cast<float>(2 * i) / static_cast<float>(d.rotary_dim));
  const int T = b.total_tokens();
#pragma omp parallel
  {
    std::vector<float> cs(static_cast<std::size_t>(2 * half));
#pragma omp for schedule(static)
    for (int t = 0; t < T; ++t) {
      const float pos = static_cast<float>(b.position_ids[t]);
      for (int i = 0; i < half; ++i) {
        const float ang = pos * inv[i];
        cs[i] = std::cos(ang);
        cs[half + i] = std::sin(ang);
      }
      for (Act* a : {&q, &k}) {
        float* r = reinterpret_cast<float*>(a->data) + static_cast<std::size_t>(t) * a->ld;
        for (int h = 0; h < a->cols / d.head_dim; ++h) {
          float* x = r + h * d.head_dim;
          for (int i = 0; i < half; ++i) {
            const float x1 = x[i], x2 = x[i + half];
            x[i] = x1 * cs[i] - x2 * cs[half + i];
            x[i + half] = x2 * cs[i] + x1 * cs[half + i];
          }
        }
      }
    }
  }
}

}  // namespace crossrank::cpu
