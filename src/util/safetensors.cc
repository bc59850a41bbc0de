#include "util/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "util/error.h"

namespace crossrank {

namespace fs = std::filesystem;

std::int64_t TensorView::numel() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = (h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1F;
  std::uint32_t mant = h & 0x3FF;
  std::uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      exp = 127 - 15 + 1;
      while ((mant & 0x400) == 0) { mant <<= 1; --exp; }
      mant &= 0x3FF;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | (mant << 13);
  } else {
    bits = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bf16_to_float(std::uint16_t b) {
  const std::uint32_t bits = static_cast<std::uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

static std::size_t dtype_size(const std::string& d) {
  if (d == "F64" || d == "I64" || d == "U64") return 8;
  if (d == "F32" || d == "I32" || d == "U32") return 4;
  if (d == "F16" || d == "BF16" || d == "I16" || d == "U16") return 2;
  if (d == "I8" || d == "U8" || d == "BOOL" || d == "F8_E4M3" || d == "F8_E5M2") return 1;
  return 0;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
  struct stat st{};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw Error(path + ": cannot stat");
  }
  map_size_ = static_cast<std::size_t>(st.st_size);
  if (map_size_ < 8) {
    ::close(fd);
    throw Error(path + ": truncated safetensors file (" + std::to_string(map_size_) +
                " bytes, header length needs 8)");
  }
  map_ = ::mmap(nullptr, map_size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map_ == MAP_FAILED) {
    map_ = nullptr;
    throw Error(path + ": mmap failed");
  }
  const auto* base = static_cast<const std::uint8_t*>(map_);
  std::uint64_t header_len = 0;
  std::memcpy(&header_len, base, 8);  // little-endian on every supported target
  auto fail = [&](const std::string& msg) {
    ::munmap(map_, map_size_);
    map_ = nullptr;
    throw Error(path + ": " + msg);
  };
  if (header_len > map_size_ - 8)
    fail("truncated safetensors file: header length " + std::to_string(header_len) +
         " exceeds file size " + std::to_string(map_size_));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(reinterpret_cast<const char*>(base + 8),
                                   reinterpret_cast<const char*>(base + 8 + header_len));
  } catch (const std::exception& e) {
    fail(std::string("safetensors header is not valid JSON (") + e.what() + ")");
  }
  if (!header.is_object()) fail("safetensors header is not a JSON object");
  const std::uint8_t* data = base + 8 + header_len;
  const std::size_t data_size = map_size_ - 8 - header_len;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const auto& t = it.value();
    const std::string where = "tensor '" + it.key() + "'";
    if (!t.is_object() || !t.contains("dtype") || !t["dtype"].is_string() || !t.contains("shape") ||
        !t["shape"].is_array() || !t.contains("data_offsets") || !t["data_offsets"].is_array() ||
        t["data_offsets"].size() != 2)
      fail(where + ": header entry needs dtype, shape and data_offsets[2]");
    TensorView v;
    v.name = it.key();
    v.file = path;
    v.dtype_name = t["dtype"].get<std::string>();
    v.dtype = v.dtype_name == "F32"    ? StDType::kF32
              : v.dtype_name == "F16"  ? StDType::kF16
              : v.dtype_name == "BF16" ? StDType::kBF16
                                       : StDType::kOther;
    const std::size_t esize = dtype_size(v.dtype_name);
    if (esize == 0) fail(where + ": unknown dtype '" + v.dtype_name + "'");
    std::uint64_t numel = 1;
    for (const auto& d : t["shape"]) {
      if (!d.is_number_unsigned()) fail(where + ": shape entries must be non-negative integers");
      const auto dim = d.get<std::uint64_t>();
      if (dim > (1ull << 40) || (dim && numel > (1ull << 40) / dim)) fail(where + ": shape too large");
      numel *= dim;
      v.shape.push_back(static_cast<std::int64_t>(dim));
    }
    const auto& off = t["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      fail(where + ": data_offsets must be non-negative integers");
    const auto b = off[0].get<std::uint64_t>(), e = off[1].get<std::uint64_t>();
    if (b > e || e > data_size)
      fail(where + ": data_offsets [" + std::to_string(b) + ", " + std::to_string(e) +
           "] out of range (data section has " + std::to_string(data_size) + " bytes; file truncated?)");
    if (e - b != numel * esize)
      fail(where + ": byte range " + std::to_string(e - b) + " does not match shape x dtype (" +
           std::to_string(numel * esize) + " bytes)");
    v.data = data + b;
    v.nbytes = e - b;
    tensors_.emplace(v.name, std::move(v));
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(map_, map_size_);
}

TensorStore::TensorStore(const std::string& model_dir) {
  const fs::path dir(model_dir);
  const fs::path single = dir / "model.safetensors";
  const fs::path index = dir / "model.safetensors.index.json";
  if (fs::exists(single)) {
    files_.push_back(std::make_unique<SafetensorsFile>(single.string()));
  } else if (fs::exists(index)) {
    nlohmann::json j;
    try {
      std::ifstream in(index);
      j = nlohmann::json::parse(in);
    } catch (const std::exception& e) {
      throw Error(index.string() + ": not valid JSON (" + e.what() + ")");
    }
    if (!j.contains("weight_map") || !j["weight_map"].is_object())
      throw Error(index.string() + ": missing object 'weight_map'");
    std::map<std::string, bool> shard_names;
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      if (!it.value().is_string()) throw Error(index.string() + ": weight_map values must be file names");
      shard_names[it.value().get<std::string>()] = true;
    }
    for (const auto& [name, _] : shard_names) {
      if (name.find('/') != std::string::npos || name.find("..") != std::string::npos)
        throw Error(index.string() + ": shard name '" + name + "' must be a plain file name");
      files_.push_back(std::make_unique<SafetensorsFile>((dir / name).string()));
    }
  } else if (fs::exists(dir / "pytorch_model.bin")) {
    throw Error(model_dir + ": only pytorch_model.bin found; crossrank reads safetensors "
                "(convert with: python -c \"from transformers import AutoModelForSequenceClassification as M; "
                "M.from_pretrained('DIR').save_pretrained('DIR', safe_serialization=True)\")");
  } else {
    throw Error(model_dir + ": no model.safetensors (or model.safetensors.index.json) found");
  }
  for (const auto& f : files_)
    for (const auto& [name, view] : f->tensors()) index_[name] = &view;
}

const TensorView* TensorStore::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second;
}

std::vector<std::string> TensorStore::names() const {
  std::vector<std::string> out;
  for (const auto& [n, _] : index_) out.push_back(n);
  return out;
}

}  // namespace crossrank
