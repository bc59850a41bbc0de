#pragma once
// Error type used across crossrank: every user-facing failure (bad file, bad input,
// bad option) is reported by throwing crossrank::Error with a one-line message that
// names the file/field and the problem. Never abort() on user input.
#include <stdexcept>
#include <string>

#include "crossrank/crossrank.h"  // defines crossrank::Error

namespace crossrank {

// Throws Error(msg) when `cond` is false. Use for validating user-controlled data.
inline void check(bool cond, const std::string& msg) {
  if (!cond) throw Error(msg);
}

}  // namespace crossrank
