#include "util/env.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "util/error.h"

namespace crossrank {

const char* env_choice(const char* name, std::initializer_list<const char*> allowed) {
  const char* v = std::getenv(name);
  if (!v) return nullptr;
  std::string list;
  std::size_t i = 0;
  for (const char* a : allowed) {
    if (!std::strcmp(v, a)) return v;
    list += std::string(i == 0 ? "" : i + 1 == allowed.size() ? " or " : ", ") + a;
    ++i;
  }
  throw Error(std::string(name) + " must be " + list + " (or unset), not '" + v + "'");
}

}  // namespace crossrank
