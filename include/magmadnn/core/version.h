// The library's version, "major.minor.patch".
#pragma once

#include <string>

namespace magmadnn {
std::string version();
}
