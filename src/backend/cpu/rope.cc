// Rotary embeddings of the CPU backend (see attention.h).
#include <omp.h>

#include <cmath>
#include <vector>

#include "backend/cpu/attention.h"
#include "util/error.h"

namespace crossrank::cpu {

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
