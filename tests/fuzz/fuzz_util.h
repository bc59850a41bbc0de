#pragma once
// Helpers shared by the libFuzzer targets: a per-process scratch folder under /dev/shm
// (or $TMPDIR) for targets whose parser only takes a path, and the "expected failure"
// rule: crossrank::Error is how a parser says "bad input"; anything else escaping is a
// bug (the fuzzer reports the uncaught exception as a crash).
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace crossrank::fuzz {

// A folder private to this process, created on first use; never removed (it is small and
// under /dev/shm, which the OS clears).
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    const char* base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
    std::filesystem::path p = std::filesystem::path(base) / ("crossrank_fuzz_" + std::to_string(getpid()));
    std::filesystem::create_directories(p);
    return p;
  }();
  return dir;
}

// Writes `data` to scratch_dir()/name and returns the path.
inline std::string write_scratch(const std::string& name, const uint8_t* data, size_t size) {
  const std::filesystem::path p = scratch_dir() / name;
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return p.string();
}

// The source tree (set by CMake), for the tokenizer folders the targets load.
inline std::string source_dir() { return CROSSRANK_SOURCE_DIR; }

}  // namespace crossrank::fuzz
