// CPU elementwise kernels: unary and binary maps over strided (possibly broadcast) operands.
#include <cmath>
#include <limits>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/loops.h"

namespace magmadnn::cpu {

namespace {

template <typename T, typename F>
void unary_loop(const Tensor& x, Tensor& out, F f) {
  const T* px = static_cast<const T*>(x.raw_data());
  T* po = static_cast<T*>(out.raw_data());
  if (x.is_contiguous() && out.is_contiguous()) {
    parallel_range(out.numel(), [&](int64_t b, int64_t e) {
#pragma omp simd
      for (int64_t i = b; i < e; ++i) po[i] = f(px[i]);
    });
    return;
  }
  for_each_strided<2>(out.shape(), {&out.strides(), &x.strides()}, [&](auto off, int64_t n, auto st) {
    T* o = po + off[0];
    const T* a = px + off[1];
    for (int64_t i = 0; i < n; ++i) o[i * st[0]] = f(a[i * st[1]]);
  });
}

template <typename T, typename F>
void binary_loop(const Tensor& a, const Tensor& b, Tensor& out, F f) {
  const T* pa = static_cast<const T*>(a.raw_data());
  const T* pb = static_cast<const T*>(b.raw_data());
  T* po = static_cast<T*>(out.raw_data());
  if (a.is_contiguous() && b.is_contiguous() && out.is_contiguous()) {
    parallel_range(out.numel(), [&](int64_t s, int64_t e) {
#pragma omp simd
      for (int64_t i = s; i < e; ++i) po[i] = f(pa[i], pb[i]);
    });
    return;
  }
  // One operand a single value broadcast everywhere (all strides 0), e.g. x * scale_tensor: the
  // contiguous loop, in parallel, with that value hoisted.
  auto single = [](const Tensor& t) {
    for (int64_t s : t.strides())
      if (s != 0) return false;
    return true;
  };
  if (out.is_contiguous() && a.is_contiguous() && single(b)) {
    const T yv = *pb;
    parallel_range(out.numel(), [&](int64_t s, int64_t e) {
#pragma omp simd
      for (int64_t i = s; i < e; ++i) po[i] = f(pa[i], yv);
    });
    return;
  }
  if (out.is_contiguous() && b.is_contiguous() && single(a)) {
    const T xv = *pa;
    parallel_range(out.numel(), [&](int64_t s, int64_t e) {
#pragma omp simd
      for (int64_t i = s; i < e; ++i) po[i] = f(xv, pb[i]);
    });
    return;
  }
  for_each_strided<3>(out.shape(), {&out.strides(), &a.strides(), &b.strides()}, [&](auto off, int64_t n, auto st) {
    T* o = po + off[0];
    const T* x = pa + off[1];
    const T* y = pb + off[2];
    if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
    } else if (st[0] == 1 && st[1] == 1 && st[2] == 0) {
      const T yv = *y;
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], yv);
    } else if (st[0] == 1 && st[1] == 0 && st[2] == 1) {
      const T xv = *x;
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) o[i] = f(xv, y[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) o[i * st[0]] = f(x[i * st[1]], y[i * st[2]]);
    }
  });
}

template <typename T>
inline T gelu(T x) {
  return T(0.5) * x * (T(1) + std::erf(x * T(M_SQRT1_2)));
}
template <typename T>
inline T gelu_grad(T x) {
  const T cdf = T(0.5) * (T(1) + std::erf(x * T(M_SQRT1_2)));
  const T pdf = std::exp(T(-0.5) * x * x) * T(0.3989422804014327);  // 1/sqrt(2 pi)
  return cdf + x * pdf;
}

}  // namespace

void CpuBackend::unary(UnaryOp op, const Tensor& x, Tensor& out, double alpha, double beta) {
  MAGMADNN_CHECK(x.dtype() == out.dtype(), "unary: input dtype ", x.dtype(), " differs from output ", out.dtype());
  dispatch_float(x.dtype(), "unary", [&](auto tag_) {
    using scalar_t = decltype(tag_);
    using T = scalar_t;
    const T a = static_cast<T>(alpha), b = static_cast<T>(beta);
    switch (op) {
      case UnaryOp::Neg: return unary_loop<T>(x, out, [](T v) { return -v; });
      case UnaryOp::Exp: return unary_loop<T>(x, out, [](T v) { return std::exp(v); });
      case UnaryOp::Log: return unary_loop<T>(x, out, [](T v) { return std::log(v); });
      case UnaryOp::Sqrt: return unary_loop<T>(x, out, [](T v) { return std::sqrt(v); });
      case UnaryOp::Rsqrt: return unary_loop<T>(x, out, [](T v) { return T(1) / std::sqrt(v); });
      case UnaryOp::Abs: return unary_loop<T>(x, out, [](T v) { return std::abs(v); });
      case UnaryOp::Sign: return unary_loop<T>(x, out, [](T v) { return T((v > 0) - (v < 0)); });
      case UnaryOp::Square: return unary_loop<T>(x, out, [](T v) { return v * v; });
      case UnaryOp::Reciprocal: return unary_loop<T>(x, out, [](T v) { return T(1) / v; });
      case UnaryOp::Relu: return unary_loop<T>(x, out, [](T v) { return v > T(0) ? v : T(0); });
      case UnaryOp::LeakyRelu: return unary_loop<T>(x, out, [a](T v) { return v > T(0) ? v : v * a; });
      case UnaryOp::Sigmoid: return unary_loop<T>(x, out, [](T v) { return T(1) / (T(1) + std::exp(-v)); });
      case UnaryOp::Tanh: return unary_loop<T>(x, out, [](T v) { return std::tanh(v); });
      case UnaryOp::Gelu: return unary_loop<T>(x, out, [](T v) { return gelu(v); });
      case UnaryOp::Clamp:
        return unary_loop<T>(x, out, [a, b](T v) { return v < a ? a : (v > b ? b : v); });
      case UnaryOp::PowScalar: return unary_loop<T>(x, out, [a](T v) { return std::pow(v, a); });
      case UnaryOp::AddScalar: return unary_loop<T>(x, out, [a](T v) { return v + a; });
      case UnaryOp::MulScalar: return unary_loop<T>(x, out, [a](T v) { return v * a; });
      case UnaryOp::RSubScalar: return unary_loop<T>(x, out, [a](T v) { return a - v; });
      case UnaryOp::RDivScalar: return unary_loop<T>(x, out, [a](T v) { return a / v; });
    }
    MAGMADNN_ERROR("unary: unknown op");
  });
}

void CpuBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out, double alpha, double beta) {
  MAGMADNN_CHECK(a.dtype() == out.dtype() && b.dtype() == out.dtype(), "binary: dtypes ", a.dtype(), " and ",
                 b.dtype(), " differ from output ", out.dtype());
  dispatch_float(out.dtype(), "binary", [&](auto tag_) {
    using scalar_t = decltype(tag_);
    using T = scalar_t;
    const T al = static_cast<T>(alpha), be = static_cast<T>(beta);
    switch (op) {
      case BinaryOp::Add: return binary_loop<T>(a, b, out, [](T x, T y) { return x + y; });
      case BinaryOp::Sub: return binary_loop<T>(a, b, out, [](T x, T y) { return x - y; });
      case BinaryOp::Mul: return binary_loop<T>(a, b, out, [](T x, T y) { return x * y; });
      case BinaryOp::Div: return binary_loop<T>(a, b, out, [](T x, T y) { return x / y; });
      case BinaryOp::Pow: return binary_loop<T>(a, b, out, [](T x, T y) { return std::pow(x, y); });
      case BinaryOp::Maximum: return binary_loop<T>(a, b, out, [](T x, T y) { return x > y ? x : y; });
      case BinaryOp::Minimum: return binary_loop<T>(a, b, out, [](T x, T y) { return x < y ? x : y; });
      case BinaryOp::Eq: return binary_loop<T>(a, b, out, [](T x, T y) { return T(x == y); });
      case BinaryOp::Ne: return binary_loop<T>(a, b, out, [](T x, T y) { return T(x != y); });
      case BinaryOp::Lt: return binary_loop<T>(a, b, out, [](T x, T y) { return T(x < y); });
      case BinaryOp::Le: return binary_loop<T>(a, b, out, [](T x, T y) { return T(x <= y); });
      case BinaryOp::Gt: return binary_loop<T>(a, b, out, [](T x, T y) { return T(x > y); });
      case BinaryOp::Ge: return binary_loop<T>(a, b, out, [](T x, T y) { return T(x >= y); });
      case BinaryOp::ReluBackward:
        return binary_loop<T>(a, b, out, [](T g, T x) { return x > T(0) ? g : T(0); });
      case BinaryOp::LeakyReluBackward:
        return binary_loop<T>(a, b, out, [al](T g, T x) { return x > T(0) ? g : g * al; });
      case BinaryOp::SigmoidBackward:
        return binary_loop<T>(a, b, out, [](T g, T y) { return g * y * (T(1) - y); });
      case BinaryOp::TanhBackward: return binary_loop<T>(a, b, out, [](T g, T y) { return g * (T(1) - y * y); });
      case BinaryOp::GeluBackward: return binary_loop<T>(a, b, out, [](T g, T x) { return g * gelu_grad(x); });
      case BinaryOp::ClampBackward:
        return binary_loop<T>(a, b, out, [al, be](T g, T x) { return (x >= al && x <= be) ? g : T(0); });
      case BinaryOp::AbsBackward:
        return binary_loop<T>(a, b, out, [](T g, T x) { return g * T((x > 0) - (x < 0)); });
    }
    MAGMADNN_ERROR("binary: unknown op");
  });
}

}  // namespace magmadnn::cpu
