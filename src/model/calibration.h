#pragma once
// Built-in calibration pairs: short questions with encyclopaedic passages in several
// domains and languages (~1,500 tokens), written for this project. Backends that rescale
// GEMM inputs from activation statistics (cpu int8 SmoothQuant) calibrate on them at load,
// so no calibration file is needed. Why built in: the statistic is a per-channel max,
// set by systematic outlier channels and by the pooled row that every sequence has,
// whatever its text (docs/int8-study.md: built-in factors matched domain factors on WikiQA).
#include <string>
#include <utility>
#include <vector>

namespace crossrank {

// (query, passage) pairs, in a fixed order.
const std::vector<std::pair<std::string, std::string>>& calibration_pairs();

}  // namespace crossrank
