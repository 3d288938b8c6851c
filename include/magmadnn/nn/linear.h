// nn::Linear: y = x W^T + b with PyTorch's layout (weight (out, in), bias (out)) and its default
// initialisation, so weights and results can be compared with torch.nn.Linear number for number.
#pragma once

#include "magmadnn/nn/module.h"

namespace magmadnn::nn {

struct LinearOptions {
  LinearOptions(int64_t in_features, int64_t out_features)
      : in_features_(in_features), out_features_(out_features) {}
  LinearOptions& bias(bool on) {
    bias_ = on;
    return *this;
  }
  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }
  bool bias() const { return bias_; }

 private:
  int64_t in_features_, out_features_;
  bool bias_ = true;
};

class Linear : public Module {
 public:
  explicit Linear(const LinearOptions& options);
  Linear(int64_t in_features, int64_t out_features, bool bias = true)
      : Linear(LinearOptions(in_features, out_features).bias(bias)) {}

  // x: (..., in_features) -> (..., out_features)
  Tensor forward(const Tensor& x) override;
  std::string name() const override;
  // Draws fresh weights: kaiming_uniform_(a = sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)), and the
  // bias from the same interval.
  void reset_parameters();

  const LinearOptions& options() const { return options_; }
  Tensor& weight() { return weight_; }
  const Tensor& weight() const { return weight_; }
  Tensor& bias() { return bias_; }  // undefined without bias
  const Tensor& bias() const { return bias_; }

 private:
  LinearOptions options_;
  Tensor weight_, bias_;
};

}  // namespace magmadnn::nn
