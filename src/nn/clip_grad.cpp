// clip_grad_norm_ and clip_grad_value_ (see nn/clip_grad.h), composed of ops so every backend runs
// them: one reduction per gradient, partial norms summed in float64, one scale per gradient.
#include "magmadnn/nn/clip_grad.h"

#include <cmath>
#include <limits>

#include "magmadnn/autograd/autograd.h"
#include "magmadnn/core/error.h"
#include "magmadnn/ops/ops.h"

namespace magmadnn::nn::utils {

namespace {

// The defined gradients of `parameters`, all on one device.
std::vector<Tensor> gradients(const std::vector<Tensor>& parameters, const char* op) {
  std::vector<Tensor> grads;
  for (const Tensor& p : parameters) {
    MAGMADNN_CHECK(p.defined(), op, ": undefined parameter");
    Tensor g = p.grad();
    if (!g.defined()) continue;
    MAGMADNN_CHECK(is_floating(g.dtype()), op, ": gradient of dtype ", g.dtype(), " (shape ", g.shape(),
                   ") is not floating point");
    MAGMADNN_CHECK(grads.empty() || g.device() == grads.front().device(), op, ": gradients on ",
                   grads.front().device(), " and ", g.device(), "; clip the parameters of one device at a time");
    grads.push_back(std::move(g));
  }
  return grads;
}

}  // namespace

Tensor clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm, double norm_type,
                       bool error_if_nonfinite, const std::function<void(Tensor&)>& combine) {
  MAGMADNN_CHECK(std::isfinite(max_norm) && max_norm >= 0, "clip_grad_norm_: max_norm must be finite and >= 0, got ",
                 max_norm);
  const bool inf_norm = std::isinf(norm_type) && norm_type > 0;
  MAGMADNN_CHECK(inf_norm || (std::isfinite(norm_type) && norm_type > 0),
                 "clip_grad_norm_: norm_type must be positive or infinity, got ", norm_type);
  MAGMADNN_CHECK(!(combine && inf_norm), "clip_grad_norm_: combining partial norms across processes needs a finite ",
                 "norm_type, got inf");
  autograd::NoGradGuard no_grad;
  const std::vector<Tensor> grads = gradients(parameters, "clip_grad_norm_");

  // total: max |g| (inf), or (sum of sum |g|^p)^(1/p), accumulated in float64.
  Tensor total;
  for (const Tensor& g : grads) {
    if (g.numel() == 0) continue;  // no contribution (and max of nothing is undefined)
    Tensor part;
    if (inf_norm)
      part = max(abs(g));
    else if (norm_type == 2.0)
      part = sum(square(g));
    else if (norm_type == 1.0)
      part = sum(abs(g));
    else
      part = sum(pow(abs(g), norm_type));
    part = part.to(kFloat64);
    total = !total.defined() ? part : inf_norm ? maximum(total, part) : add(total, part);
  }
  if (!total.defined()) total = zeros({}, kFloat64, grads.empty() ? Device::cpu() : grads.front().device());
  if (combine) combine(total);  // every process takes part, with or without gradients of its own
  if (!inf_norm) total = norm_type == 2.0 ? sqrt(total) : norm_type == 1.0 ? total : pow(total, 1.0 / norm_type);

  if (error_if_nonfinite) {
    const double value = total.item<double>();
    MAGMADNN_CHECK(std::isfinite(value), "clip_grad_norm_: the total norm of order ", norm_type, " of the gradients of ",
                   grads.size(), " parameters is ", value, ", so they cannot be clipped (a NaN or infinite gradient; ",
                   "try a smaller learning rate)");
  }
  // coef = min(1, max_norm / (total + 1e-6)): gradients within the bound stay exactly as they are.
  const Tensor coef = clamp(max_norm / add(total, 1e-6), std::nullopt, 1.0);
  scale_grad_(parameters, coef);
  return total;
}

void scale_grad_(const std::vector<Tensor>& parameters, const Tensor& factor) {
  autograd::NoGradGuard no_grad;
  Tensor cast = factor;  // converted once to the gradients' dtype, not once per gradient
  for (const Tensor& p : parameters) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (cast.dtype() != g.dtype()) cast = factor.to(g.dtype());
    if (g.is_contiguous())
      g.mul_(cast);  // in place: the optimizer (and DDP's buckets) keep the same storage
    else  // e.g. a broadcast view that backward left: a fresh gradient
      Tensor(p).set_grad(mul(g, cast));
  }
}

void clip_grad_value_(const std::vector<Tensor>& parameters, double clip_value) {
  MAGMADNN_CHECK(std::isfinite(clip_value) && clip_value >= 0,
                 "clip_grad_value_: clip_value must be finite and >= 0, got ", clip_value);
  autograd::NoGradGuard no_grad;
  gradients(parameters, "clip_grad_value_");  // checks
  for (const Tensor& p : parameters)
    if (p.grad().defined()) Tensor(p).set_grad(clamp(p.grad(), -clip_value, clip_value));
}

}  // namespace magmadnn::nn::utils
