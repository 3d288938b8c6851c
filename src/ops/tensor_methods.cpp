// Tensor's convenience methods that are ops underneath (so autograd records them), plus dtype
// and device conversions.
#include "magmadnn/ops/ops.h"
#include "ops/op_utils.h"

namespace magmadnn {

using autograd::NeedsGrad;

Tensor Tensor::contiguous() const { return magmadnn::contiguous(*this); }

Tensor Tensor::clone() const {
  Tensor out = Tensor::empty(shape(), dtype(), device());
  if (numel() > 0) backend_for(device()).copy(*this, out);
  autograd::record("clone", {*this}, out, [](const Tensor& g, const NeedsGrad&) { return std::vector<Tensor>{g}; });
  return out;
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  Tensor out = Tensor::empty(shape(), target, device());
  if (numel() > 0) backend_for(device()).copy(*this, out);
  if (is_floating(target)) {
    autograd::record("to_dtype", {*this}, out,
                     [src = dtype()](const Tensor& g, const NeedsGrad&) { return std::vector<Tensor>{g.to(src)}; });
  }
  return out;
}

Tensor Tensor::to(Device target) const {
  if (target == device()) return *this;
  Tensor out = Tensor::empty(shape(), dtype(), target);
  // The non-CPU side's backend performs cross-device copies.
  if (numel() > 0) backend_for(target.is_cpu() ? device() : target).copy(*this, out);
  autograd::record("to_device", {*this}, out,
                   [src = device()](const Tensor& g, const NeedsGrad&) { return std::vector<Tensor>{g.to(src)}; });
  return out;
}

Tensor Tensor::reshape(const Shape& shape) const { return magmadnn::reshape(*this, shape); }
Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const { return magmadnn::flatten(*this, start_dim, end_dim); }
Tensor Tensor::transpose(int64_t d0, int64_t d1) const { return magmadnn::transpose(*this, d0, d1); }
Tensor Tensor::t() const {
  MAGMADNN_CHECK(dim() == 2, "t(): expected a 2-D tensor, got shape ", shape());
  return magmadnn::transpose(*this, 0, 1);
}
Tensor Tensor::permute(const std::vector<int64_t>& dims) const { return magmadnn::permute(*this, dims); }
Tensor Tensor::slice(int64_t dim, int64_t start, int64_t end, int64_t step) const {
  return magmadnn::slice(*this, dim, start, end, step);
}
Tensor Tensor::squeeze(int64_t dim) const { return magmadnn::squeeze(*this, dim); }
Tensor Tensor::squeeze() const {
  Tensor out = *this;
  for (int64_t d = dim() - 1; d >= 0; --d)
    if (shape()[d] == 1) out = magmadnn::squeeze(out, d);
  return out;
}
Tensor Tensor::unsqueeze(int64_t dim) const { return magmadnn::unsqueeze(*this, dim); }
Tensor Tensor::operator-() const { return neg(*this); }

}  // namespace magmadnn
