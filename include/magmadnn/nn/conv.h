// nn::Conv2d: 2-D convolution over NCHW input with PyTorch's options (stride, padding with zeros
// or circular wrap-around, dilation, groups, bias) and its default initialisation.
#pragma once

#include "magmadnn/nn/module.h"
#include "magmadnn/ops/ops.h"

namespace magmadnn::nn {

struct Conv2dOptions {
  Conv2dOptions(int64_t in_channels, int64_t out_channels, Size2 kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  Conv2dOptions& stride(Size2 v) { args_.stride = v; return *this; }
  Conv2dOptions& padding(Size2 v) { args_.padding = v; return *this; }
  Conv2dOptions& dilation(Size2 v) { args_.dilation = v; return *this; }
  Conv2dOptions& groups(int64_t v) { args_.groups = v; return *this; }
  Conv2dOptions& padding_mode(PaddingMode v) { args_.padding_mode = v; return *this; }
  Conv2dOptions& bias(bool v) { bias_ = v; return *this; }

  int64_t in_channels() const { return in_channels_; }
  int64_t out_channels() const { return out_channels_; }
  Size2 kernel_size() const { return kernel_size_; }
  const Conv2dArgs& args() const { return args_; }
  bool bias() const { return bias_; }

 private:
  int64_t in_channels_, out_channels_;
  Size2 kernel_size_;
  Conv2dArgs args_;
  bool bias_ = true;
};

class Conv2d : public Module {
 public:
  explicit Conv2d(const Conv2dOptions& options);

  // x: (N, in_channels, H, W) -> (N, out_channels, OH, OW)
  Tensor forward(const Tensor& x) override;
  std::string name() const override;  // "Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1))"
  // kaiming_uniform_(a = sqrt(5)) on the weight, bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  void reset_parameters();

  const Conv2dOptions& options() const { return options_; }
  Tensor& weight() { return weight_; }  // (out, in / groups, kH, kW)
  const Tensor& weight() const { return weight_; }
  Tensor& bias() { return bias_; }      // (out) or undefined
  // Gives the layer a bias (zeros) if it has none: used when folding a BatchNorm into it.
  Tensor& ensure_bias();
  // Applies ReLU to the output as part of this layer (in place when no gradient is recorded).
  void set_fused_relu(bool on) { fused_relu_ = on; }
  bool fused_relu() const { return fused_relu_; }

 private:
  Conv2dOptions options_;
  Tensor weight_, bias_;
  bool fused_relu_ = false;
};

}  // namespace magmadnn::nn
