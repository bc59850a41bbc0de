// Placeholder: 'crossrank eval' is being built (see the open issues).
#include <CLI/CLI.hpp>

#include "app/commands.h"
#include "util/error.h"

namespace crossrank {

std::function<int()> setup_eval(CLI::App* sub) {
  return [] () -> int { throw Error("'crossrank eval' is not implemented yet"); };
}

}  // namespace crossrank
