// Error reporting: magmadnn::Error and the MAGMADNN_CHECK macro.
// Every failed check throws one Error whose message names the op or module and the shapes
// involved; the source location is carried separately so messages stay readable.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace magmadnn {

class Error : public std::runtime_error {
 public:
  Error(const std::string& message, const char* file = "", int line = 0)
      : std::runtime_error(message), file_(file), line_(line) {}
  const char* file() const { return file_; }
  int line() const { return line_; }
  // "message (at src/ops/matmul.cpp:42)"
  std::string with_location() const;

 private:
  const char* file_;
  int line_;
};

namespace detail {
template <typename... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
[[noreturn]] void throw_error(const char* file, int line, const std::string& message);
}  // namespace detail

// Throws one Error listing every problem found while loading a state dict:
// "<owner>: load_state_dict found 2 problems, nothing was loaded:\n  a\n  b". Does nothing when
// `problems` is empty.
void throw_if_load_problems(const std::string& owner, const std::vector<std::string>& problems);

}  // namespace magmadnn

// MAGMADNN_CHECK(cond, "Linear(in=", in, "): expected input (N, ", in, "), got ", x.shape());
#define MAGMADNN_CHECK(cond, ...)                                                             \
  do {                                                                                        \
    if (!(cond)) ::magmadnn::detail::throw_error(__FILE__, __LINE__, ::magmadnn::detail::str_cat(__VA_ARGS__)); \
  } while (0)

#define MAGMADNN_ERROR(...) ::magmadnn::detail::throw_error(__FILE__, __LINE__, ::magmadnn::detail::str_cat(__VA_ARGS__))
