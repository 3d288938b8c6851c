// nn::Linear: parameter creation, PyTorch's default initialisation and the forward pass.
#include "magmadnn/nn/linear.h"

#include <cmath>

#include "magmadnn/nn/init.h"
#include "magmadnn/ops/ops.h"

namespace magmadnn::nn {

Linear::Linear(const LinearOptions& options) : options_(options) {
  MAGMADNN_CHECK(options.in_features() > 0 && options.out_features() > 0,
                 "Linear: in_features and out_features must be positive, got in_features=",
                 options.in_features(), ", out_features=", options.out_features());
  weight_ = register_parameter("weight", Tensor::empty({options.out_features(), options.in_features()}));
  if (options.bias()) bias_ = register_parameter("bias", Tensor::empty({options.out_features()}));
  reset_parameters();
}

void Linear::reset_parameters() {
  init::kaiming_uniform_(weight_, std::sqrt(5.0));
  if (bias_.defined()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(options_.in_features()));
    init::uniform_(bias_, -bound, bound);
  }
}

std::string Linear::name() const {
  return detail::str_cat("Linear(in_features=", options_.in_features(),
                         ", out_features=", options_.out_features(),
                         ", bias=", options_.bias() ? "true" : "false", ")");
}

Tensor Linear::forward(const Tensor& x) {
  MAGMADNN_CHECK(x.defined(), name(), ": got an undefined input");
  MAGMADNN_CHECK(x.dim() >= 1 && x.size(-1) == options_.in_features(), name(), ": expected input (N, ",
                 options_.in_features(), "), got ", x.shape());
  MAGMADNN_CHECK(x.dtype() == weight_.dtype(), name(), ": input dtype ", x.dtype(),
                 " differs from the weight's ", weight_.dtype());
  MAGMADNN_CHECK(x.device() == weight_.device(), name(), ": input on ", x.device(), " but the weight is on ",
                 weight_.device());
  return linear(x, weight_, bias_);
}

}  // namespace magmadnn::nn
