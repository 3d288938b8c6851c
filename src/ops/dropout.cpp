// Inverted dropout: each element is kept with probability 1 - p and scaled by 1 / (1 - p), so
// evaluation needs no rescaling. The mask comes from default_generator() (see manual_seed).
#include "magmadnn/ops/ops.h"
#include "ops/op_utils.h"

namespace magmadnn {

Tensor dropout(const Tensor& x, double p, bool training) {
  detail::check_floating("dropout", x);
  MAGMADNN_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability must be in [0, 1], got ", p, " for input ", x.shape());
  if (!training || p == 0.0) return x;
  if (p == 1.0) return mul(x, 0.0);  // all dropped; keeps the graph so the gradient is zero
  Tensor mask = Tensor::empty(x.shape(), x.dtype(), x.device());
  Backend& be = backend_for(x.device());
  be.bernoulli(mask, 1.0 - p, default_generator());
  be.unary(UnaryOp::MulScalar, mask, mask, 1.0 / (1.0 - p));
  return mul(x, mask);
}

}  // namespace magmadnn
