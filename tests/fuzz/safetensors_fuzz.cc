// libFuzzer target: the safetensors header (SafetensorsFile on a scratch file: 8-byte
// little-endian header length, JSON header, data). A file that opens must describe
// tensors whose byte ranges lie inside the mapping.
#include "fuzz_util.h"
#include "util/error.h"
#include "util/safetensors.h"

using namespace crossrank;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_scratch("model.safetensors", data, size);
  try {
    SafetensorsFile f(path);
    for (const auto& [name, t] : f.tensors()) {
      if (t.nbytes > size) __builtin_trap();
      volatile std::uint8_t sink = 0;
      if (t.nbytes > 0) sink = t.data[0] ^ t.data[t.nbytes - 1];  // ASan: inside the mapping
      (void)sink;
      (void)t.numel();
    }
  } catch (const Error&) {
  }
  return 0;
}
