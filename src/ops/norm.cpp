// batch_norm for (N, C) and (N, C, H, W) inputs, forward and backward side by side. Training
// uses batch statistics and updates the running buffers in place with PyTorch's momentum rule
// (unbiased variance for running_var); eval normalises with the running statistics.
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

}  // namespace magmadnn
