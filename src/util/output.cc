#include "util/output.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "util/error.h"

namespace crossrank {

void write_text_output(const std::string& path, const std::string& text) {
  if (!path.empty() && path != "-") {
    std::ofstream out(path, std::ios::binary);
    if (!out) throw Error(path + ": cannot open for writing");
    out << text;
    if (!out.flush()) throw Error(path + ": write failed");
  } else {
    std::cout << text;
    std::cout.flush();
  }
}

void check_output_path(const std::string& path) {
  if (path.empty() || path == "-") return;
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path p(path);
  if (fs::is_directory(p, ec)) throw Error(path + ": cannot open for writing (it is a directory)");
  if (fs::exists(p, ec)) {
    if (access(path.c_str(), W_OK) != 0) throw Error(path + ": cannot open for writing (read-only)");
    return;
  }
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  if (!fs::is_directory(dir, ec)) throw Error(path + ": cannot open for writing (no folder " + dir.string() + ")");
  if (access(dir.c_str(), W_OK) != 0) throw Error(path + ": cannot open for writing (folder " + dir.string() + " is read-only)");
}

}  // namespace crossrank
