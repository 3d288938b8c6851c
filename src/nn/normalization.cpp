// BatchNorm1d / BatchNorm2d (parameters, buffers and the forward pass over ops::batch_norm),
// LayerNorm and GroupNorm (over ops::layer_norm and ops::group_norm).
#include "magmadnn/nn/normalization.h"

#include <cmath>

#include "magmadnn/autograd/autograd.h"
#include "magmadnn/ops/ops.h"

namespace magmadnn::nn {

BatchNormBase::BatchNormBase(const char* kind, const BatchNormOptions& o) : kind_(kind), options_(o) {
  const int64_t c = o.num_features();
  MAGMADNN_CHECK(c > 0, kind, ": num_features must be positive, got ", c);
  MAGMADNN_CHECK(o.eps() > 0 && o.momentum() >= 0 && o.momentum() <= 1, kind, "(", c,
                 "): eps must be positive and momentum in [0, 1], got eps=", o.eps(), ", momentum=", o.momentum());
  if (o.affine()) {
    weight_ = register_parameter("weight", Tensor::empty({c}));
    bias_ = register_parameter("bias", Tensor::empty({c}));
  }
  if (o.track_running_stats()) {
    running_mean_ = register_buffer("running_mean", Tensor::empty({c}));
    running_var_ = register_buffer("running_var", Tensor::empty({c}));
    num_batches_tracked_ = register_buffer("num_batches_tracked", zeros({}, kInt64));
  }
  reset_parameters();
}

void BatchNormBase::reset_parameters() {
  NoGradGuard no_grad;
  if (weight_.defined()) weight_.fill_(1.0);
  if (bias_.defined()) bias_.fill_(0.0);
  if (running_mean_.defined()) running_mean_.fill_(0.0);
  if (running_var_.defined()) running_var_.fill_(1.0);
  if (num_batches_tracked_.defined()) num_batches_tracked_.fill_(0.0);
}

std::string BatchNormBase::name() const {
  return detail::str_cat(kind_, "(", options_.num_features(), ", eps=", options_.eps(),
                         ", momentum=", options_.momentum(), ", affine=", options_.affine() ? "true" : "false",
                         ", track_running_stats=", options_.track_running_stats() ? "true" : "false", ")");
}

Tensor BatchNormBase::forward(const Tensor& x) {
  MAGMADNN_CHECK(x.defined(), kind_, "(", options_.num_features(), "): got an undefined input");
  check_input(x);
  // Without running statistics, batch statistics are used in eval mode too (as PyTorch).
  const bool use_batch_stats = is_training() || !options_.track_running_stats();
  if (is_training() && num_batches_tracked_.defined()) {
    // Counted on the tensor's device: no read to the host in a training step.
    backend_for(num_batches_tracked_.device()).increment(num_batches_tracked_);
  }
  if (x.dim() == 3) {  // (N, C, L) is normalised per channel like (N, C, L, 1)
    Tensor y = batch_norm(x.unsqueeze(3), running_mean_, running_var_, weight_, bias_, use_batch_stats,
                          options_.momentum(), options_.eps());
    return y.squeeze(3);
  }
  return batch_norm(x, running_mean_, running_var_, weight_, bias_, use_batch_stats, options_.momentum(),
                    options_.eps());
}

void BatchNorm1d::check_input(const Tensor& x) const {
  MAGMADNN_CHECK((x.dim() == 2 || x.dim() == 3) && x.size(1) == options_.num_features(), "BatchNorm1d(",
                 options_.num_features(), "): expected input (N, ", options_.num_features(), ") or (N, ",
                 options_.num_features(), ", L), got ", x.shape());
}

void BatchNorm2d::check_input(const Tensor& x) const {
  MAGMADNN_CHECK(x.dim() == 4 && x.size(1) == options_.num_features(), "BatchNorm2d(", options_.num_features(),
                 "): expected input (N, ", options_.num_features(), ", H, W), got ", x.shape());
}

namespace {
// The affine parameters of the per-sample norms start as the identity: weight 1, bias 0 (either
// may be absent).
void reset_affine(Tensor& weight, Tensor& bias) {
  NoGradGuard no_grad;
  if (weight.defined()) weight.fill_(1.0);
  if (bias.defined()) bias.fill_(0.0);
}
}  // namespace

LayerNorm::LayerNorm(const LayerNormOptions& o) : options_(o) {
  const Shape& s = o.normalized_shape();
  bool positive = s.size() > 0;
  for (size_t i = 0; i < s.size(); ++i) positive = positive && s[i] > 0;
  MAGMADNN_CHECK(positive, "LayerNorm: normalized_shape must be non-empty with positive sizes, got ", s);
  MAGMADNN_CHECK(o.eps() > 0, "LayerNorm", s, ": eps must be positive, got ", o.eps());
  if (o.elementwise_affine()) {
    weight_ = register_parameter("weight", Tensor::empty(s));
    bias_ = register_parameter("bias", Tensor::empty(s));
  }
  reset_parameters();
}

void LayerNorm::reset_parameters() { reset_affine(weight_, bias_); }

std::string LayerNorm::name() const {
  return detail::str_cat("LayerNorm(", options_.normalized_shape(), ", eps=", options_.eps(),
                         ", elementwise_affine=", options_.elementwise_affine() ? "true" : "false", ")");
}

Tensor LayerNorm::forward(const Tensor& x) {
  MAGMADNN_CHECK(x.defined(), "LayerNorm", options_.normalized_shape(), ": got an undefined input");
  return layer_norm(x, options_.normalized_shape(), weight_, bias_, options_.eps());
}

GroupNorm::GroupNorm(const GroupNormOptions& o) : options_(o) {
  const int64_t g = o.num_groups(), c = o.num_channels();
  MAGMADNN_CHECK(g > 0 && c > 0 && c % g == 0, "GroupNorm(", g, ", ", c, "): ", c,
                 " channels do not split into ", g, " groups");
  MAGMADNN_CHECK(o.eps() > 0, "GroupNorm(", g, ", ", c, "): eps must be positive, got ", o.eps());
  if (o.affine()) {
    weight_ = register_parameter("weight", Tensor::empty({c}));
    bias_ = register_parameter("bias", Tensor::empty({c}));
  }
  reset_parameters();
}

void GroupNorm::reset_parameters() { reset_affine(weight_, bias_); }

std::string GroupNorm::name() const {
  return detail::str_cat("GroupNorm(", options_.num_groups(), ", ", options_.num_channels(), ", eps=", options_.eps(),
                         ", affine=", options_.affine() ? "true" : "false", ")");
}

Tensor GroupNorm::forward(const Tensor& x) {
  MAGMADNN_CHECK(x.defined(), "GroupNorm(", options_.num_groups(), ", ", options_.num_channels(),
                 "): got an undefined input");
  MAGMADNN_CHECK(x.dim() >= 2 && x.size(1) == options_.num_channels(), "GroupNorm(", options_.num_groups(), ", ",
                 options_.num_channels(), "): expected input (N, ", options_.num_channels(), ", *), got ", x.shape());
  return group_norm(x, options_.num_groups(), weight_, bias_, options_.eps());
}

Rescaling::Rescaling(std::vector<double> scale, std::vector<double> offset) {
  MAGMADNN_CHECK(!scale.empty() && scale.size() == offset.size(), "Rescaling: expected scale and offset of one "
                 "length K >= 1, got ", scale.size(), " and ", offset.size());
  for (size_t k = 0; k < scale.size(); ++k)
    MAGMADNN_CHECK(std::isfinite(scale[k]) && std::isfinite(offset[k]), "Rescaling: scale[", k, "] = ", scale[k],
                   " and offset[", k, "] = ", offset[k], " must be finite");
  const auto k = static_cast<int64_t>(scale.size());
  scale_ = register_buffer("scale", from_vector<double>(scale, {k}).to(kFloat32));
  offset_ = register_buffer("offset", from_vector<double>(offset, {k}).to(kFloat32));
}

std::string Rescaling::name() const { return detail::str_cat("Rescaling(", scale_.numel(), ")"); }

// x: (N, K, *) -> x * scale[k] + offset[k] along dimension 1.
Tensor Rescaling::forward(const Tensor& x) {
  const int64_t k = scale_.numel();
  MAGMADNN_CHECK(x.defined() && x.dim() >= 2 && x.size(1) == k, "Rescaling(", k, "): expected input (N, ", k,
                 ", *), got ", x.defined() ? x.shape().str() : std::string("an undefined tensor"));
  std::vector<int64_t> per_feature(static_cast<size_t>(x.dim()), 1);
  per_feature[1] = k;
  const Tensor s = scale_.to(x.dtype()).reshape(Shape(per_feature));
  const Tensor o = offset_.to(x.dtype()).reshape(Shape(per_feature));
  return add(mul(x, s), o);
}

}  // namespace magmadnn::nn
