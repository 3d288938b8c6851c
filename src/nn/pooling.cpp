// Pooling modules: argument checks with the module's name, then the pooling ops.
#include "magmadnn/nn/pooling.h"

namespace magmadnn::nn {

namespace {
std::string pool_name(const char* kind, const Pool2dOptions& o) {
  const Size2 s = o.stride().value_or(o.kernel_size());
  return detail::str_cat(
      kind, "(kernel_size=(", o.kernel_size().h, ", ", o.kernel_size().w, "), stride=(", s.h, ", ", s.w,
      "), padding=(", o.padding().h, ", ", o.padding().w, ")", o.ceil_mode() ? ", ceil_mode=true" : "",
      std::string(kind) == "AvgPool2d" && !o.count_include_pad() ? ", count_include_pad=false" : "", ")");
}
void check_options(const char* kind, const Pool2dOptions& o) {
  const Size2 k = o.kernel_size(), s = o.stride().value_or(k), p = o.padding();
  MAGMADNN_CHECK(k.h > 0 && k.w > 0 && s.h > 0 && s.w > 0, kind,
                 ": kernel_size and stride must be positive, got kernel_size=(", k.h, ", ", k.w,
                 "), stride=(", s.h, ", ", s.w, ")");
  MAGMADNN_CHECK(p.h >= 0 && p.w >= 0 && 2 * p.h <= k.h && 2 * p.w <= k.w, kind,
                 ": padding must be between 0 and half the kernel size, got padding=(", p.h, ", ", p.w,
                 ") for kernel_size=(", k.h, ", ", k.w, ")");
}
void check_nchw(const std::string& name, const Tensor& x) {
  MAGMADNN_CHECK(x.defined() && x.dim() == 4, name, ": expected input (N, C, H, W), got ",
                 x.defined() ? x.shape().str() : "an undefined tensor");
}
}  // namespace

MaxPool2d::MaxPool2d(const Pool2dOptions& options) : options_(options) {
  check_options("MaxPool2d", options_);
}
AvgPool2d::AvgPool2d(const Pool2dOptions& options) : options_(options) {
  check_options("AvgPool2d", options_);
}
AdaptiveAvgPool2d::AdaptiveAvgPool2d(Size2 output_size) : output_size_(output_size) {
  MAGMADNN_CHECK(output_size.h > 0 && output_size.w > 0,
                 "AdaptiveAvgPool2d: output_size must be positive, got (", output_size.h, ", ", output_size.w,
                 ")");
}

std::string MaxPool2d::name() const {
  return pool_name("MaxPool2d", options_);
}
Tensor MaxPool2d::forward(const Tensor& x) {
  check_nchw(name(), x);
  return max_pool2d(x, options_.kernel_size(), options_.stride(), options_.padding(), options_.ceil_mode());
}

std::string AvgPool2d::name() const {
  return pool_name("AvgPool2d", options_);
}
Tensor AvgPool2d::forward(const Tensor& x) {
  check_nchw(name(), x);
  return avg_pool2d(x, options_.kernel_size(), options_.stride(), options_.padding(), options_.ceil_mode(),
                    options_.count_include_pad());
}

std::string AdaptiveAvgPool2d::name() const {
  return detail::str_cat("AdaptiveAvgPool2d(output_size=(", output_size_.h, ", ", output_size_.w, "))");
}
Tensor AdaptiveAvgPool2d::forward(const Tensor& x) {
  check_nchw(name(), x);
  return adaptive_avg_pool2d(x, output_size_);
}

}  // namespace magmadnn::nn
