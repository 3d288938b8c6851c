// Parameter-free layers: thin wrappers over the differentiable ops in ops/ops.h.
#include "magmadnn/nn/activation.h"

#include "magmadnn/ops/ops.h"

namespace magmadnn::nn {

Tensor ReLU::forward(const Tensor& x) {
  return relu(x);
}

Tensor LeakyReLU::forward(const Tensor& x) {
  return leaky_relu(x, negative_slope_);
}
std::string LeakyReLU::name() const {
  return detail::str_cat("LeakyReLU(negative_slope=", negative_slope_, ")");
}

Tensor Sigmoid::forward(const Tensor& x) {
  return sigmoid(x);
}
Tensor Tanh::forward(const Tensor& x) {
  return tanh(x);
}
Tensor GELU::forward(const Tensor& x) {
  return gelu(x);
}

Tensor Softmax::forward(const Tensor& x) {
  return softmax(x, dim_);
}
std::string Softmax::name() const {
  return detail::str_cat("Softmax(dim=", dim_, ")");
}

Tensor LogSoftmax::forward(const Tensor& x) {
  return log_softmax(x, dim_);
}
std::string LogSoftmax::name() const {
  return detail::str_cat("LogSoftmax(dim=", dim_, ")");
}

Tensor Flatten::forward(const Tensor& x) {
  MAGMADNN_CHECK(x.defined(), name(), ": got an undefined input");
  return flatten(x, start_dim_, end_dim_);
}
std::string Flatten::name() const {
  return detail::str_cat("Flatten(start_dim=", start_dim_, ", end_dim=", end_dim_, ")");
}

}  // namespace magmadnn::nn
