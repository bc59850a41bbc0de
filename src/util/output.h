#pragma once
// Writing a command's report.
#include <string>

namespace crossrank {

// Writes `text` to `path`, or to stdout when path is "" or "-". Throws Error naming the
// file when it cannot be opened or written.
void write_text_output(const std::string& path, const std::string& text);
// Throws the same kind of Error now when `path` ("" / "-": stdout, fine) could not be
// written later: a directory, a missing or read-only folder, a read-only file. Commands
// call it before their work, so a long run does not end in "cannot open".
void check_output_path(const std::string& path);

}  // namespace crossrank
