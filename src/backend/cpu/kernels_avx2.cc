// Row kernels for AVX2 + FMA (compiled with -march=x86-64-v3; see CMakeLists.txt).
#define CR_K_WIDTH 8
#define CR_K_NS avx2
#include "backend/cpu/kernels_impl.h"
