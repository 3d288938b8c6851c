// Helpers shared by the op implementations: argument checks with op-named messages, and
// kernel launches that allocate the output (no autograd recording).
#pragma once

#include "magmadnn/autograd/autograd.h"
#include "magmadnn/backend/backend.h"
#include "magmadnn/core/tensor.h"

namespace magmadnn::detail {

inline void check_defined(const char* op, const Tensor& t) {
  MAGMADNN_CHECK(t.defined(), op, ": got an undefined tensor");
}

// Both tensors on one device, with one dtype; the message names the op and both shapes.
inline void check_compatible(const char* op, const Tensor& a, const Tensor& b) {
  check_defined(op, a);
  check_defined(op, b);
  MAGMADNN_CHECK(a.device() == b.device(), op, ": tensors are on different devices (", a.device(), " for shape ",
                 a.shape(), ", ", b.device(), " for shape ", b.shape(), ")");
  MAGMADNN_CHECK(a.dtype() == b.dtype(), op, ": dtypes differ (", a.dtype(), " for shape ", a.shape(), ", ", b.dtype(),
                 " for shape ", b.shape(), ")");
}

inline void check_floating(const char* op, const Tensor& t) {
  check_defined(op, t);
  MAGMADNN_CHECK(is_floating(t.dtype()), op, ": expected a float32 or float64 tensor, got ", t.dtype(), " of shape ",
                 t.shape());
}

inline Tensor launch_unary(UnaryOp op, const Tensor& x, double alpha = 0, double beta = 0) {
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (out.numel() > 0) backend_for(x.device()).unary(op, x, out, alpha, beta);
  return out;
}

// a and b broadcast to a common shape.
inline Tensor launch_binary(const char* name, BinaryOp op, const Tensor& a, const Tensor& b, double alpha = 0,
                            double beta = 0) {
  check_compatible(name, a, b);
  check_floating(name, a);
  const Shape s = a.shape() == b.shape() ? a.shape() : broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = Tensor::empty(s, a.dtype(), a.device());
  if (out.numel() > 0) {
    backend_for(a.device()).binary(op, a.shape() == s ? a : a.expand(s), b.shape() == s ? b : b.expand(s), out, alpha,
                                   beta);
  }
  return out;
}

// Reduction axes: wrapped, deduplicated, sorted; empty `dims` means all axes.
std::vector<int64_t> normalize_axes(const char* op, const std::vector<int64_t>& dims, int64_t ndim);

}  // namespace magmadnn::detail
