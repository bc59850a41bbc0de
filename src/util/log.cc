#include "util/log.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace crossrank {
namespace {

int level() {
  static const int lvl = [] {
    const char* e = std::getenv("CROSSRANK_LOG");
    if (!e) return 2;
    if (!std::strcmp(e, "error")) return 0;
    if (!std::strcmp(e, "warn")) return 1;
    if (!std::strcmp(e, "debug")) return 3;
    if (std::strcmp(e, "info"))
      std::fprintf(stderr, "crossrank: warning: CROSSRANK_LOG='%s' is not error, warn, info or debug: info\n", e);
    return 2;
  }();
  return lvl;
}

void emit(int lvl, const char* tag, const std::string& msg) {
  if (lvl > level()) return;
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  std::fprintf(stderr, "crossrank: %s%s\n", tag, msg.c_str());
}

}  // namespace

void log_error(const std::string& msg) { emit(0, "error: ", msg); }
void log_warn(const std::string& msg) { emit(1, "warning: ", msg); }
void log_info(const std::string& msg) { emit(2, "", msg); }
void log_debug(const std::string& msg) { emit(3, "debug: ", msg); }

}  // namespace crossrank
