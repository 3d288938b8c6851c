// Writing a whole file atomically from the applications (JSON metrics, plots): the bytes go to a
// temporary file next to the target, which is fsync'ed and renamed over it, so a reader never
// sees half a file and a failed write leaves the previous one untouched.
#pragma once

#include <string>

namespace magmadnn::io {

// Writes `contents` to `path`; failures throw "<op>: <path>: <reason>" and change nothing.
void write_file_atomic(const std::string& path, const std::string& contents, const char* op = "write_file_atomic");

}  // namespace magmadnn::io
