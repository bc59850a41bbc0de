// sgemm_det's block kernel for AVX-512 (compiled with -march=x86-64-v4).
#define CR_S_WIDTH 16
#define CR_S_NS avx512
#include "backend/cpu/sgemm_impl.h"
