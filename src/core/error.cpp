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

void throw_if_load_problems(const std::string& owner, const std::vector<std::string>& problems) {
  if (problems.empty()) return;
  std::string msg = detail::str_cat(owner, ": load_state_dict found ", problems.size(), " problem",
                                    problems.size() > 1 ? "s" : "", ", nothing was loaded:");
  for (const auto& p : problems) msg += "\n  " + p;
  throw Error(msg);
}

namespace detail {
void throw_error(const char* file, int line, const std::string& message) { throw Error(message, file, line); }
}  // namespace detail

}  // namespace magmadnn
