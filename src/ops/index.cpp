// Indexing ops: index_select and gather, with index_add / scatter_add as their backward.
#include "magmadnn/ops/ops.h"
#include "ops/op_utils.h"

namespace magmadnn {

using autograd::NeedsGrad;

namespace {
void check_index(const char* op, const Tensor& x, const Tensor& index) {
  detail::check_defined(op, x);
  detail::check_defined(op, index);
  MAGMADNN_CHECK(index.dtype() == kInt64, op, ": expected an int64 index tensor, got ", index.dtype(), " of shape ",
                 index.shape());
  MAGMADNN_CHECK(index.device() == x.device(), op, ": index is on ", index.device(), " but input is on ", x.device());
}
}  // namespace

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  check_index("index_select", x, index);
  MAGMADNN_CHECK(index.dim() <= 1, "index_select: expected a 1-D index, got shape ", index.shape());
  MAGMADNN_CHECK(x.dim() >= 1, "index_select: expected an input with at least one dimension");
  const int64_t d = wrap_dim(dim, x.dim(), "index_select");
  std::vector<int64_t> shape(x.shape().begin(), x.shape().end());
  shape[d] = index.numel();
  Tensor out = Tensor::empty(Shape(shape), x.dtype(), x.device());
  if (out.numel() > 0 || index.numel() > 0) backend_for(x.device()).index_select(x, d, index.reshape({-1}), out);
  autograd::record("index_select", {x}, out,
                   [d, index = index.reshape({-1}), in_shape = x.shape()](const Tensor& g, const NeedsGrad&) {
                     Tensor gx = zeros(in_shape, g.dtype(), g.device());
                     backend_for(g.device()).index_add(gx, d, index, g.contiguous());
                     return std::vector<Tensor>{gx};
                   });
  return out;
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  check_index("gather", x, index);
  MAGMADNN_CHECK(index.dim() == x.dim(), "gather: index of shape ", index.shape(),
                 " must have as many dimensions as the input of shape ", x.shape());
  MAGMADNN_CHECK(x.dim() >= 1, "gather: expected an input with at least one dimension");
  const int64_t d = wrap_dim(dim, x.dim(), "gather");
  for (int64_t k = 0; k < x.dim(); ++k)
    MAGMADNN_CHECK(k == d || index.shape()[k] <= x.shape()[k], "gather: index of shape ", index.shape(),
                   " is larger than the input of shape ", x.shape(), " in dimension ", k);
  Tensor out = Tensor::empty(index.shape(), x.dtype(), x.device());
  if (out.numel() > 0) backend_for(x.device()).gather(x, d, index, out);
  autograd::record("gather", {x}, out, [d, index, in_shape = x.shape()](const Tensor& g, const NeedsGrad&) {
    Tensor gx = zeros(in_shape, g.dtype(), g.device());
    backend_for(g.device()).scatter_add(gx, d, index, g.contiguous());
    return std::vector<Tensor>{gx};
  });
  return out;
}

}  // namespace magmadnn
