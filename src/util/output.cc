#include "util/output.h"

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

}  // namespace crossrank
