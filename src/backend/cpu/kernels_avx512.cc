// Row kernels for AVX-512 F/BW/DQ/VL (compiled with -march=x86-64-v4; see CMakeLists.txt).
#define CR_K_WIDTH 16
#define CR_K_NS avx512
#include "backend/cpu/kernels_impl.h"
