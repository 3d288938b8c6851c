// Activation functions and softmax / log-softmax, each with its backward.
#include "magmadnn/ops/ops.h"
#include "ops/op_utils.h"

namespace magmadnn {

using autograd::NeedsGrad;
using detail::launch_binary;
using detail::launch_unary;

namespace {
// y = f(x); backward is one fused kernel taking the saved x (or y, when save_output).
Tensor activation(const char* name, UnaryOp op, BinaryOp backward_op, bool save_output, const Tensor& x,
                  double alpha = 0) {
  detail::check_floating(name, x);
  Tensor out = launch_unary(op, x, alpha);
  if (autograd::any_requires_grad({x})) {
    Tensor saved = save_output ? out.detach() : x.detach();
    autograd::record(name, {x}, out, [saved, backward_op, alpha, name](const Tensor& g, const NeedsGrad&) {
      return std::vector<Tensor>{launch_binary(name, backward_op, g, saved, alpha)};
    });
  }
  return out;
}
}  // namespace

// relu's backward only needs the sign, which the output keeps: save y and let x be freed.
Tensor relu(const Tensor& x) { return activation("relu", UnaryOp::Relu, BinaryOp::ReluBackward, true, x); }
Tensor leaky_relu(const Tensor& x, double slope) {
  MAGMADNN_CHECK(slope >= 0, "leaky_relu: negative_slope must be non-negative, got ", slope);
  return activation("leaky_relu", UnaryOp::LeakyRelu, BinaryOp::LeakyReluBackward, slope > 0 ? false : true, x, slope);
}
Tensor sigmoid(const Tensor& x) { return activation("sigmoid", UnaryOp::Sigmoid, BinaryOp::SigmoidBackward, true, x); }
Tensor tanh(const Tensor& x) { return activation("tanh", UnaryOp::Tanh, BinaryOp::TanhBackward, true, x); }
Tensor gelu(const Tensor& x) { return activation("gelu", UnaryOp::Gelu, BinaryOp::GeluBackward, false, x); }

namespace {
Tensor softmax_impl(const char* name, const Tensor& x_in, int64_t dim, bool log) {
  detail::check_floating(name, x_in);
  const int64_t axis = wrap_dim(dim, x_in.dim(), name);
  Tensor x = x_in.dim() == 0 ? x_in.reshape({1}) : x_in.contiguous();
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (out.numel() > 0) backend_for(x.device()).softmax(x, axis, log, out);
  out = x_in.dim() == 0 ? out.detach().reshape({}) : out;
  autograd::record(name, {x_in}, out, [y = out.detach(), axis, log](const Tensor& g, const NeedsGrad&) {
    Tensor yc = y.dim() == 0 ? y.reshape({1}) : y;
    Tensor gc = g.dim() == 0 ? g.reshape({1}) : g.contiguous();
    Tensor gx = Tensor::empty(yc.shape(), yc.dtype(), yc.device());
    backend_for(yc.device()).softmax_backward(yc, gc, axis, log, gx);
    return std::vector<Tensor>{gx.reshape(y.shape())};
  });
  return out;
}
}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_impl("softmax", x, dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_impl("log_softmax", x, dim, true); }

}  // namespace magmadnn
