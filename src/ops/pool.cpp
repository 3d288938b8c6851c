// Pooling ops: max_pool2d, avg_pool2d, adaptive_avg_pool2d with their backward. Output sizes
// follow PyTorch (pooling_output_shape), including the ceil_mode rule that a window must start
// inside the input or its left padding.
#include "magmadnn/ops/ops.h"
#include "ops/op_utils.h"

namespace magmadnn {

using autograd::NeedsGrad;

namespace {

int64_t pooled_size(int64_t in, int64_t k, int64_t pad, int64_t stride, bool ceil_mode) {
  const int64_t num = in + 2 * pad - k + (ceil_mode ? stride - 1 : 0);
  int64_t out = (num >= 0 ? num / stride : -((-num + stride - 1) / stride)) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

Tensor pool_impl(const char* name, PoolKind kind, const Tensor& x, Size2 kernel, std::optional<Size2> stride_opt,
                 Size2 padding, bool ceil_mode) {
  detail::check_floating(name, x);
  MAGMADNN_CHECK(x.dim() == 4, name, ": expected input (N, C, H, W), got ", x.shape());
  const Size2 stride = stride_opt ? *stride_opt : kernel;
  MAGMADNN_CHECK(kernel.h > 0 && kernel.w > 0, name, ": kernel size must be positive, got (", kernel.h, ", ",
                 kernel.w, ")");
  MAGMADNN_CHECK(stride.h > 0 && stride.w > 0, name, ": stride must be positive, got (", stride.h, ", ", stride.w,
                 ")");
  MAGMADNN_CHECK(padding.h >= 0 && padding.w >= 0 && 2 * padding.h <= kernel.h && 2 * padding.w <= kernel.w, name,
                 ": padding (", padding.h, ", ", padding.w, ") must be non-negative and at most half the kernel (",
                 kernel.h, ", ", kernel.w, ")");
  const int64_t OH = pooled_size(x.size(2), kernel.h, padding.h, stride.h, ceil_mode);
  const int64_t OW = pooled_size(x.size(3), kernel.w, padding.w, stride.w, ceil_mode);
  MAGMADNN_CHECK(OH > 0 && OW > 0, name, ": kernel (", kernel.h, ", ", kernel.w, ") with padding (", padding.h, ", ",
                 padding.w, ") is larger than the input ", x.shape(), " (output would be ", OH, "x", OW, ")");
  const Pool2dParams p{kind, kernel.h, kernel.w, stride.h, stride.w, padding.h, padding.w};
  // x: (N, C, H, W) -> y: (N, C, OH, OW)
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty({x.size(0), x.size(1), OH, OW}, x.dtype(), x.device());
  Tensor workspace;
  backend_for(x.device()).pool2d(xc, y, workspace, p);
  autograd::record(name, {x}, y, [p, workspace, xs = x.shape()](const Tensor& g, const NeedsGrad&) {
    Tensor gx = Tensor::empty(xs, g.dtype(), g.device());
    backend_for(g.device()).pool2d_backward(g.contiguous(), workspace, gx, p);
    return std::vector<Tensor>{gx};
  });
  return y;
}

}  // namespace

Tensor max_pool2d(const Tensor& x, Size2 kernel, std::optional<Size2> stride, Size2 padding, bool ceil_mode) {
  return pool_impl("max_pool2d", PoolKind::Max, x, kernel, stride, padding, ceil_mode);
}

Tensor avg_pool2d(const Tensor& x, Size2 kernel, std::optional<Size2> stride, Size2 padding, bool ceil_mode,
                  bool count_include_pad) {
  return pool_impl("avg_pool2d", count_include_pad ? PoolKind::AvgIncludePad : PoolKind::AvgExcludePad, x, kernel,
                   stride, padding, ceil_mode);
}

Tensor adaptive_avg_pool2d(const Tensor& x, Size2 output_size) {
  detail::check_floating("adaptive_avg_pool2d", x);
  MAGMADNN_CHECK(x.dim() == 4, "adaptive_avg_pool2d: expected input (N, C, H, W), got ", x.shape());
  MAGMADNN_CHECK(output_size.h > 0 && output_size.w > 0, "adaptive_avg_pool2d: output size must be positive, got (",
                 output_size.h, ", ", output_size.w, ")");
  MAGMADNN_CHECK(x.size(2) > 0 && x.size(3) > 0, "adaptive_avg_pool2d: expected a non-empty spatial input, got ",
                 x.shape());
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty({x.size(0), x.size(1), output_size.h, output_size.w}, x.dtype(), x.device());
  backend_for(x.device()).adaptive_avg_pool2d(xc, y);
  autograd::record("adaptive_avg_pool2d", {x}, y, [xs = x.shape()](const Tensor& g, const NeedsGrad&) {
    Tensor gx = Tensor::empty(xs, g.dtype(), g.device());
    backend_for(g.device()).adaptive_avg_pool2d_backward(g.contiguous(), gx);
    return std::vector<Tensor>{gx};
  });
  return y;
}

}  // namespace magmadnn
