#pragma once
// The work split of crossrank's own GEMMs (sgemm_det, igemm_s16s8): items of (a block of MC
// rows of A, one weight panel), handed out dynamically on the OpenMP pool, with one barrier
// per GEMM. It never changes what a row computes, only which thread computes it. Why
// dynamic: on a shared 2-core VM the static split left a thread waiting at every block's
// barrier (libgomp 8.9 % of an int8 bge-reranker-base run; 2.2 % with this; AMD EPYC Zen 3,
// 2026-12-07).
#include <algorithm>

namespace crossrank::cpu {

// Calls f(m0, mc, p) for every row block [m0, m0 + mc) of [0, M) (mc = MC but the last) and
// every panel p < panels, in parallel, `chunk` items at a time per thread.
template <class F>
void for_each_block_panel(int M, int MC, int panels, int chunk, F&& f) {
  const int items = (M + MC - 1) / MC * panels;
#pragma omp parallel for schedule(dynamic, chunk)
  for (int item = 0; item < items; ++item) {
    const int m0 = item / panels * MC;
    f(m0, std::min(MC, M - m0), item % panels);
  }
}

}  // namespace crossrank::cpu
