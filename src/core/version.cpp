// The library's version, from the CMake project version.
#include "magmadnn/core/version.h"

namespace magmadnn {
std::string version() { return MAGMADNN_VERSION; }
}  // namespace magmadnn
