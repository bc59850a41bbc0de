#include "util/paths.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace crossrank {

namespace fs = std::filesystem;

std::string executable_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : exe.parent_path().string();
}

std::string shared_data_root() {
  if (const char* env = std::getenv("CROSSRANK_SHARED_DIR"); env && *env) return env;
  const std::string exe = executable_dir();
  if (exe.empty()) return "";
  for (const fs::path& p : {fs::path(exe) / ".." / "share" / "crossrank", fs::path(exe) / "share" / "crossrank"}) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) return fs::weakly_canonical(p, ec).string();
  }
  return "";
}

}  // namespace crossrank
