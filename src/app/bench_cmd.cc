// Placeholder: 'crossrank bench' is being built (see the open issues).
#include <CLI/CLI.hpp>

#include "app/commands.h"
#include "util/error.h"

namespace crossrank {

std::function<int()> setup_bench(CLI::App* sub) {
  return [] () -> int { throw Error("'crossrank bench' is not implemented yet"); };
}

}  // namespace crossrank
