#pragma once
// Zero-filled, 64-byte aligned arrays for packed GEMM weights (igemm.h, sgemm.h): aligned
// vector loads of whole cache lines. Throws std::bad_alloc.
#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

namespace crossrank::cpu {

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};
template <class T>
using AlignedArray = std::unique_ptr<T[], AlignedFree>;

template <class T>
AlignedArray<T> aligned_zeros(std::size_t n) {
  const std::size_t bytes = std::max<std::size_t>(64, (n * sizeof(T) + 63) / 64 * 64);
  void* p = std::aligned_alloc(64, bytes);
  if (!p) throw std::bad_alloc();
  std::memset(p, 0, bytes);
  return AlignedArray<T>(static_cast<T*>(p));
}

}  // namespace crossrank::cpu
