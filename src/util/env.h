#pragma once
// Environment knobs that take one of a few names.
#include <initializer_list>

namespace crossrank {

// The value of environment variable `name`, or nullptr when it is unset; throws Error
// ("NAME must be a, b or c (or unset), not 'x'") when it is set to none of `allowed`.
const char* env_choice(const char* name, std::initializer_list<const char*> allowed);

}  // namespace crossrank
