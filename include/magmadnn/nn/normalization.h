// Normalisation modules with PyTorch's semantics. Batch norm: affine weight and bias, running
// mean and variance (momentum convention running = (1 - momentum) * running + momentum * batch),
// batch statistics in train mode and running statistics in eval mode; state-dict keys as PyTorch:
// weight, bias, running_mean, running_var, num_batches_tracked. Layer norm and group norm: the
// statistics of each sample (no running state, the same in train and eval mode), keys weight and
// bias.
#pragma once

#include <utility>
#include <vector>

#include "magmadnn/nn/module.h"

namespace magmadnn::nn {

struct BatchNormOptions {
  explicit BatchNormOptions(int64_t num_features) : num_features_(num_features) {}
  BatchNormOptions& eps(double v) { eps_ = v; return *this; }
  BatchNormOptions& momentum(double v) { momentum_ = v; return *this; }
  BatchNormOptions& affine(bool v) { affine_ = v; return *this; }
  BatchNormOptions& track_running_stats(bool v) { track_running_stats_ = v; return *this; }

  int64_t num_features() const { return num_features_; }
  double eps() const { return eps_; }
  double momentum() const { return momentum_; }
  bool affine() const { return affine_; }
  bool track_running_stats() const { return track_running_stats_; }

 private:
  int64_t num_features_;
  double eps_ = 1e-5, momentum_ = 0.1;
  bool affine_ = true, track_running_stats_ = true;
};

// Shared by BatchNorm1d and BatchNorm2d, which differ in the input ranks they accept.
class BatchNormBase : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string name() const override;
  void reset_parameters();  // weight 1, bias 0, running mean 0, running var 1

  const BatchNormOptions& options() const { return options_; }
  Tensor& weight() { return weight_; }
  Tensor& bias() { return bias_; }
  Tensor& running_mean() { return running_mean_; }
  Tensor& running_var() { return running_var_; }

 protected:
  BatchNormBase(const char* kind, const BatchNormOptions& options);
  virtual void check_input(const Tensor& x) const = 0;

  const char* kind_;
  BatchNormOptions options_;
  Tensor weight_, bias_, running_mean_, running_var_, num_batches_tracked_;
};

// Input (N, C) or (N, C, L).
class BatchNorm1d : public BatchNormBase {
 public:
  explicit BatchNorm1d(const BatchNormOptions& options) : BatchNormBase("BatchNorm1d", options) {}
  explicit BatchNorm1d(int64_t num_features) : BatchNorm1d(BatchNormOptions(num_features)) {}

 private:
  void check_input(const Tensor& x) const override;
};

// Input (N, C, H, W).
class BatchNorm2d : public BatchNormBase {
 public:
  explicit BatchNorm2d(const BatchNormOptions& options) : BatchNormBase("BatchNorm2d", options) {}
  explicit BatchNorm2d(int64_t num_features) : BatchNorm2d(BatchNormOptions(num_features)) {}

 private:
  void check_input(const Tensor& x) const override;
};

struct LayerNormOptions {
  explicit LayerNormOptions(Shape normalized_shape) : normalized_shape_(std::move(normalized_shape)) {}
  LayerNormOptions& eps(double v) { eps_ = v; return *this; }
  LayerNormOptions& elementwise_affine(bool v) { elementwise_affine_ = v; return *this; }

  const Shape& normalized_shape() const { return normalized_shape_; }
  double eps() const { return eps_; }
  bool elementwise_affine() const { return elementwise_affine_; }

 private:
  Shape normalized_shape_;
  double eps_ = 1e-5;
  bool elementwise_affine_ = true;
};

// Input (..., *normalized_shape): each sample normalised over its last dimensions (layer_norm);
// weight (1) and bias (0) of shape normalized_shape when elementwise_affine.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(const LayerNormOptions& options);
  explicit LayerNorm(int64_t features) : LayerNorm(LayerNormOptions(Shape{features})) {}
  Tensor forward(const Tensor& x) override;
  std::string name() const override;
  void reset_parameters();  // weight 1, bias 0

  const LayerNormOptions& options() const { return options_; }
  Tensor& weight() { return weight_; }
  Tensor& bias() { return bias_; }

 private:
  LayerNormOptions options_;
  Tensor weight_, bias_;
};

struct GroupNormOptions {
  GroupNormOptions(int64_t num_groups, int64_t num_channels) : num_groups_(num_groups), num_channels_(num_channels) {}
  GroupNormOptions& eps(double v) { eps_ = v; return *this; }
  GroupNormOptions& affine(bool v) { affine_ = v; return *this; }

  int64_t num_groups() const { return num_groups_; }
  int64_t num_channels() const { return num_channels_; }
  double eps() const { return eps_; }
  bool affine() const { return affine_; }

 private:
  int64_t num_groups_, num_channels_;
  double eps_ = 1e-5;
  bool affine_ = true;
};

// Input (N, C, *) with C = num_channels: group_norm over num_groups groups of channels; per-channel
// weight (1) and bias (0) when affine. Independent of the batch size (unlike batch norm), so it
// suits small per-rank batches.
class GroupNorm : public Module {
 public:
  explicit GroupNorm(const GroupNormOptions& options);
  GroupNorm(int64_t num_groups, int64_t num_channels) : GroupNorm(GroupNormOptions(num_groups, num_channels)) {}
  Tensor forward(const Tensor& x) override;
  std::string name() const override;
  void reset_parameters();  // weight 1, bias 0

  const GroupNormOptions& options() const { return options_; }
  Tensor& weight() { return weight_; }
  Tensor& bias() { return bias_; }

 private:
  GroupNormOptions options_;
  Tensor weight_, bias_;
};

// y = x * scale + offset per feature: input (N, K) or (N, K, *) with K = scale's length; scale and
// offset are fixed buffers (state-dict keys "scale", "offset"), not parameters (Keras's Rescaling,
// per feature). The CLI ends a regression model with it to map standardised outputs to the
// targets' units: the network learns outputs of mean 0 and spread 1 whatever the targets' offset
// and scale.
class Rescaling : public Module {
 public:
  Rescaling(std::vector<double> scale, std::vector<double> offset);
  Tensor forward(const Tensor& x) override;
  std::string name() const override;

  const Tensor& scale() const { return scale_; }
  const Tensor& offset() const { return offset_; }

 private:
  Tensor scale_, offset_;  // (K,)
};

}  // namespace magmadnn::nn
