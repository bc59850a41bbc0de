// The plain CPU attention path (see attention.h): a comparison point for benchmarks
// (bench/qwen3_bench.cc); the ops run attention_causal.
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
  check(d.window == 0 && d.softcap == 0.f, "attention_generic: no sliding window or soft-cap (use attention_causal)");
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

}  // namespace crossrank::cpu
