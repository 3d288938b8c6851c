// Loss functions: fused cross-entropy on integer labels, mean squared error, L1.
#include "magmadnn/ops/ops.h"
#include "ops/op_utils.h"

namespace magmadnn {

using autograd::NeedsGrad;

namespace {
Tensor reduce_loss(const Tensor& per_element, Reduction reduction) {
  switch (reduction) {
    case Reduction::None: return per_element;
    case Reduction::Sum: return sum(per_element);
    case Reduction::Mean: return mean(per_element);
  }
  return per_element;
}
}  // namespace

Tensor cross_entropy(const Tensor& logits_in, const Tensor& target, const Tensor& weight, Reduction reduction,
                     double label_smoothing) {
  detail::check_floating("cross_entropy", logits_in);
  detail::check_defined("cross_entropy", target);
  MAGMADNN_CHECK(logits_in.dim() == 2, "cross_entropy: expected logits (N, C), got ", logits_in.shape());
  const int64_t N = logits_in.size(0), C = logits_in.size(1);
  MAGMADNN_CHECK(target.dtype() == kInt64, "cross_entropy: expected int64 class indices as target, got ",
                 target.dtype(), " of shape ", target.shape());
  MAGMADNN_CHECK(target.dim() == 1 && target.size(0) == N, "cross_entropy: logits ", logits_in.shape(),
                 " need a target of shape (", N, "), got ", target.shape());
  MAGMADNN_CHECK(target.device() == logits_in.device(), "cross_entropy: target is on ", target.device(),
                 " but logits are on ", logits_in.device());
  MAGMADNN_CHECK(N > 0 && C > 0, "cross_entropy: empty logits of shape ", logits_in.shape());
  if (weight.defined()) {
    detail::check_compatible("cross_entropy", logits_in, weight);
    MAGMADNN_CHECK(weight.dim() == 1 && weight.size(0) == C, "cross_entropy: expected class weights of shape (", C,
                   "), got ", weight.shape());
  }
  MAGMADNN_CHECK(label_smoothing >= 0 && label_smoothing < 1, "cross_entropy: label_smoothing must be in [0, 1), got ",
                 label_smoothing);
  if (label_smoothing > 0) {
    // (1 - e) * the usual loss + e * the cross-entropy against the uniform distribution
    // (class-weighted), reduced like the usual loss: the mean divides by the targets' weights.
    Tensor nll = cross_entropy(logits_in, target, weight, reduction == Reduction::Mean ? Reduction::Sum : reduction);
    Tensor neg_logp = neg(log_softmax(logits_in, 1));                       // (N, C)
    if (weight.defined()) neg_logp = mul(neg_logp, weight);                 // (N, C) * (C)
    Tensor smooth = div(sum(neg_logp, {1}), static_cast<double>(C));       // (N)
    if (reduction != Reduction::None) smooth = sum(smooth);
    Tensor loss = add(mul(nll, 1 - label_smoothing), mul(smooth, label_smoothing));
    if (reduction != Reduction::Mean) return loss;
    // Divide by the targets' summed weight as a tensor: no host synchronisation.
    return weight.defined() ? div(loss, sum(index_select(weight.detach(), 0, target))) : div(loss, static_cast<double>(N));
  }
  Tensor logits = logits_in.contiguous(), tgt = target.contiguous();
  Tensor w = weight.defined() ? weight.contiguous() : Tensor();
  Tensor log_probs = Tensor::empty({N, C}, logits.dtype(), logits.device());
  Tensor loss = Tensor::empty(reduction == Reduction::None ? Shape{N} : Shape{}, logits.dtype(), logits.device());
  backend_for(logits.device()).cross_entropy(logits.detach(), tgt, w, reduction, log_probs, loss);
  autograd::record("cross_entropy", {logits_in, weight}, loss,
                   [log_probs, tgt, w, reduction](const Tensor& g, const NeedsGrad& n) {
                     Tensor gl = Tensor::empty(log_probs.shape(), log_probs.dtype(), log_probs.device());
                     backend_for(gl.device()).cross_entropy_backward(log_probs, tgt, w, reduction, g.contiguous(), gl);
                     return std::vector<Tensor>{gl, Tensor()};  // class weights get no gradient
                   });
  return loss;
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  detail::check_compatible("mse_loss", input, target);
  MAGMADNN_CHECK(input.shape() == target.shape(), "mse_loss: input shape ", input.shape(), " differs from target ",
                 target.shape());
  return reduce_loss(square(sub(input, target)), reduction);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  detail::check_compatible("l1_loss", input, target);
  MAGMADNN_CHECK(input.shape() == target.shape(), "l1_loss: input shape ", input.shape(), " differs from target ",
                 target.shape());
  return reduce_loss(abs(sub(input, target)), reduction);
}

}  // namespace magmadnn
