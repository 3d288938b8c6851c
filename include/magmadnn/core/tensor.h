// Tensor: a cheap, shared handle to (storage, shape, strides, offset, dtype) plus autograd
// state. Copying a Tensor copies the handle; views (reshape, transpose, slice, ...) share the
// storage. The differentiable functions that act on tensors live in ops/ops.h.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "magmadnn/core/device.h"
#include "magmadnn/core/dtype.h"
#include "magmadnn/core/error.h"
#include "magmadnn/core/shape.h"
#include "magmadnn/core/storage.h"

namespace magmadnn {

namespace autograd {
class Node;
}

class Tensor;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  std::vector<int64_t> strides;  // in elements
  int64_t offset = 0;            // in elements
  DType dtype = DType::Float32;

  // Autograd state. A leaf that requires grad has no grad_fn and accumulates into `grad`.
  bool requires_grad = false;
  std::shared_ptr<autograd::Node> grad_fn;
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<autograd::Node> grad_accumulator;  // created on first use, for leaves
  // Called by AccumulateGrad with the leaf after it updated .grad (DDP starts its all-reduces here).
  std::vector<std::function<void(const Tensor&)>> post_accumulate_grad_hooks;
};

class Tensor {
 public:
  Tensor() = default;  // undefined tensor
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // An uninitialised contiguous tensor from the device's caching allocator.
  static Tensor empty(const Shape& shape, DType dtype = kFloat32, Device device = Device::cpu());

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  int64_t dim() const { return impl().shape.dim(); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return impl().shape.numel(); }
  const std::vector<int64_t>& strides() const { return impl().strides; }
  int64_t stride(int64_t d) const;
  int64_t offset() const { return impl().offset; }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  size_t element_size() const { return dtype_size(dtype()); }
  size_t nbytes() const { return numel() * element_size(); }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return impl().storage; }
  bool shares_storage(const Tensor& other) const { return impl().storage == other.impl().storage; }

  // Raw pointer to the first element (CPU or device memory). Typed access checks the dtype.
  void* raw_data() const;
  template <typename T>
  T* data() const {
    MAGMADNN_CHECK(dtype() == dtype_of<T>(), "Tensor::data<", dtype_name(dtype_of<T>()), ">(): tensor has dtype ",
                   dtype());
    return static_cast<T*>(raw_data());
  }
  // Value of a one-element tensor, converted to T (copies from the device if needed).
  template <typename T>
  T item() const;
  // All elements in row-major order, converted to T (copies from the device if needed).
  template <typename T>
  std::vector<T> to_vector() const;

  // --- Copies and conversions (recorded by autograd where differentiable) ---
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor to(DType dtype) const;
  Tensor to(Device device) const;
  Tensor cpu() const { return to(Device::cpu()); }

  // --- Views (share storage) ---
  Tensor view(const Shape& shape) const;     // requires a compatible layout; -1 infers one size
  Tensor reshape(const Shape& shape) const;  // view when possible, else a copy
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor t() const;  // transpose of a 2-D tensor
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const { return slice(dim, start, start + length); }
  Tensor select(int64_t dim, int64_t index) const;  // removes the dimension
  Tensor squeeze(int64_t dim) const;
  Tensor squeeze() const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor expand(const Shape& shape) const;  // broadcast view (stride 0), not differentiable by itself

  // --- In-place (not recorded by autograd; used on data, buffers and by optimizers) ---
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }
  Tensor& copy_(const Tensor& src);  // broadcasts src to this shape, converts dtype
  // this *= factor, factor broadcast to this shape (converted to this dtype; on this device).
  // Float tensors only; one pass with no temporary (gradient clipping, loss scaling). Not on a
  // tensor that requires grad while gradients are recorded.
  Tensor& mul_(const Tensor& factor);

  // --- Autograd ---
  bool requires_grad() const { return impl().requires_grad; }
  Tensor& set_requires_grad(bool requires_grad = true);
  Tensor& requires_grad_(bool requires_grad = true) { return set_requires_grad(requires_grad); }
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  const std::shared_ptr<autograd::Node>& grad_fn() const { return impl().grad_fn; }
  Tensor grad() const;  // undefined until a backward pass reaches this leaf
  void set_grad(const Tensor& grad);
  void zero_grad();  // drops the gradient (like PyTorch's set_to_none)
  // For a leaf that requires grad: `hook(leaf)` runs each time backward has accumulated into
  // leaf.grad(). Hooks live as long as the leaf.
  void register_post_accumulate_grad_hook(std::function<void(const Tensor&)> hook);
  void backward() const;  // for a one-element tensor
  void backward(const Tensor& gradient) const;
  Tensor detach() const;  // same storage, no history

  // --- Operators (see ops/ops.h for the named functions) ---
  Tensor operator-() const;

  std::string str() const;  // what operator<< prints
  TensorImpl& impl() const {
    MAGMADNN_CHECK(impl_ != nullptr, "use of an undefined tensor");
    return *impl_;
  }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Makes a new view of `base` (sharing storage) with the given geometry.
Tensor make_view(const Tensor& base, const Shape& shape, std::vector<int64_t> strides, int64_t offset);

// --- Creation ---
Tensor empty(const Shape& shape, DType dtype = kFloat32, Device device = Device::cpu());
Tensor zeros(const Shape& shape, DType dtype = kFloat32, Device device = Device::cpu());
Tensor ones(const Shape& shape, DType dtype = kFloat32, Device device = Device::cpu());
Tensor full(const Shape& shape, double value, DType dtype = kFloat32, Device device = Device::cpu());
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor empty_like(const Tensor& t);
// [start, end) with the given step; float32 unless dtype says otherwise.
Tensor arange(double start, double end, double step = 1.0, DType dtype = kFloat32, Device device = Device::cpu());
Tensor arange(int64_t end, DType dtype = kInt64, Device device = Device::cpu());
// Copies values into a new tensor; the shape defaults to 1-D.
template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape = {}, Device device = Device::cpu());
Tensor tensor(std::initializer_list<float> values);
Tensor scalar_tensor(double value, DType dtype = kFloat32, Device device = Device::cpu());
// Random tensors drawn from the default generator (see manual_seed).
Tensor rand(const Shape& shape, DType dtype = kFloat32, Device device = Device::cpu());   // U[0, 1)
Tensor randn(const Shape& shape, DType dtype = kFloat32, Device device = Device::cpu());  // N(0, 1)
Tensor uniform(const Shape& shape, double low, double high, DType dtype = kFloat32, Device device = Device::cpu());
Tensor normal(const Shape& shape, double mean, double std, DType dtype = kFloat32, Device device = Device::cpu());
Tensor randint(int64_t low, int64_t high, const Shape& shape, DType dtype = kInt64, Device device = Device::cpu());
Tensor randperm(int64_t n, DType dtype = kInt64, Device device = Device::cpu());

// True when both have equal shapes and all elements differ by at most atol + rtol * |b|.
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);

}  // namespace magmadnn
