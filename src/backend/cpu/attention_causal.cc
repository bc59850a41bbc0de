// Blocked causal / grouped-query / shared-prefix attention (see attention_causal.h).
#include "backend/cpu/attention_causal.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include <oneapi/dnnl/dnnl.h>

#include "backend/cpu/kernels.h"
#include "util/error.h"

namespace crossrank::cpu {

namespace {

constexpr int kKeyBlock = 512;  // keys per online-softmax step
constexpr int kTaskRows = 128;  // stacked query rows per task (all heads of a KV group)

int threads_bound() { return std::max(omp_get_max_threads(), omp_get_num_procs()); }

// Query rows per head in a task: ~kTaskRows stacked rows over the group's heads.
int rows_per_head(const AttnDesc& d) {
  const int group = d.heads / d.kv_heads;
  return std::max(1, kTaskRows / group);
}

std::size_t per_thread_floats(const AttnDesc& d) {
  const int group = d.heads / d.kv_heads;
  const std::size_t R = static_cast<std::size_t>(group) * rows_per_head(d);
  const std::size_t D = static_cast<std::size_t>(d.head_dim);
  // Q block, O accumulators, scores, running max and sum; rounded to 64 bytes.
  return (R * (2 * D + kKeyBlock + 2) + 15) / 16 * 16;
}

struct Task {
  int s, g, i0, i1;  // sequence, KV head, own query positions [i0, i1)
  long cost;
};

// Logical keys [lo, hi) that query position i (own index; parent's P tokens first) sees.
inline std::pair<int, int> row_keys(const AttnDesc& d, int P, int n, int i) {
  const int q = P + i;
  const int lo = d.window > 0 ? std::max(0, q - d.window) : 0;
  const int hi = d.causal ? q + 1 : d.window > 0 ? std::min(P + n, q + d.window + 1) : P + n;
  return {lo, hi};
}
// Logical keys any query of own positions [i0, i1) sees (the union of their rows' ranges).
inline std::pair<int, int> task_keys(const AttnDesc& d, int P, int n, int i0, int i1) {
  return {row_keys(d, P, n, i0).first, row_keys(d, P, n, i1 - 1).second};
}

inline const float* frow(const Act& a, int r) {
  return reinterpret_cast<const float*>(a.data) + static_cast<std::size_t>(r) * a.ld;
}

}  // namespace

std::size_t attention_causal_scratch_bytes(const AttnDesc& d) {
  return static_cast<std::size_t>(threads_bound()) * per_thread_floats(d) * sizeof(float);
}

void attention_causal(const AttnDesc& d, const Act& q, const Act& k, const Act& v, Act& out, const PackedBatch& b,
                      float* scratch) {
  const int S = b.num_seqs(), D = d.head_dim, group = d.heads / d.kv_heads;
  const int bq = d.q_rows == RowSel::kAll ? rows_per_head(d) : 1;
  // Tasks, costliest first (cost ~ query rows x visible keys).
  std::vector<Task> tasks;
  for (int s = 0; s < S; ++s) {
    const int n = b.seqlen(s), par = b.parent_of(s), P = par >= 0 ? b.seqlen(par) : 0;
    int i_begin = 0, i_end = n;
    if (d.q_rows == RowSel::kFirst) i_end = 1;
    if (d.q_rows == RowSel::kLast) i_begin = n - 1;
    for (int i0 = i_begin; i0 < i_end; i0 += bq) {
      const int i1 = std::min(i_end, i0 + bq);
      const auto [klo, khi] = task_keys(d, P, n, i0, i1);
      for (int g = 0; g < d.kv_heads; ++g) tasks.push_back({s, g, i0, i1, static_cast<long>(i1 - i0) * (khi - klo)});
    }
  }
  std::stable_sort(tasks.begin(), tasks.end(), [](const Task& a, const Task& c) { return a.cost > c.cost; });
  const std::size_t per_thread = per_thread_floats(d);
  const int R_max = group * rows_per_head(d);
  const int ntasks = static_cast<int>(tasks.size());

#pragma omp parallel
  {
    float* base = scratch + per_thread * static_cast<std::size_t>(omp_get_thread_num());
    float* Qs = base;                                        // [R, D] stacked query rows
    float* O = Qs + static_cast<std::size_t>(R_max) * D;     // [R, D] output accumulators
    float* Sc = O + static_cast<std::size_t>(R_max) * D;     // [R, kKeyBlock] scores / probabilities
    float* mx = Sc + static_cast<std::size_t>(R_max) * kKeyBlock;  // [R] running max
    float* sum = mx + R_max;                                 // [R] running sum
#pragma omp for schedule(dynamic, 1)
    for (int t = 0; t < ntasks; ++t) {
      const Task& task = tasks[t];
      const int s = task.s, g = task.g, nq = task.i1 - task.i0, R = group * nq;
      const int n = b.seqlen(s), own0 = b.cu_seqlens[s], par = b.parent_of(s);
      const int P = par >= 0 ? b.seqlen(par) : 0, par0 = par >= 0 ? b.cu_seqlens[par] : 0;
      // Stacked rows: row r = (head g * group + r / nq, own position i0 + r % nq).
      for (int r = 0; r < R; ++r) {
        const int h = g * group + r / nq, i = task.i0 + r % nq;
        const int qrow = d.q_rows == RowSel::kAll ? own0 + i : s;
        std::memcpy(Qs + static_cast<std::size_t>(r) * D, frow(q, qrow) + static_cast<std::size_t>(h) * D,
                    sizeof(float) * D);
      }
      std::fill(O, O + static_cast<std::size_t>(R) * D, 0.f);
      std::fill(mx, mx + R, -INFINITY);
      std::fill(sum, sum + R, 0.f);
      // Key blocks over the logical keys any row of the task sees: the parent's rows, then
      // the own rows, each in chunks of kKeyBlock (a window skips the keys outside).
      const auto [kmin, kmax] = task_keys(d, P, n, task.i0, task.i1);
      for (int j0 = kmin; j0 < kmax;) {
        const bool in_parent = j0 < P;
        const int seg_end = in_parent ? P : kmax;
        const int nk = std::min(kKeyBlock, seg_end - j0);
        const int row0 = in_parent ? par0 + j0 : own0 + (j0 - P);
        const float* Kb = frow(k, row0) + static_cast<std::size_t>(g) * D;
        const float* Vb = frow(v, row0) + static_cast<std::size_t>(g) * D;
        dnnl_sgemm('N', 'T', R, nk, D, d.scale, Qs, D, Kb, k.ld, 0.f, Sc, kKeyBlock);
        for (int r = 0; r < R; ++r) {
          float* sr = Sc + static_cast<std::size_t>(r) * kKeyBlock;
          const int i = task.i0 + r % nq;
          const auto [vlo, vhi] = row_keys(d, P, n, i);  // keys this row sees (logical)
          const int a = std::clamp(vlo - j0, 0, nk), e = std::clamp(vhi - j0, a, nk);
          if (e > a) {
            if (d.softcap > 0.f) rk().softcap(sr + a, e - a, d.softcap);
            const float m_new = std::max(mx[r], rk().max(sr + a, e - a));
            if (mx[r] != -INFINITY && m_new > mx[r]) {
              const float alpha = std::exp(mx[r] - m_new);
              rk().scale(O + static_cast<std::size_t>(r) * D, D, alpha);
              sum[r] *= alpha;
            }
            mx[r] = m_new;
            sum[r] += rk().exp_sub_sum(sr + a, e - a, m_new);
          }
          std::fill(sr, sr + a, 0.f);
          std::fill(sr + e, sr + nk, 0.f);
        }
        dnnl_sgemm('N', 'N', R, D, nk, 1.0f, Sc, kKeyBlock, Vb, v.ld, 1.0f, O, D);
        j0 += nk;
      }
      for (int r = 0; r < R; ++r) {
        const int h = g * group + r / nq, i = task.i0 + r % nq;
        const int orow = d.q_rows == RowSel::kAll ? own0 + i : s;
        float* o = reinterpret_cast<float*>(out.data) + static_cast<std::size_t>(orow) * out.ld +
                   static_cast<std::size_t>(h) * D;
        rk().scale_to(o, O + static_cast<std::size_t>(r) * D, D, 1.0f / sum[r]);
      }
    }
  }
}

}  // namespace crossrank::cpu
