#pragma once
// Measured GEMM peak of this machine per dtype: one oneDNN matmul M=512, N=4096, K=1024
// (a 512-token activation times a 1024x4096 FFN weight) with format_tag::any weights,
// repeated for ~`seconds`. Nothing is cached across runs.
#include <string>

namespace crossrank::bench {

struct GemmPeak {
  std::string dtype;   // "fp32" | "bf16" | "int8"
  std::string kind;    // "f32:f32:f32" | "bf16:bf16:f32" | "u8:s8:s32"
  bool ok = false;
  double gflops = 0;   // 2*M*N*K*iterations / seconds / 1e9 (GOP/s for int8)
  int iterations = 0;
  double seconds = 0;
  double cpu_seconds = 0; // process CPU time (user + sys) over the timed iterations
  std::string impl;    // oneDNN implementation name, e.g. "brg:avx512_core_amx"
  std::string note;    // why not measured (no kernel for this ISA, ...)
};

constexpr int kGemmM = 512, kGemmN = 4096, kGemmK = 1024;

// dtype: "fp32", "bf16" or "int8". Never throws.
GemmPeak measure_gemm_peak(const std::string& dtype, double seconds);

// oneDNN version and the ISA it dispatches to on this CPU, e.g. "oneDNN 2.6.3, avx2".
std::string onednn_description();

}  // namespace crossrank::bench
