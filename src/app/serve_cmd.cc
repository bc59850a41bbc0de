// Placeholder: 'crossrank serve' is being built (see the open issues).
#include <CLI/CLI.hpp>

#include "app/commands.h"
#include "util/error.h"

namespace crossrank {

std::function<int()> setup_serve(CLI::App* sub) {
  return [] () -> int { throw Error("'crossrank serve' is not implemented yet"); };
}

}  // namespace crossrank
