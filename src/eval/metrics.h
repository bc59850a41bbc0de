#pragma once
// Ranking metrics for `crossrank eval` (one candidate list at a time).
//
// Conventions (also in the eval help text):
//  * A list is ranked by score, highest first; equal scores keep candidate order (lower
//    index first), so every metric is deterministic under ties.
//  * NDCG@k uses linear gain (gain = label) and a log2(rank + 1) discount, like
//    trec_eval / pytrec_eval's ndcg_cut (and hence BEIR); the ideal DCG is taken over the
//    labels of the list itself. A list without positive gain scores 0.
//  * MRR@k and MAP binarise: a candidate is relevant when label >= threshold.
//    MAP's denominator is the number of relevant candidates in the list.
#include <cstddef>
#include <span>
#include <vector>

namespace crossrank::eval {

// Candidate indices ordered by score, descending; ties broken by index, ascending.
std::vector<std::size_t> rank_order(std::span<const double> scores);

double ndcg_at_k(std::span<const double> scores, std::span<const double> gains, int k);
double mrr_at_k(std::span<const double> scores, std::span<const double> labels, int k, double threshold);
double average_precision(std::span<const double> scores, std::span<const double> labels, double threshold);

// Rank correlations of two score vectors of equal length (>= 2): Spearman's rho on
// average ranks (ties share the mean rank) and Kendall's tau-b. Both return 1 when
// either vector is constant and they are equal, 0 when only one of them is constant.
double spearman(std::span<const double> a, std::span<const double> b);
double kendall_tau_b(std::span<const double> a, std::span<const double> b);

// How far ranking `b` moves from reference ranking `a`, over lists of equal sizes
// (a[l][i] and b[l][i] score the same candidate). Means over lists.
struct Agreement {
  double ndcg10 = 0;  // NDCG@10 of b's ranking with a's scores (shifted to >= 0) as gains
  double spearman = 0, kendall = 0;  // lists of one candidate skipped
  double top1 = 0;                   // share of lists whose top candidate is the same
  double min_ndcg10 = 1;             // the worst list
  double max_abs_delta = 0, mean_abs_delta = 0;
};
Agreement ranking_agreement(const std::vector<std::vector<double>>& a, const std::vector<std::vector<double>>& b);

}  // namespace crossrank::eval
