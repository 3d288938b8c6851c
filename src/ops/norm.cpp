// batch_norm for (N, C) and (N, C, H, W) inputs, forward and backward side by side. Training
// uses batch statistics and updates the running buffers in place with PyTorch's momentum rule
// (unbiased variance for running_var); eval normalises with the running statistics.
// layer_norm and group_norm: compositions of differentiable ops (any backend, autograd for free).
#include "magmadnn/ops/ops.h"
#include "ops/op_utils.h"

namespace magmadnn {

using autograd::NeedsGrad;

namespace {
void check_channel_tensor(const Tensor& x, const Tensor& t, const char* what, int64_t C) {
  if (!t.defined()) return;
  detail::check_compatible("batch_norm", x, t);
  MAGMADNN_CHECK(t.dim() == 1 && t.size(0) == C, "batch_norm: expected ", what, " of shape (", C, ") for input ",
                 x.shape(), ", got ", t.shape());
}
}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
  detail::check_floating("batch_norm", x);
  MAGMADNN_CHECK(x.dim() == 2 || x.dim() == 4, "batch_norm: expected input (N, C) or (N, C, H, W), got ", x.shape());
  const int64_t C = x.size(1);
  check_channel_tensor(x, running_mean, "running_mean", C);
  check_channel_tensor(x, running_var, "running_var", C);
  check_channel_tensor(x, weight, "weight", C);
  check_channel_tensor(x, bias, "bias", C);
  MAGMADNN_CHECK(running_mean.defined() == running_var.defined(),
                 "batch_norm: running_mean and running_var must be given together");
  MAGMADNN_CHECK(training || running_mean.defined(), "batch_norm: eval mode needs running_mean and running_var");
  MAGMADNN_CHECK(eps > 0, "batch_norm: eps must be positive, got ", eps);
  const int64_t per_channel = x.numel() / std::max<int64_t>(C, 1);
  MAGMADNN_CHECK(!training || per_channel > 1, "batch_norm: expected more than 1 value per channel when training, got input ",
                 x.shape());

  Backend& be = backend_for(x.device());
  Tensor xc = x.contiguous().detach();
  Tensor w = weight.defined() ? weight.contiguous().detach() : ones({C}, x.dtype(), x.device());
  Tensor b = bias.defined() ? bias.contiguous().detach() : zeros({C}, x.dtype(), x.device());
  Tensor mean, var;
  if (training) {
    mean = Tensor::empty({C}, x.dtype(), x.device());
    var = Tensor::empty({C}, x.dtype(), x.device());
  } else {
    // Copies, so later in-place updates of the running buffers cannot change this node's backward.
    mean = running_mean.detach().clone();
    var = running_var.detach().clone();
  }
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  be.batch_norm(xc, w, b, mean, var, training, eps, y);

  if (training && running_mean.defined()) {
    // running = (1 - momentum) * running + momentum * stat, with the unbiased batch variance.
    Tensor rm = running_mean.detach(), rv = running_var.detach();
    const double n = static_cast<double>(per_channel);
    be.batch_norm_update_running(mean, var, rm, rv, momentum, n / (n - 1.0));
  }

  autograd::record("batch_norm", {x, weight, bias}, y,
                   [xc, w, mean, var, training, eps](const Tensor& g_in, const NeedsGrad& n) {
                     Tensor g = g_in.contiguous();
                     Tensor gx, gw, gb;
                     if (n[0]) gx = Tensor::empty(xc.shape(), xc.dtype(), xc.device());
                     if (n[1]) gw = Tensor::empty(w.shape(), w.dtype(), w.device());
                     if (n[2]) gb = Tensor::empty(w.shape(), w.dtype(), w.device());
                     backend_for(g.device()).batch_norm_backward(xc, g, w, mean, var, training, eps, gx, gw, gb);
                     return std::vector<Tensor>{gx, gw, gb};
                   });
  return y;
}

namespace {
// x (M, D): every row to mean 0 and biased variance 1.
Tensor normalize_rows(const Tensor& x, double eps) {
  const Tensor centred = sub(x, mean(x, {1}, true));            // (M, D)
  const Tensor var = mean(mul(centred, centred), {1}, true);    // (M, 1)
  return div(centred, sqrt(add(var, eps)));                     // (M, D)
}

void check_affine(const char* op, const Tensor& x, const Tensor& t, const char* what, const Shape& expected) {
  if (!t.defined()) return;
  detail::check_compatible(op, x, t);
  MAGMADNN_CHECK(t.shape() == expected, op, ": expected ", what, " of shape ", expected, " for input ", x.shape(),
                 ", got ", t.shape());
}
}  // namespace

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  detail::check_floating("layer_norm", x);
  const int64_t k = static_cast<int64_t>(normalized_shape.size());
  bool trailing = k >= 1 && x.dim() >= k;
  for (int64_t i = 0; trailing && i < k; ++i) trailing = x.size(x.dim() - k + i) == normalized_shape[i];
  MAGMADNN_CHECK(trailing, "layer_norm: normalized_shape ", normalized_shape,
                 " must equal the last dimensions of the input, got input ", x.shape());
  MAGMADNN_CHECK(eps > 0, "layer_norm: eps must be positive, got ", eps);
  check_affine("layer_norm", x, weight, "weight", normalized_shape);
  check_affine("layer_norm", x, bias, "bias", normalized_shape);
  const int64_t D = normalized_shape.numel(), M = x.numel() / std::max<int64_t>(D, 1);
  Tensor y = reshape(normalize_rows(reshape(x, {M, D}), eps), x.shape());  // x: (..., *normalized_shape)
  if (weight.defined()) y = mul(y, weight);  // broadcast over the leading dimensions
  if (bias.defined()) y = add(y, bias);
  return y;
}

Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps) {
  detail::check_floating("group_norm", x);
  MAGMADNN_CHECK(x.dim() >= 2, "group_norm: expected input (N, C, *), got ", x.shape());
  const int64_t N = x.size(0), C = x.size(1);
  MAGMADNN_CHECK(num_groups > 0 && C % num_groups == 0, "group_norm: ", C, " channels do not split into ", num_groups,
                 " groups, for input ", x.shape());
  MAGMADNN_CHECK(eps > 0, "group_norm: eps must be positive, got ", eps);
  check_affine("group_norm", x, weight, "weight", Shape{C});
  check_affine("group_norm", x, bias, "bias", Shape{C});
  const int64_t rows = N * num_groups;
  Tensor y = reshape(normalize_rows(reshape(x, {rows, x.numel() / std::max<int64_t>(rows, 1)}), eps), x.shape());
  if (weight.defined() || bias.defined()) {
    std::vector<int64_t> per_channel(x.dim(), 1);  // (1, C, 1, ...): broadcast over N and positions
    per_channel[1] = C;
    if (weight.defined()) y = mul(y, reshape(weight, Shape(per_channel)));
    if (bias.defined()) y = add(y, reshape(bias, Shape(per_channel)));
  }
  return y;
}

}  // namespace magmadnn
