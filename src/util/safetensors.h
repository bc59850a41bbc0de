#pragma once
// Read-only view of a .safetensors file (or a sharded set named by
// model.safetensors.index.json) through mmap. The header is validated completely on
// open: JSON well-formed, dtype known, shape x dtype size == byte range, ranges inside
// the file. Every violation throws Error naming the file and the tensor.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace crossrank {

enum class StDType { kF32, kF16, kBF16, kOther };

struct TensorView {
  std::string name;
  StDType dtype = StDType::kOther;
  std::string dtype_name;          // as written in the header, e.g. "F32"
  std::vector<int64_t> shape;
  const std::uint8_t* data = nullptr;  // points into the mapping
  std::size_t nbytes = 0;
  std::string file;                // path of the file that holds it (for messages)
  std::int64_t numel() const;
};

// One mmap'd safetensors file. Movable, not copyable; unmaps on destruction.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);  // throws Error
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  void* map_ = nullptr;
  std::size_t map_size_ = 0;
  std::map<std::string, TensorView> tensors_;
};

// All tensors of a model folder: model.safetensors, or the shards listed in
// model.safetensors.index.json. Throws Error if neither exists (naming the folder and
// mentioning that pytorch_model.bin is not supported when only that is present).
class TensorStore {
 public:
  explicit TensorStore(const std::string& model_dir);
  // nullptr when absent.
  const TensorView* find(const std::string& name) const;
  std::vector<std::string> names() const;

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const TensorView*> index_;
};

// Converts IEEE half / bfloat16 bit patterns to float.
float half_to_float(std::uint16_t h);
float bf16_to_float(std::uint16_t b);

}  // namespace crossrank
