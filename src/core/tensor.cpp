// Tensor handle basics: geometry, element access, creation, printing. View and copy methods
// that autograd records are in src/ops/tensor_methods.cpp.
#include "magmadnn/core/tensor.h"

#include <cmath>
#include <iomanip>
#include <limits>
#include <sstream>

#include "magmadnn/autograd/autograd.h"
#include "magmadnn/backend/backend.h"

namespace magmadnn {

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  // Bytes must fit in int64: an overflowing numel would wrap to a small allocation.
  int64_t max_elements = std::numeric_limits<int64_t>::max() / static_cast<int64_t>(dtype_size(dtype));
  for (int64_t d : shape) {
    MAGMADNN_CHECK(d >= 0, "empty: negative size in shape ", shape);
    MAGMADNN_CHECK(d <= max_elements, "empty: shape ", shape, " has too many elements for ", dtype);
    if (d > 0) max_elements /= d;
  }
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(shape.numel() * dtype_size(dtype), backend_for(device).allocator());
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

// wrap_dim lets reductions name dim 0 of a scalar; a scalar still has no size or stride to return.
int64_t Tensor::size(int64_t d) const {
  MAGMADNN_CHECK(dim() > 0, "Tensor::size: dimension ", d, " out of range for a tensor with 0 dimensions");
  return shape()[wrap_dim(d, dim(), "Tensor::size")];
}
int64_t Tensor::stride(int64_t d) const {
  MAGMADNN_CHECK(dim() > 0, "Tensor::stride: dimension ", d, " out of range for a tensor with 0 dimensions");
  return strides()[wrap_dim(d, dim(), "Tensor::stride")];
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (shape()[i] == 1) continue;
    if (strides()[i] != expected) return false;
    expected *= shape()[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  return static_cast<char*>(impl().storage->data()) + impl().offset * static_cast<int64_t>(element_size());
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor host = Tensor::empty(shape(), dtype_of<T>(), Device::cpu());
  if (numel() > 0) backend_for(device().is_cpu() ? Device::cpu() : device()).copy(*this, host);
  const T* p = host.data<T>();
  return std::vector<T>(p, p + numel());
}

template <typename T>
T Tensor::item() const {
  MAGMADNN_CHECK(numel() == 1, "item(): expected a tensor with one element, got shape ", shape());
  return to_vector<T>()[0];
}

#define MAGMADNN_INSTANTIATE_ACCESS(T)              \
  template std::vector<T> Tensor::to_vector<T>() const; \
  template T Tensor::item<T>() const;
MAGMADNN_INSTANTIATE_ACCESS(float)
MAGMADNN_INSTANTIATE_ACCESS(double)
MAGMADNN_INSTANTIATE_ACCESS(int64_t)
MAGMADNN_INSTANTIATE_ACCESS(int32_t)
MAGMADNN_INSTANTIATE_ACCESS(uint8_t)

Tensor make_view(const Tensor& base, const Shape& shape, std::vector<int64_t> strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->shape = shape;
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

Tensor Tensor::expand(const Shape& target) const {
  MAGMADNN_CHECK(target.dim() >= dim(), "expand: cannot expand shape ", shape(), " to ", target);
  const int64_t lead = target.dim() - dim();
  std::vector<int64_t> st(target.size(), 0);
  for (int64_t i = 0; i < dim(); ++i) {
    const int64_t s = shape()[i], t = target[lead + i];
    MAGMADNN_CHECK(s == t || s == 1, "expand: cannot expand shape ", shape(), " to ", target);
    st[lead + i] = (s == t) ? strides()[i] : 0;
    if (s == 1 && t == 1) st[lead + i] = strides()[i];
  }
  return make_view(*this, target, st, offset());
}

Tensor& Tensor::fill_(double value) {
  if (numel() > 0) backend_for(device()).fill(*this, value);
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  if (numel() == 0) return *this;
  Tensor source = src.shape() == shape() ? src : src.expand(shape());
  Device d = device().is_cpu() ? src.device() : device();
  backend_for(d).copy(source, *this);
  return *this;
}

Tensor& Tensor::mul_(const Tensor& factor) {
  MAGMADNN_CHECK(factor.defined(), "mul_: undefined factor");
  MAGMADNN_CHECK(is_floating(dtype()), "mul_: expected a float tensor, got ", dtype(), " of shape ", shape());
  MAGMADNN_CHECK(factor.device() == device(), "mul_: factor on ", factor.device(), " for a tensor on ", device());
  MAGMADNN_CHECK(!(requires_grad() && autograd::grad_mode_enabled()),
                 "mul_: a tensor that requires grad cannot change in place while gradients are recorded (use it "
                 "under NoGradGuard)");
  MAGMADNN_CHECK(is_contiguous(), "mul_: expected a contiguous tensor, got shape ", shape(), " with strides ",
                 Shape(strides()));
  if (numel() == 0) return *this;
  const Tensor f = factor.dtype() == dtype() ? factor : factor.to(dtype());
  backend_for(device()).binary(BinaryOp::Mul, *this, f.shape() == shape() ? f : f.expand(shape()), *this);
  return *this;
}

Tensor& Tensor::set_requires_grad(bool requires_grad) {
  MAGMADNN_CHECK(!requires_grad || is_floating(dtype()), "requires_grad: only float tensors can require gradients, got ",
                 dtype());
  MAGMADNN_CHECK(is_leaf(), "requires_grad: can only be changed on leaf tensors (this one was computed by ",
                 "an op that records gradients; use detach())");
  impl().requires_grad = requires_grad;
  return *this;
}

Tensor Tensor::grad() const { return Tensor(impl().grad); }

void Tensor::set_grad(const Tensor& grad) {
  if (grad.defined())
    MAGMADNN_CHECK(grad.shape() == shape(), "set_grad: gradient shape ", grad.shape(), " differs from tensor shape ",
                   shape());
  impl().grad = grad.impl_ptr();
}

void Tensor::zero_grad() { impl().grad.reset(); }

void Tensor::backward() const {
  MAGMADNN_CHECK(numel() == 1, "backward(): called without a gradient on a tensor of shape ", shape(),
                 "; pass a gradient of the same shape or reduce to one element first");
  backward(ones(shape(), dtype(), device()));
}

void Tensor::backward(const Tensor& gradient) const {
  MAGMADNN_CHECK(requires_grad(), "backward(): tensor does not require grad and has no grad_fn");
  MAGMADNN_CHECK(gradient.shape() == shape(), "backward(): gradient shape ", gradient.shape(),
                 " differs from tensor shape ", shape());
  MAGMADNN_CHECK(gradient.dtype() == dtype() && gradient.device() == device(), "backward(): gradient dtype ",
                 gradient.dtype(), " differs from tensor dtype ", dtype(), " (or device ", gradient.device(), " from ",
                 device(), ")");
  autograd::run_backward(*this, gradient);
}

Tensor Tensor::detach() const { return make_view(*this, shape(), strides(), offset()); }

// ---------------------------------------------------------------------------------- creation

Tensor empty(const Shape& shape, DType dtype, Device device) { return Tensor::empty(shape, dtype, device); }
Tensor zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }
Tensor ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }
Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = Tensor::empty(shape, dtype, device);
  t.fill_(value);
  return t;
}
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype(), t.device()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype(), t.device()); }
Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.dtype(), t.device()); }

Tensor arange(double start, double end, double step, DType dtype, Device device) {
  MAGMADNN_CHECK(step != 0, "arange: step must be non-zero");
  const int64_t n = std::max<int64_t>(0, static_cast<int64_t>(std::ceil((end - start) / step)));
  Tensor t = Tensor::empty({n}, dtype, device);
  if (n > 0) backend_for(device).arange(t, start, step);
  return t;
}
Tensor arange(int64_t end, DType dtype, Device device) { return arange(0.0, static_cast<double>(end), 1.0, dtype, device); }

template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device) {
  Shape s = shape.empty() ? Shape{static_cast<int64_t>(values.size())} : shape;
  MAGMADNN_CHECK(s.numel() == static_cast<int64_t>(values.size()), "from_vector: ", values.size(),
                 " values do not fill shape ", s);
  Tensor host = Tensor::empty(s, dtype_of<T>(), Device::cpu());
  std::copy(values.begin(), values.end(), host.data<T>());
  return device.is_cpu() ? host : host.to(device);
}
template Tensor from_vector<float>(const std::vector<float>&, const Shape&, Device);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&, Device);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, const Shape&, Device);
template Tensor from_vector<int32_t>(const std::vector<int32_t>&, const Shape&, Device);
template Tensor from_vector<uint8_t>(const std::vector<uint8_t>&, const Shape&, Device);

Tensor tensor(std::initializer_list<float> values) { return from_vector(std::vector<float>(values)); }

Tensor scalar_tensor(double value, DType dtype, Device device) { return full(Shape{}, value, dtype, device); }

Tensor uniform(const Shape& shape, double low, double high, DType dtype, Device device) {
  Tensor t = Tensor::empty(shape, dtype, device);
  if (t.numel() > 0) backend_for(device).uniform(t, low, high, default_generator());
  return t;
}
Tensor rand(const Shape& shape, DType dtype, Device device) { return uniform(shape, 0.0, 1.0, dtype, device); }
Tensor normal(const Shape& shape, double mean, double std, DType dtype, Device device) {
  Tensor t = Tensor::empty(shape, dtype, device);
  if (t.numel() > 0) backend_for(device).normal(t, mean, std, default_generator());
  return t;
}
Tensor randn(const Shape& shape, DType dtype, Device device) { return normal(shape, 0.0, 1.0, dtype, device); }

Tensor randint(int64_t low, int64_t high, const Shape& shape, DType dtype, Device device) {
  MAGMADNN_CHECK(high > low, "randint: empty range [", low, ", ", high, ")");
  Tensor host = Tensor::empty(shape, kInt64, Device::cpu());
  int64_t* p = host.data<int64_t>();
  const uint64_t range = static_cast<uint64_t>(high - low);
  for (int64_t i = 0; i < host.numel(); ++i) p[i] = low + static_cast<int64_t>(default_generator().next_u64() % range);
  return host.to(dtype).to(device);
}

Tensor randperm(int64_t n, DType dtype, Device device) {
  Tensor host = Tensor::empty({n}, kInt64, Device::cpu());
  int64_t* p = host.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  for (int64_t i = n - 1; i > 0; --i) {  // Fisher-Yates
    const int64_t j = static_cast<int64_t>(default_generator().next_u64() % static_cast<uint64_t>(i + 1));
    std::swap(p[i], p[j]);
  }
  return host.to(dtype).to(device);
}

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  if (a.shape() != b.shape()) return false;
  const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  for (size_t i = 0; i < va.size(); ++i) {
    if (std::isnan(va[i]) || std::isnan(vb[i])) return false;
    if (std::abs(va[i] - vb[i]) > atol + rtol * std::abs(vb[i])) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------- printing

namespace {
void print_rec(std::ostream& os, const std::vector<double>& v, const Shape& shape, int64_t dim, int64_t& pos,
               bool is_int, int indent, int64_t edge) {
  if (dim == shape.dim()) {
    if (is_int) os << static_cast<int64_t>(v[pos]);
    else os << std::fixed << std::setprecision(4) << v[pos];
    ++pos;
    return;
  }
  const int64_t n = shape[dim];
  int64_t inner = 1;
  for (int64_t d = dim + 1; d < shape.dim(); ++d) inner *= shape[d];
  os << "[";
  for (int64_t i = 0; i < n; ++i) {
    if (edge > 0 && n > 2 * edge && i == edge) {
      os << "...";
      pos += (n - 2 * edge) * inner;
      i = n - edge;
      os << (dim + 1 == shape.dim() ? ", " : ",\n" + std::string(indent + 1, ' '));
    }
    print_rec(os, v, shape, dim + 1, pos, is_int, indent + 1, edge);
    if (i + 1 < n) os << (dim + 1 == shape.dim() ? ", " : ",\n" + std::string(indent + 1, ' '));
  }
  os << "]";
}
}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "tensor(undefined)";
  std::ostringstream os;
  os << "tensor(";
  const auto values = to_vector<double>();
  int64_t pos = 0;
  print_rec(os, values, shape(), 0, pos, !is_floating(dtype()), 7, numel() > 1000 ? 3 : 0);
  os << ", shape=" << shape() << ", dtype=" << dtype();
  if (!device().is_cpu()) os << ", device=" << device();
  if (requires_grad()) os << ", requires_grad=true";
  os << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

}  // namespace magmadnn
