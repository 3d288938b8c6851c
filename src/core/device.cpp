// Device parsing and printing; see core/device.h.
#include "magmadnn/core/device.h"

#include <cctype>

#include "magmadnn/core/error.h"

namespace magmadnn {

Device Device::parse(const std::string& text) {
  if (text == "cpu") return cpu();
  if (text == "cuda") return cuda(0);
  if (text.rfind("cuda:", 0) == 0 && text.size() > 5) {
    const std::string digits = text.substr(5);
    bool ok = digits.size() <= 4;
    for (char c : digits) ok = ok && std::isdigit(static_cast<unsigned char>(c));
    if (ok) return cuda(std::stoi(digits));
  }
  MAGMADNN_ERROR("unknown device '", text, "': expected cpu, cuda or cuda:N");
}

std::string Device::str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }

std::ostream& operator<<(std::ostream& os, const Device& d) { return os << d.str(); }

}  // namespace magmadnn
