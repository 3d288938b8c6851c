// Backend defaults for BatchNorm's statistics and bookkeeping: batch statistics without
// normalising (the CPU backend overrides it), the running-statistics update and the batch counter
// (the CUDA backend replaces each with one kernel launch), written with the backend's own
// reductions and maps.
#include <algorithm>

#include "magmadnn/backend/backend.h"

namespace magmadnn {

void Backend::batch_norm_stats(const Tensor& x, Tensor& mean, Tensor& var) {
  MAGMADNN_CHECK(x.dim() >= 2 && mean.numel() == x.size(1) && var.numel() == x.size(1), "batch_norm_stats: expected ",
                 "x (N, C, ...) and (C) statistics, got x ", x.shape(), ", mean ", mean.shape(), ", var ", var.shape());
  const int64_t N = x.size(0), C = x.size(1), S = x.numel() / std::max<int64_t>(1, N * C);
  // x: (N, C, S); m, v: (1, C, 1)
  Tensor x3 = x.is_contiguous() ? x.reshape({N, C, S}) : Tensor();
  if (!x3.defined()) {
    x3 = Tensor::empty(x.shape(), x.dtype(), x.device());
    copy(x, x3);
    x3 = x3.reshape({N, C, S});
  }
  Tensor m = Tensor::empty({1, C, 1}, x.dtype(), x.device()), v = Tensor::empty({1, C, 1}, x.dtype(), x.device());
  reduce(ReduceOp::Mean, x3, {0, 2}, m);
  Tensor d = Tensor::empty(x3.shape(), x.dtype(), x.device());
  binary(BinaryOp::Sub, x3, m.expand(x3.shape()), d);
  unary(UnaryOp::Square, d, d);
  reduce(ReduceOp::Mean, d, {0, 2}, v);
  Tensor mean_out = mean.reshape({1, C, 1}), var_out = var.reshape({1, C, 1});
  copy(m, mean_out);
  copy(v, var_out);
}

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
