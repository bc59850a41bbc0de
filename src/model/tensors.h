#pragma once
// Named model tensors in their source dtype (F32, F16 or BF16), as a model file holds
// them: views into mmap'd safetensors, or owned buffers (synthetic weights). Backends
// read them once while preparing their own copies (packed, quantised, uploaded) and may
// then release the ones they copied.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace crossrank {

enum class SrcType { kF32, kF16, kBF16 };
const char* to_string(SrcType t);

// One tensor on the host. `data` may be unaligned (safetensors offsets are arbitrary);
// use f32() / to_f32() to read it, or f32_ptr() for zero-copy access when possible.
struct HostTensor {
  std::string name;
  SrcType type = SrcType::kF32;
  std::vector<std::int64_t> shape;
  const void* data = nullptr;  // nullptr once released

  std::int64_t numel() const;
  std::int64_t rows() const { return shape.empty() ? 1 : shape[0]; }  // dim 0
  std::int64_t cols() const { return rows() ? numel() / rows() : 0; }   // product of the rest
  std::size_t elem_bytes() const { return type == SrcType::kF32 ? 4 : 2; }
  // Elements [begin, begin + n) as fp32 into out.
  void to_f32(float* out, std::int64_t begin, std::int64_t n) const;
  // The whole tensor as fp32 (a copy).
  std::vector<float> f32() const;
  // Row r (dim 0) as fp32.
  std::vector<float> row_f32(std::int64_t r) const;
  // Zero-copy fp32 pointer when the tensor is F32 and 4-byte aligned, else nullptr.
  const float* f32_ptr() const;
};

// The tensors of one model by canonical (Hugging Face) name. Not thread-safe for writes;
// concurrent reads are fine.
class TensorMap {
 public:
  // The tensor `name`; throws Error naming it when absent or released.
  const HostTensor& at(const std::string& name) const;
  // nullptr when absent.
  const HostTensor* find(const std::string& name) const;
  bool contains(const std::string& name) const { return find(name) != nullptr; }
  // Adds a view into memory kept alive by `keep` (e.g. the mmap'd file set).
  void add_view(HostTensor t, std::shared_ptr<const void> keep);
  // Adds an owned fp32 tensor (synthetic weights, converted data).
  void add_owned(const std::string& name, std::vector<std::int64_t> shape, std::vector<float> data);
  // Drops the storage of `name` (owned buffers are freed, mmap'd pages handed back with
  // madvise(MADV_DONTNEED)); the entry stays with data == nullptr. Returns bytes released.
  std::size_t release(const std::string& name);
  // Calls malloc_trim so that freed heap pages return to the OS (after release()).
  static void trim();
  std::vector<std::string> names() const;
  // Bytes of tensor data still held.
  std::size_t bytes() const;

 private:
  struct Entry {
    HostTensor t;
    std::vector<float> owned;
    std::shared_ptr<const void> keep;
  };
  std::map<std::string, Entry> map_;
};

}  // namespace crossrank
