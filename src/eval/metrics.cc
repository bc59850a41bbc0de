#include "eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "util/error.h"

namespace crossrank::eval {

namespace {

void check_sizes(std::size_t a, std::size_t b) {
  check(a == b, "metric: " + std::to_string(a) + " scores but " + std::to_string(b) + " labels");
}

// 1-based average ranks (ties share the mean of the ranks they span), ascending values.
std::vector<double> average_ranks(std::span<const double> v) {
  std::vector<std::size_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](std::size_t x, std::size_t y) { return v[x] < v[y]; });
  std::vector<double> r(v.size());
  for (std::size_t i = 0; i < idx.size();) {
    std::size_t j = i;
    while (j + 1 < idx.size() && v[idx[j + 1]] == v[idx[i]]) ++j;
    const double mean = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
    for (std::size_t t = i; t <= j; ++t) r[idx[t]] = mean;
    i = j + 1;
  }
  return r;
}

bool constant(std::span<const double> v) {
  return std::all_of(v.begin(), v.end(), [&](double x) { return x == v[0]; });
}

}  // namespace

std::vector<std::size_t> rank_order(std::span<const double> scores) {
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  return order;
}

double ndcg_at_k(std::span<const double> scores, std::span<const double> gains, int k) {
  check_sizes(scores.size(), gains.size());
  const auto order = rank_order(scores);
  const std::size_t n = std::min<std::size_t>(order.size(), static_cast<std::size_t>(std::max(k, 0)));
  double dcg = 0;
  for (std::size_t i = 0; i < n; ++i) dcg += gains[order[i]] / std::log2(static_cast<double>(i) + 2.0);
  std::vector<double> ideal(gains.begin(), gains.end());
  std::sort(ideal.begin(), ideal.end(), std::greater<>());
  double idcg = 0;
  for (std::size_t i = 0; i < n; ++i) idcg += ideal[i] / std::log2(static_cast<double>(i) + 2.0);
  return idcg > 0 ? dcg / idcg : 0.0;
}

double mrr_at_k(std::span<const double> scores, std::span<const double> labels, int k, double threshold) {
  check_sizes(scores.size(), labels.size());
  const auto order = rank_order(scores);
  const std::size_t n = std::min<std::size_t>(order.size(), static_cast<std::size_t>(std::max(k, 0)));
  for (std::size_t i = 0; i < n; ++i)
    if (labels[order[i]] >= threshold) return 1.0 / static_cast<double>(i + 1);
  return 0.0;
}

double average_precision(std::span<const double> scores, std::span<const double> labels, double threshold) {
  check_sizes(scores.size(), labels.size());
  const auto order = rank_order(scores);
  double hits = 0, sum = 0;
  for (std::size_t i = 0; i < order.size(); ++i)
    if (labels[order[i]] >= threshold) {
      hits += 1;
      sum += hits / static_cast<double>(i + 1);
    }
  return hits > 0 ? sum / hits : 0.0;
}

double spearman(std::span<const double> a, std::span<const double> b) {
  check_sizes(a.size(), b.size());
  if (a.size() < 2 || constant(a) || constant(b)) return std::equal(a.begin(), a.end(), b.begin()) ? 1.0 : 0.0;
  const auto ra = average_ranks(a), rb = average_ranks(b);
  const double n = static_cast<double>(a.size()), mean = (n + 1) / 2;
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    sab += (ra[i] - mean) * (rb[i] - mean);
    saa += (ra[i] - mean) * (ra[i] - mean);
    sbb += (rb[i] - mean) * (rb[i] - mean);
  }
  return sab / std::sqrt(saa * sbb);
}

double kendall_tau_b(std::span<const double> a, std::span<const double> b) {
  check_sizes(a.size(), b.size());
  if (a.size() < 2 || constant(a) || constant(b)) return std::equal(a.begin(), a.end(), b.begin()) ? 1.0 : 0.0;
  // O(n^2): candidate lists are short (<= a few hundred).
  double concordant = 0, discordant = 0, ties_a = 0, ties_b = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    for (std::size_t j = i + 1; j < a.size(); ++j) {
      const double da = a[i] - a[j], db = b[i] - b[j];
      if (da == 0 && db == 0) continue;
      if (da == 0) ties_a += 1;
      else if (db == 0) ties_b += 1;
      else if ((da > 0) == (db > 0)) concordant += 1;
      else discordant += 1;
    }
  const double denom = std::sqrt((concordant + discordant + ties_a) * (concordant + discordant + ties_b));
  return denom > 0 ? (concordant - discordant) / denom : 0.0;
}

Agreement ranking_agreement(const std::vector<std::vector<double>>& a, const std::vector<std::vector<double>>& b) {
  check_sizes(a.size(), b.size());
  Agreement g;
  std::size_t lists = 0, corr_lists = 0, pairs = 0;
  for (std::size_t l = 0; l < a.size(); ++l) {
    const auto& sa = a[l];
    const auto& sb = b[l];
    check_sizes(sa.size(), sb.size());
    if (sa.empty()) continue;
    ++lists;
    const double lo = *std::min_element(sa.begin(), sa.end());
    std::vector<double> gains(sa.size());
    for (std::size_t i = 0; i < sa.size(); ++i) gains[i] = sa[i] - lo;
    // All-equal reference scores give no ranking to preserve: count as perfect.
    const double n10 = lo == *std::max_element(sa.begin(), sa.end()) ? 1.0 : ndcg_at_k(sb, gains, 10);
    g.ndcg10 += n10;
    g.min_ndcg10 = std::min(g.min_ndcg10, n10);
    g.top1 += rank_order(sa)[0] == rank_order(sb)[0];
    if (sa.size() >= 2) {
      g.spearman += spearman(sa, sb);
      g.kendall += kendall_tau_b(sa, sb);
      ++corr_lists;
    }
    for (std::size_t i = 0; i < sa.size(); ++i) {
      const double d = std::fabs(sa[i] - sb[i]);
      g.max_abs_delta = std::max(g.max_abs_delta, d);
      g.mean_abs_delta += d;
      ++pairs;
    }
  }
  g.ndcg10 /= std::max<std::size_t>(lists, 1);
  g.top1 /= std::max<std::size_t>(lists, 1);
  g.spearman /= std::max<std::size_t>(corr_lists, 1);
  g.kendall /= std::max<std::size_t>(corr_lists, 1);
  g.mean_abs_delta /= std::max<std::size_t>(pairs, 1);
  return g;
}

}  // namespace crossrank::eval
