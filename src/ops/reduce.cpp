// Reductions over given axes (or all): sum, mean, max, min, and argmax.
#include <algorithm>

#include "magmadnn/ops/ops.h"
#include "ops/op_utils.h"

namespace magmadnn {

using autograd::NeedsGrad;

std::vector<int64_t> detail::normalize_axes(const char* op, const std::vector<int64_t>& dims, int64_t ndim) {
  std::vector<int64_t> axes;
  if (dims.empty()) {
    for (int64_t d = 0; d < ndim; ++d) axes.push_back(d);
    return axes;
  }
  for (int64_t d : dims) axes.push_back(wrap_dim(d, ndim, op));
  std::sort(axes.begin(), axes.end());
  MAGMADNN_CHECK(std::adjacent_find(axes.begin(), axes.end()) == axes.end(), op, ": repeated dimension in reduction");
  if (ndim == 0) axes.clear();
  return axes;
}

namespace {
Shape keepdim_shape(const Shape& s, const std::vector<int64_t>& axes) {
  std::vector<int64_t> out(s.begin(), s.end());
  for (int64_t a : axes) out[a] = 1;
  return Shape(out);
}
Shape dropped_shape(const Shape& s, const std::vector<int64_t>& axes) {
  std::vector<int64_t> out;
  for (int64_t d = 0; d < s.dim(); ++d)
    if (!std::binary_search(axes.begin(), axes.end(), d)) out.push_back(s[d]);
  return Shape(out);
}

Tensor reduce_raw(const char* name, ReduceOp op, const Tensor& x, const std::vector<int64_t>& axes) {
  Tensor out = Tensor::empty(keepdim_shape(x.shape(), axes), x.dtype(), x.device());
  if (out.numel() > 0) backend_for(x.device()).reduce(op, x, axes, out);
  return out;
}

Tensor reduction(const char* name, ReduceOp op, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  detail::check_floating(name, x);
  const std::vector<int64_t> axes = detail::normalize_axes(name, dims, x.dim());
  if (op == ReduceOp::Max || op == ReduceOp::Min)
    for (int64_t a : axes)
      MAGMADNN_CHECK(x.shape()[a] > 0, name, ": cannot reduce over empty dimension ", a, " of shape ", x.shape());
  Tensor kept = reduce_raw(name, op, x, axes);
  Tensor out = keepdim ? kept : make_view(kept, dropped_shape(x.shape(), axes),
                                          contiguous_strides(dropped_shape(x.shape(), axes)), 0);
  if (!autograd::any_requires_grad({x})) return out;
  int64_t count = 1;
  for (int64_t a : axes) count *= x.shape()[a];
  autograd::record(name, {x}, out,
                   [op, axes, x = x.detach(), kept = kept.detach(), count](const Tensor& g, const NeedsGrad&) {
                     // The gradient, broadcast back over the reduced axes.
                     Tensor gk = reshape(g, kept.shape());
                     Tensor gx;
                     switch (op) {
                       case ReduceOp::Sum: gx = expand(gk, x.shape()); break;
                       case ReduceOp::Mean: gx = expand(mul(gk, 1.0 / static_cast<double>(count)), x.shape()); break;
                       case ReduceOp::Max:
                       case ReduceOp::Min: {  // the extreme elements share the gradient evenly
                         Tensor mask = eq(x, kept);
                         Tensor ties = reduce_raw("count", ReduceOp::Sum, mask, axes);
                         gx = mul(mask, div(gk, ties));
                         break;
                       }
                     }
                     return std::vector<Tensor>{gx};
                   });
  return out;
}
}  // namespace

Tensor sum(const Tensor& x) { return reduction("sum", ReduceOp::Sum, x, {}, false); }
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return reduction("sum", ReduceOp::Sum, x, dims, keepdim);
}
Tensor mean(const Tensor& x) { return reduction("mean", ReduceOp::Mean, x, {}, false); }
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return reduction("mean", ReduceOp::Mean, x, dims, keepdim);
}
Tensor max(const Tensor& x) { return reduction("max", ReduceOp::Max, x, {}, false); }
Tensor max(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return reduction("max", ReduceOp::Max, x, dims, keepdim);
}
Tensor min(const Tensor& x) { return reduction("min", ReduceOp::Min, x, {}, false); }
Tensor min(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return reduction("min", ReduceOp::Min, x, dims, keepdim);
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  detail::check_floating("argmax", x);
  const int64_t axis = wrap_dim(dim, x.dim(), "argmax");
  Tensor xx = x.dim() == 0 ? x.detach().reshape({1}) : x;
  MAGMADNN_CHECK(xx.shape()[axis] > 0, "argmax: cannot reduce over empty dimension ", axis, " of shape ", x.shape());
  Tensor out = Tensor::empty(keepdim_shape(xx.shape(), {axis}), kInt64, x.device());
  backend_for(x.device()).argmax(xx, axis, out);
  if (keepdim || x.dim() == 0) return x.dim() == 0 ? out.reshape({}) : out;
  return out.reshape(dropped_shape(xx.shape(), {axis}));
}

}  // namespace magmadnn
