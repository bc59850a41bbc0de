#pragma once
// Writing a command's report.
#include <string>

namespace crossrank {

// Writes `text` to `path`, or to stdout when path is "" or "-". Throws Error naming the
// file when it cannot be opened or written.
void write_text_output(const std::string& path, const std::string& text);

}  // namespace crossrank
