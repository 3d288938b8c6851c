// nn::Conv2d: parameters, PyTorch's default initialisation and the forward pass.
#include "magmadnn/nn/conv.h"

#include <cmath>

#include "magmadnn/nn/init.h"

namespace magmadnn::nn {

Conv2d::Conv2d(const Conv2dOptions& o) : options_(o) {
  const Size2 k = o.kernel_size();
  const Conv2dArgs& a = o.args();
  MAGMADNN_CHECK(o.in_channels() > 0 && o.out_channels() > 0 && k.h > 0 && k.w > 0,
                 "Conv2d: channels and kernel_size must be positive, got in=", o.in_channels(),
                 ", out=", o.out_channels(), ", kernel_size=(", k.h, ", ", k.w, ")");
  MAGMADNN_CHECK(a.groups > 0 && o.in_channels() % a.groups == 0 && o.out_channels() % a.groups == 0,
                 "Conv2d: groups=", a.groups, " must divide in_channels=", o.in_channels(),
                 " and out_channels=", o.out_channels());
  MAGMADNN_CHECK(a.stride.h > 0 && a.stride.w > 0 && a.dilation.h > 0 && a.dilation.w > 0 && a.padding.h >= 0 &&
                     a.padding.w >= 0,
                 "Conv2d: stride and dilation must be positive and padding non-negative");
  weight_ = register_parameter("weight", Tensor::empty({o.out_channels(), o.in_channels() / a.groups, k.h, k.w}));
  if (o.bias()) bias_ = register_parameter("bias", Tensor::empty({o.out_channels()}));
  reset_parameters();
}

void Conv2d::reset_parameters() {
  init::kaiming_uniform_(weight_, std::sqrt(5.0));
  if (bias_.defined()) {
    const double fan_in = static_cast<double>(weight_.numel() / weight_.size(0));
    init::uniform_(bias_, -1.0 / std::sqrt(fan_in), 1.0 / std::sqrt(fan_in));
  }
}

Tensor& Conv2d::ensure_bias() {
  if (!bias_.defined()) bias_ = register_parameter("bias", zeros({options_.out_channels()}, weight_.dtype(), weight_.device()));
  return bias_;
}

std::string Conv2d::name() const {
  const Conv2dArgs& a = options_.args();
  std::string s = detail::str_cat("Conv2d(", options_.in_channels(), ", ", options_.out_channels(), ", kernel_size=(",
                                  options_.kernel_size().h, ", ", options_.kernel_size().w, "), stride=(", a.stride.h,
                                  ", ", a.stride.w, ")");
  if (a.padding.h || a.padding.w) s += detail::str_cat(", padding=(", a.padding.h, ", ", a.padding.w, ")");
  if (a.dilation.h != 1 || a.dilation.w != 1) s += detail::str_cat(", dilation=(", a.dilation.h, ", ", a.dilation.w, ")");
  if (a.groups != 1) s += detail::str_cat(", groups=", a.groups);
  if (a.padding_mode == PaddingMode::Circular) s += ", padding_mode=circular";
  if (!bias_.defined()) s += ", bias=false";
  if (fused_relu_) s += ", fused_relu=true";
  return s + ")";
}

Tensor Conv2d::forward(const Tensor& x) {
  MAGMADNN_CHECK(x.defined(), name(), ": got an undefined input");
  MAGMADNN_CHECK(x.dim() == 4 && x.size(1) == options_.in_channels(), name(), ": expected input (N, ",
                 options_.in_channels(), ", H, W), got ", x.shape());
  Tensor y = conv2d(x, weight_, bias_, options_.args());
  if (!fused_relu_) return y;
  if (y.requires_grad()) return relu(y);
  backend_for(y.device()).unary(UnaryOp::Relu, y, y);  // no graph: overwrite, no extra tensor
  return y;
}

}  // namespace magmadnn::nn
