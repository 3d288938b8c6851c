// Pooling modules over NCHW input: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d (global average
// pooling with output size 1), with PyTorch's options and output-size rules.
#pragma once

#include <optional>

#include "magmadnn/nn/module.h"
#include "magmadnn/ops/ops.h"

namespace magmadnn::nn {

struct Pool2dOptions {
  explicit Pool2dOptions(Size2 kernel_size) : kernel_size_(kernel_size) {}
  Pool2dOptions& stride(Size2 v) { stride_ = v; return *this; }  // default: the kernel size
  Pool2dOptions& padding(Size2 v) { padding_ = v; return *this; }
  Pool2dOptions& ceil_mode(bool v) { ceil_mode_ = v; return *this; }
  Pool2dOptions& count_include_pad(bool v) { count_include_pad_ = v; return *this; }  // AvgPool2d only

  Size2 kernel_size() const { return kernel_size_; }
  std::optional<Size2> stride() const { return stride_; }
  Size2 padding() const { return padding_; }
  bool ceil_mode() const { return ceil_mode_; }
  bool count_include_pad() const { return count_include_pad_; }

 private:
  Size2 kernel_size_;
  std::optional<Size2> stride_;
  Size2 padding_{0, 0};
  bool ceil_mode_ = false, count_include_pad_ = true;
};
using MaxPool2dOptions = Pool2dOptions;
using AvgPool2dOptions = Pool2dOptions;

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(const Pool2dOptions& options) : options_(options) {}
  explicit MaxPool2d(Size2 kernel_size) : options_(kernel_size) {}
  Tensor forward(const Tensor& x) override;
  std::string name() const override;

 private:
  Pool2dOptions options_;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(const Pool2dOptions& options) : options_(options) {}
  explicit AvgPool2d(Size2 kernel_size) : options_(kernel_size) {}
  Tensor forward(const Tensor& x) override;
  std::string name() const override;

 private:
  Pool2dOptions options_;
};

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(Size2 output_size) : output_size_(output_size) {}
  Tensor forward(const Tensor& x) override;
  std::string name() const override;

 private:
  Size2 output_size_;
};

}  // namespace magmadnn::nn
