#include "backend/cpu/isa.h"

#include "util/env.h"

#include <cstdlib>
#include <cstring>

namespace crossrank::cpu {

Isa detected_isa() {
  static const Isa isa = [] {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return Isa::kScalar;
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
        !__builtin_cpu_supports("avx512vl") || !__builtin_cpu_supports("avx512dq"))
      return Isa::kAvx2;
    if (__builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512vnni")) return Isa::kAvx512Bf16;
    return Isa::kAvx512;
  }();
  return isa;
}

Isa cpu_isa() {
  static const Isa isa = [] {
    Isa i = detected_isa();
    if (const char* cap = std::getenv("CROSSRANK_CPU_ISA")) {
      Isa c = i;
      if (!std::strcmp(cap, "scalar")) c = Isa::kScalar;
      else if (!std::strcmp(cap, "avx2")) c = Isa::kAvx2;
      else if (!std::strcmp(cap, "avx512")) c = Isa::kAvx512;
      else if (!std::strcmp(cap, "avx512_bf16")) c = Isa::kAvx512Bf16;
      if (static_cast<int>(c) < static_cast<int>(i)) i = c;
    }
    return i;
  }();
  return isa;
}

void check_cpu_isa_env() { env_choice("CROSSRANK_CPU_ISA", {"scalar", "avx2", "avx512", "avx512_bf16"}); }

const char* to_string(Isa i) {
  switch (i) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
    case Isa::kAvx512Bf16: return "avx512_bf16";
  }
  return "?";
}

}  // namespace crossrank::cpu
