// Error construction; see core/error.h.
#include "magmadnn/core/error.h"

#include <cstring>

namespace magmadnn {

std::string Error::with_location() const {
  if (line_ == 0) return what();
  const char* file = std::strstr(file_, "src/");
  if (file == nullptr) file = file_;
  return detail::str_cat(what(), " (at ", file, ":", line_, ")");
}

namespace detail {
void throw_error(const char* file, int line, const std::string& message) { throw Error(message, file, line); }
}  // namespace detail

}  // namespace magmadnn
