#include "util/sysinfo.h"

#include <sched.h>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace crossrank {

namespace {

// Value of "Key:" in /proc/self/status, in kB; -1 when absent.
long long status_kb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string k = std::string(key) + ":";
  while (std::getline(in, line)) {
    if (line.rfind(k, 0) == 0) {
      std::istringstream is(line.substr(k.size()));
      long long v = -1;
      is >> v;
      return v;
    }
  }
  return -1;
}

}  // namespace

bool CpuInfo::has(const std::string& flag) const {
  for (const auto& [f, p] : isa)
    if (f == flag) return p;
  return false;
}

std::string CpuInfo::isa_string() const {
  std::string s;
  for (const auto& [f, p] : isa) {
    if (!s.empty()) s += ' ';
    s += (p ? "" : "-") + f;
  }
  return s;
}

CpuInfo cpu_info() {
  CpuInfo c;
  c.model = "unknown";
  std::set<std::string> flags;
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  bool got_model = false, got_flags = false;
  while (std::getline(in, line) && !(got_model && got_flags)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    std::string val = line.substr(colon + 1);
    if (!val.empty() && val[0] == ' ') val.erase(0, 1);
    if (key == "model name" && !got_model) {
      c.model = val;
      got_model = true;
    } else if (key == "flags" && !got_flags) {
      std::istringstream is(val);
      std::string f;
      while (is >> f) flags.insert(f);
      got_flags = true;
    }
  }
  for (const char* f : {"avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_tile",
                        "amx_bf16", "amx_int8"})
    c.isa.emplace_back(f, flags.count(f) > 0);
  c.logical_cpus = static_cast<int>(std::thread::hardware_concurrency());
  cpu_set_t set;
  CPU_ZERO(&set);
  c.usable_cpus = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : c.logical_cpus;
  return c;
}

long long rss_bytes() {
  const long long kb = status_kb("VmRSS");
  return kb < 0 ? 0 : kb * 1024;
}

long long peak_rss_bytes() {
  const long long kb = status_kb("VmHWM");
  return kb < 0 ? 0 : kb * 1024;
}

bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  if (!out) return false;
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

}  // namespace crossrank
