// Row kernels, portable C++ (no vector intrinsics): the reference semantics and the
// fallback for CPUs without AVX2.
#define CR_K_WIDTH 1
#define CR_K_NS scalar
#include "backend/cpu/kernels_impl.h"

namespace crossrank::cpu {

namespace avx2 { const RowKernels& table(); }
namespace avx512 { const RowKernels& table(); }

const RowKernels& row_kernels(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
    case Isa::kAvx512Bf16: return avx512::table();
    case Isa::kAvx2: return avx2::table();
    case Isa::kScalar: break;
  }
  return scalar::table();
}

}  // namespace crossrank::cpu
