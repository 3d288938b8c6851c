// nn::Dropout: the dropout op with the module's mode; its Bernoulli mask comes from the default
// generator, so manual_seed reproduces it, and the gradient is masked the same way.
#include "magmadnn/nn/dropout.h"

#include "magmadnn/ops/ops.h"

namespace magmadnn::nn {

Dropout::Dropout(double p) : p_(p) {
  MAGMADNN_CHECK(p >= 0 && p <= 1, "Dropout: probability must be in [0, 1], got ", p);
}

std::string Dropout::name() const {
  return detail::str_cat("Dropout(p=", p_, ")");
}

Tensor Dropout::forward(const Tensor& x) {
  MAGMADNN_CHECK(x.defined(), name(), ": got an undefined input");
  return dropout(x, p_, is_training());
}

}  // namespace magmadnn::nn
