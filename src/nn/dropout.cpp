// nn::Dropout: a Bernoulli mask from the default generator (so manual_seed reproduces it),
// applied with the differentiable mul so the gradient is masked the same way.
#include "magmadnn/nn/dropout.h"

#include "magmadnn/backend/backend.h"
#include "magmadnn/core/rng.h"
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
  if (!is_training() || p_ == 0) return x;
  if (p_ == 1) return mul(x, 0.0);
  Tensor mask = Tensor::empty(x.shape(), x.dtype(), x.device());
  backend_for(x.device()).bernoulli(mask, 1.0 - p_, default_generator());
  return mul(x, mul(mask, 1.0 / (1.0 - p_)));
}

}  // namespace magmadnn::nn
