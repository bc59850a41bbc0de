#pragma once
// Minimal leveled logging to stderr ("crossrank: warning: ..."), thread-safe per line.
// Level from CROSSRANK_LOG=error|warn|info|debug (default info).
#include <string>

namespace crossrank {

void log_info(const std::string& msg);
void log_warn(const std::string& msg);
void log_error(const std::string& msg);
void log_debug(const std::string& msg);

}  // namespace crossrank
