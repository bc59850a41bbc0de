// sgemm_det's block kernel for AVX2 + FMA (compiled with -march=x86-64-v3).
#define CR_S_WIDTH 8
#define CR_S_NS avx2
#include "backend/cpu/sgemm_impl.h"
