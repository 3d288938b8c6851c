// gradcheck: compares analytic gradients with central finite differences, in float64.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "magmadnn/core/tensor.h"

namespace magmadnn::autograd {

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0;
  double max_rel_error = 0;
  std::string message;  // names the input and element of the worst mismatch when !ok
};

// f maps the inputs to a tensor of any shape; the check uses sum(f(x) * r) for a fixed random r
// so every output element contributes. Inputs must be float64 and require grad.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, double eps = 1e-6, double atol = 1e-5,
                          double rtol = 1e-3);

}  // namespace magmadnn::autograd
