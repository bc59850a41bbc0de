#pragma once
// Which vector ISA the CPU kernels may use, decided at run time (the CPU of a machine is
// not known at build time: Zen 3 has AVX2 only, Zen 4/5 add AVX-512 with BF16 and VNNI).
// Kernels for each level live in their own translation units compiled with that level's
// flags (kernels_avx2.cc, kernels_avx512.cc, attention_bf16.cc); nothing else in the
// binary assumes more than the build's baseline.
namespace crossrank::cpu {

enum class Isa : int {
  kScalar = 0,      // portable C++ (the kernels' reference semantics)
  kAvx2 = 1,        // AVX2 + FMA (x86-64-v3)
  kAvx512 = 2,      // AVX-512 F/BW/DQ/VL (x86-64-v4)
  kAvx512Bf16 = 3,  // + AVX512_BF16 and AVX512_VNNI (Zen 4, Cooper Lake, Sapphire Rapids)
};

// The best level this CPU supports, capped by the environment variable CROSSRANK_CPU_ISA
// (scalar | avx2 | avx512 | avx512_bf16), so tests and benchmarks can run each path on a
// bigger machine. Read once.
Isa cpu_isa();
// Throws Error when CROSSRANK_CPU_ISA is set to none of those names (cpu_isa() itself
// ignores such a value; the CPU backend calls this when it is created).
void check_cpu_isa_env();
// What the CPU itself supports (ignoring the cap).
Isa detected_isa();
const char* to_string(Isa i);

}  // namespace crossrank::cpu
