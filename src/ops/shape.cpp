// Shape ops: views that share storage (reshape, transpose, permute, slice, squeeze, unsqueeze),
// copies (contiguous, concat, stack, expand) and sum_to, each recorded for autograd.
#include <numeric>

#include "magmadnn/ops/ops.h"
#include "ops/op_utils.h"

namespace magmadnn {

using autograd::NeedsGrad;

namespace {
Shape infer_shape(const char* op, const Shape& requested, int64_t numel, const Shape& from) {
  std::vector<int64_t> dims(requested.begin(), requested.end());
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == -1) {
      MAGMADNN_CHECK(infer < 0, op, ": only one dimension can be -1, got ", requested);
      infer = static_cast<int64_t>(i);
    } else {
      MAGMADNN_CHECK(dims[i] >= 0, op, ": invalid size ", dims[i], " in ", requested);
      known *= dims[i];
    }
  }
  if (infer >= 0) {
    MAGMADNN_CHECK(known > 0 && numel % known == 0, op, ": cannot reshape ", from, " into ", requested);
    dims[infer] = numel / known;
  }
  Shape s(dims);
  MAGMADNN_CHECK(s.numel() == numel, op, ": cannot reshape ", from, " (", numel, " elements) into ", requested);
  return s;
}

// Identity-like backward: gradient reshaped back to the input's shape.
autograd::BackwardFn reshape_back(const Shape& input_shape) {
  return [input_shape](const Tensor& g, const NeedsGrad&) { return std::vector<Tensor>{reshape(g, input_shape)}; };
}
}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) {
  detail::check_defined("reshape", x);
  const Shape s = infer_shape("reshape", shape, x.numel(), x.shape());
  Tensor src = x.is_contiguous() ? x : contiguous(x).detach();
  Tensor out = make_view(src, s, contiguous_strides(s), src.offset());
  autograd::record("reshape", {x}, out, reshape_back(x.shape()));
  return out;
}

Tensor Tensor::view(const Shape& shape) const {
  MAGMADNN_CHECK(is_contiguous(), "view: tensor of shape ", this->shape(), " is not contiguous; use reshape()");
  return magmadnn::reshape(*this, shape);
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  detail::check_defined("transpose", x);
  if (x.dim() == 0) {  // as PyTorch: transpose(0, 0) or (-1, 0) of a scalar is the scalar
    wrap_dim(d0, 0, "transpose");
    wrap_dim(d1, 0, "transpose");
    return x;
  }
  d0 = wrap_dim(d0, x.dim(), "transpose");
  d1 = wrap_dim(d1, x.dim(), "transpose");
  std::vector<int64_t> perm(x.dim());
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[d0], perm[d1]);
  return permute(x, perm);
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  detail::check_defined("permute", x);
  MAGMADNN_CHECK(static_cast<int64_t>(dims.size()) == x.dim(), "permute: got ", dims.size(),
                 " dimensions for a tensor of shape ", x.shape());
  std::vector<int64_t> shape(x.dim()), strides(x.dim()), inverse(x.dim(), -1);
  for (int64_t i = 0; i < x.dim(); ++i) {
    const int64_t d = wrap_dim(dims[i], x.dim(), "permute");
    MAGMADNN_CHECK(inverse[d] < 0, "permute: dimension ", d, " repeated for a tensor of shape ", x.shape());
    inverse[d] = i;
    shape[i] = x.shape()[d];
    strides[i] = x.strides()[d];
  }
  Tensor out = make_view(x, Shape(shape), strides, x.offset());
  autograd::record("permute", {x}, out,
                   [inverse](const Tensor& g, const NeedsGrad&) { return std::vector<Tensor>{permute(g, inverse)}; });
  return out;
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  detail::check_defined("slice", x);
  MAGMADNN_CHECK(x.dim() > 0, "slice: cannot slice a 0-dimensional tensor");
  const int64_t d = wrap_dim(dim, x.dim(), "slice");
  MAGMADNN_CHECK(step > 0, "slice: step must be positive, got ", step);
  const int64_t n = x.shape()[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  std::vector<int64_t> shape(x.shape().begin(), x.shape().end()), strides = x.strides();
  shape[d] = (end - start + step - 1) / step;
  strides[d] *= step;
  Tensor out = make_view(x, Shape(shape), strides, x.offset() + start * x.strides()[d]);
  autograd::record("slice", {x}, out, [in_shape = x.shape(), d, start, end, step](const Tensor& g, const NeedsGrad&) {
    Tensor gx = zeros(in_shape, g.dtype(), g.device());
    Tensor window = gx.slice(d, start, end, step);
    window.copy_(g);
    return std::vector<Tensor>{gx};
  });
  return out;
}

Tensor Tensor::select(int64_t dim, int64_t index) const {
  MAGMADNN_CHECK(this->dim() > 0, "select: cannot select from a 0-dimensional tensor");
  const int64_t d = wrap_dim(dim, this->dim(), "select");
  const int64_t n = shape()[d];
  MAGMADNN_CHECK(index >= -n && index < n, "select: index ", index, " out of range for dimension ", d, " of shape ",
                 shape());
  if (index < 0) index += n;
  return magmadnn::squeeze(magmadnn::slice(*this, d, index, index + 1), d);
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  detail::check_defined("squeeze", x);
  const int64_t d = wrap_dim(dim, x.dim(), "squeeze");
  if (x.dim() == 0 || x.shape()[d] != 1) return x;
  std::vector<int64_t> shape(x.shape().begin(), x.shape().end()), strides = x.strides();
  shape.erase(shape.begin() + d);
  strides.erase(strides.begin() + d);
  Tensor out = make_view(x, Shape(shape), strides, x.offset());
  autograd::record("squeeze", {x}, out, reshape_back(x.shape()));
  return out;
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  detail::check_defined("unsqueeze", x);
  const int64_t d = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  std::vector<int64_t> shape(x.shape().begin(), x.shape().end()), strides = x.strides();
  const int64_t st = d < x.dim() ? x.strides()[d] * x.shape()[d] : 1;
  shape.insert(shape.begin() + d, 1);
  strides.insert(strides.begin() + d, st);
  Tensor out = make_view(x, Shape(shape), strides, x.offset());
  autograd::record("unsqueeze", {x}, out, reshape_back(x.shape()));
  return out;
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  detail::check_defined("flatten", x);
  if (x.dim() == 0) return reshape(x, {1});
  const int64_t s = wrap_dim(start_dim, x.dim(), "flatten"), e = wrap_dim(end_dim, x.dim(), "flatten");
  MAGMADNN_CHECK(s <= e, "flatten: start_dim ", start_dim, " is after end_dim ", end_dim);
  std::vector<int64_t> shape;
  int64_t merged = 1;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d < s || d > e) shape.push_back(x.shape()[d]);
    else {
      merged *= x.shape()[d];
      if (d == e) shape.push_back(merged);
    }
  }
  return reshape(x, Shape(shape));
}

Tensor contiguous(const Tensor& x) {
  detail::check_defined("contiguous", x);
  if (x.is_contiguous()) return x;
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  backend_for(x.device()).copy(x, out);
  autograd::record("contiguous", {x}, out, [](const Tensor& g, const NeedsGrad&) { return std::vector<Tensor>{g}; });
  return out;
}

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  MAGMADNN_CHECK(!xs.empty(), "concat: expected at least one tensor");
  const Tensor& first = xs[0];
  detail::check_defined("concat", first);
  MAGMADNN_CHECK(first.dim() > 0, "concat: 0-dimensional tensors cannot be concatenated; use stack");
  const int64_t d = wrap_dim(dim, first.dim(), "concat");
  std::vector<int64_t> shape(first.shape().begin(), first.shape().end());
  shape[d] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    detail::check_compatible("concat", first, xs[i]);
    bool ok = xs[i].dim() == first.dim();
    for (int64_t k = 0; ok && k < first.dim(); ++k) ok = k == d || xs[i].shape()[k] == first.shape()[k];
    MAGMADNN_CHECK(ok, "concat: tensor ", i, " has shape ", xs[i].shape(), ", incompatible with ", first.shape(),
                   " along dimension ", d);
    shape[d] += xs[i].shape()[d];
  }
  Tensor out = Tensor::empty(Shape(shape), first.dtype(), first.device());
  std::vector<int64_t> sizes;
  int64_t pos = 0;
  for (const Tensor& x : xs) {
    const int64_t n = x.shape()[d];
    if (n > 0) {
      Tensor window = out.narrow(d, pos, n);
      backend_for(out.device()).copy(x, window);
    }
    sizes.push_back(n);
    pos += n;
  }
  autograd::record("concat", xs, out, [d, sizes](const Tensor& g, const NeedsGrad& n) {
    std::vector<Tensor> grads;
    int64_t p = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      grads.push_back(n[i] ? contiguous(g.narrow(d, p, sizes[i])) : Tensor());
      p += sizes[i];
    }
    return grads;
  });
  return out;
}

Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
  MAGMADNN_CHECK(!xs.empty(), "stack: expected at least one tensor");
  const int64_t d = wrap_dim(dim, xs[0].dim() + 1, "stack");
  std::vector<Tensor> expanded;
  for (size_t i = 0; i < xs.size(); ++i) {
    MAGMADNN_CHECK(xs[i].shape() == xs[0].shape(), "stack: tensor ", i, " has shape ", xs[i].shape(),
                   ", expected ", xs[0].shape());
    expanded.push_back(unsqueeze(xs[i], d));
  }
  return concat(expanded, d);
}

Tensor expand(const Tensor& x, const Shape& shape) {
  detail::check_defined("expand", x);
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  if (out.numel() > 0) backend_for(x.device()).copy(x.expand(shape), out);
  autograd::record("expand", {x}, out, [in_shape = x.shape()](const Tensor& g, const NeedsGrad&) {
    return std::vector<Tensor>{sum_to(g, in_shape)};
  });
  return out;
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  const int64_t lead = grad.dim() - shape.dim();
  MAGMADNN_CHECK(lead >= 0, "sum_to: cannot sum shape ", grad.shape(), " to ", shape);
  std::vector<int64_t> axes;
  for (int64_t d = 0; d < grad.dim(); ++d) {
    if (d < lead) axes.push_back(d);
    else if (shape[d - lead] == 1 && grad.shape()[d] != 1) axes.push_back(d);
    else MAGMADNN_CHECK(shape[d - lead] == grad.shape()[d], "sum_to: cannot sum shape ", grad.shape(), " to ", shape);
  }
  Tensor s = axes.empty() ? grad : sum(grad, axes, /*keepdim=*/true);
  return reshape(s, shape);
}

}  // namespace magmadnn
