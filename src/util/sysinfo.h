#pragma once
// Machine facts for benchmarks and logs: CPU model, core counts, ISA flags, and the
// process's resident memory (VmRSS / VmHWM from /proc/self/status, Linux only).
#include <string>
#include <utility>
#include <vector>

namespace crossrank {

struct CpuInfo {
  std::string model;         // "model name" from /proc/cpuinfo ("unknown" elsewhere)
  int logical_cpus = 0;      // std::thread::hardware_concurrency()
  int usable_cpus = 0;       // CPUs in this process's affinity mask
  // (flag, present) for avx2, fma, avx512f, avx512_bf16, avx512_vnni, avx_vnni,
  // amx_tile, amx_bf16, amx_int8, in that order.
  std::vector<std::pair<std::string, bool>> isa;
  bool has(const std::string& flag) const;
  // "avx2 fma -avx512f ..." (absent flags prefixed with '-').
  std::string isa_string() const;
};

CpuInfo cpu_info();

// Resident set size now / peak since start or the last reset, in bytes; 0 if unknown.
long long rss_bytes();
long long peak_rss_bytes();
// Resets VmHWM to the current RSS (writes "5" to /proc/self/clear_refs). False if the
// kernel refuses (then VmHWM stays the peak since process start).
bool reset_peak_rss();

}  // namespace crossrank
