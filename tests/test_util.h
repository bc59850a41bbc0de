#pragma once
// Helpers shared by the test files: temp folders, file writing, golden readers.
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace crossrank::test {

// A fresh empty folder under the system temp dir, removed on destruction.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() / ("crossrank_test_" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string str() const { return path.string(); }
};

inline void write_file(const std::filesystem::path& p, const std::string& content) {
  std::ofstream out(p, std::ios::binary);
  out << content;
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline std::string test_data(const std::string& rel) { return std::string(CROSSRANK_TEST_DATA) + "/" + rel; }

}  // namespace crossrank::test

#include <array>
#include <cstdio>
#include <sys/wait.h>

namespace crossrank::test {

struct CmdResult {
  int code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs a shell command, capturing stdout and stderr (stderr via a temp file).
inline CmdResult run_cmd(const std::string& cmd) {
  TempDir tmp;
  const std::string errf = (tmp.path / "stderr").string();
  CmdResult r;
  FILE* p = popen((cmd + " 2>" + errf).c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = read_file(errf);
  return r;
}

// The crossrank CLI binary under test.
inline std::string cli() { return CROSSRANK_CLI; }

}  // namespace crossrank::test
