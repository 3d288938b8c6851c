// Pooling modules over NCHW input: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d (global average
// pooling with output size 1), with PyTorch's options and output-size rules.
#pragma once

#include <optional>

#include "magmadnn/nn/module.h"
#include "magmadnn/ops/ops.h"

namespace magmadnn::nn {

struct Pool2dOptions {
  explicit Pool2dOptions(Size2 kernel_size) : kernel_size_(kernel_size) {}
  Pool2dOptions& stride(Size2 v) {
    stride_ = v;
    return *this;
  }  // default: the kernel size
  Pool2dOptions& padding(Size2 v) {
    padding_ = v;
    return *this;
  }
  Pool2dOptions& ceil_mode(bool v) {
    ceil_mode_ = v;
    return *this;
  }
  Pool2dOptions& count_include_pad(bool v) {
    count_include_pad_ = v;
    return *this;
  }  // AvgPool2d only

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
  // x: (N, C, H, W) -> (N, C, OH, OW), OH = floor_or_ceil((H + 2 * pad - kernel) / stride) + 1
  // Rejects non-positive kernel or stride and padding outside [0, kernel / 2] (PyTorch's rule).
  explicit MaxPool2d(const Pool2dOptions& options);
  explicit MaxPool2d(Size2 kernel_size) : MaxPool2d(Pool2dOptions(kernel_size)) {}
  Tensor forward(const Tensor& x) override;
  std::string name() const override;
  const Pool2dOptions& options() const { return options_; }

 private:
  Pool2dOptions options_;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(const Pool2dOptions& options);
  explicit AvgPool2d(Size2 kernel_size) : AvgPool2d(Pool2dOptions(kernel_size)) {}
  Tensor forward(const Tensor& x) override;
  std::string name() const override;
  const Pool2dOptions& options() const { return options_; }

 private:
  Pool2dOptions options_;
};

// Averages over PyTorch's adaptive windows [floor(i * H / OH), ceil((i + 1) * H / OH)).
class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(Size2 output_size);
  Tensor forward(const Tensor& x) override;
  std::string name() const override;
  Size2 output_size() const { return output_size_; }

 private:
  Size2 output_size_;
};

}  // namespace magmadnn::nn
