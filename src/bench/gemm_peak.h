#pragma once
// Measured GEMM peak of the machine it runs on, per dtype: the GEMM crossrank itself runs
// (oneDNN matmuls with format_tag::any weights; int8 on igemm_s16s8 where cpu::use_igemm();
// fp32 the faster of sgemm_det and oneDNN where cpu::use_sgemm_fp32()),
// each shape repeated for ~`seconds`; the best shape is the peak.
// Shapes: M=512, N=4096, K=1024 (a 512-token activation times a 1024x4096 FFN weight)
// and the model's own at M=512 and 2048 (QKV, FFN in, FFN out). Why several: one fixed
// shape under-states the peak for small models (MiniLM's end to end ran at 122 % of the
// 512x4096x1024 figure on a 2-core AMD Zen 3 in 2026-10, and at 108 % of the best M=512
// model shape; docs/performance.md).
// Nothing is cached across runs.
#include <string>
#include <vector>

namespace crossrank::bench {

struct GemmPeak {
  std::string dtype;   // "fp32" | "bf16" | "int8"
  std::string kind;    // "f32:f32:f32" | "bf16:bf16:f32" | "u8:s8:s32"
  bool ok = false;
  double gflops = 0;   // best shape: 2*M*N*K*iterations / seconds / 1e9 (GOP/s for int8)
  int m = 0, n = 0, k = 0;  // the best shape
  int shapes = 0;           // shapes tried
  int iterations = 0;
  double seconds = 0;
  double cpu_seconds = 0; // process CPU time (user + sys) over the timed iterations
  std::string impl;    // oneDNN implementation name, e.g. "brg:avx512_core_amx"
  std::string note;    // why not measured (no kernel for this ISA, ...)
};

struct GemmShape {
  int m, n, k;
};
// 512x4096x1024, then M = 512 and 2048 with the model's (N, K): (3H, H), (I, H), (H, I);
// duplicates dropped.
std::vector<GemmShape> peak_shapes(int hidden, int intermediate);

// dtype: "fp32", "bf16" or "int8". Never throws.
GemmPeak measure_gemm_peak(const std::string& dtype, double seconds, const std::vector<GemmShape>& shapes);

// oneDNN version and the ISA it dispatches to on this CPU, e.g. "oneDNN 2.6.3, avx2".
std::string onednn_description();

}  // namespace crossrank::bench
