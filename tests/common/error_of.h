// error_of: the message of the magmadnn::Error a callable throws, so tests can assert errors by
// their text. Shared by every test area.
#pragma once

#include <string>

#include "magmadnn/core/error.h"

namespace magmadnn::testing {

// Runs f and returns the message of the magmadnn::Error it throws, or "<no error>" when it
// throws none (so a HasSubstr or equality assertion on the result fails readably).
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const ::magmadnn::Error& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace magmadnn::testing
