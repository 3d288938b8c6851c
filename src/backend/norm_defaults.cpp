// Backend defaults for BatchNorm's bookkeeping: the running-statistics update and the batch
// counter, written with the backend's own maps (the CPU backend uses them as they are; the CUDA
// backend replaces each with one kernel launch).
#include "magmadnn/backend/backend.h"

namespace magmadnn {

void Backend::batch_norm_update_running(const Tensor& mean, const Tensor& var, Tensor& running_mean,
                                        Tensor& running_var, double momentum, double var_scale) {
  Tensor t = Tensor::empty(mean.shape(), mean.dtype(), mean.device());
  unary(UnaryOp::MulScalar, running_mean, running_mean, 1.0 - momentum);
  unary(UnaryOp::MulScalar, mean, t, momentum);
  binary(BinaryOp::Add, running_mean, t, running_mean);
  unary(UnaryOp::MulScalar, running_var, running_var, 1.0 - momentum);
  unary(UnaryOp::MulScalar, var, t, momentum * var_scale);
  binary(BinaryOp::Add, running_var, t, running_var);
}

void Backend::increment(Tensor& counter) {
  MAGMADNN_CHECK(counter.numel() == 1, "increment: expected a one-element counter, got shape ", counter.shape());
  if (is_floating(counter.dtype())) {
    unary(UnaryOp::AddScalar, counter, counter, 1.0);
    return;
  }
  Tensor wide = Tensor::empty(counter.shape(), kFloat64, counter.device());  // exact below 2^53
  copy(counter, wide);
  unary(UnaryOp::AddScalar, wide, wide, 1.0);
  copy(wide, counter);
}

}  // namespace magmadnn
