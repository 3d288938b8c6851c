// CUDA elementwise kernels: same-device copies with dtype conversion, fills, arange, and the
// unary and binary maps over strided (possibly broadcast, stride-0) operands, with a 4-wide form
// for the common all-contiguous case. One generic
// strided-index kernel per dtype; the op is a runtime switch (uniform across a warp), which keeps
// the number of instantiations, and so CI's compile time, small.
#include <cstdint>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/device_math.cuh"

namespace magmadnn::cuda {

namespace {

template <typename S, typename D>
__global__ void copy_kernel(StridedGeom g, const S* src, D* dst, bool contiguous) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < g.numel; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[2] = {i, i};
    if (!contiguous) strided_offsets<2>(g, i, off);
    dst[off[0]] = static_cast<D>(src[off[1]]);
  }
}

template <typename T>
__global__ void fill_kernel(StridedGeom g, T* dst, T value, bool contiguous) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < g.numel; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[1] = {i};
    if (!contiguous) strided_offsets<1>(g, i, off);
    dst[off[0]] = value;
  }
}

template <typename T>
__global__ void arange_kernel(int64_t n, T* dst, double start, double step) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = static_cast<T>(start + step * static_cast<double>(i));
}

template <typename T>
__device__ __forceinline__ T apply_unary(UnaryOp op, T v, T a, T b) {
  switch (op) {
    case UnaryOp::Neg: return -v;
    case UnaryOp::Exp: return dm::exp(v);
    case UnaryOp::Log: return dm::log(v);
    case UnaryOp::Sqrt: return dm::sqrt(v);
    case UnaryOp::Rsqrt: return T(1) / dm::sqrt(v);
    case UnaryOp::Abs: return dm::abs(v);
    case UnaryOp::Sign: return T((v > T(0)) - (v < T(0)));
    case UnaryOp::Square: return v * v;
    case UnaryOp::Reciprocal: return T(1) / v;
    case UnaryOp::Relu: return v > T(0) ? v : T(0);
    case UnaryOp::LeakyRelu: return v > T(0) ? v : v * a;
    case UnaryOp::Sigmoid: return T(1) / (T(1) + dm::exp(-v));
    case UnaryOp::Tanh: return dm::tanh(v);
    case UnaryOp::Gelu: return dm::gelu(v);
    case UnaryOp::Clamp: return v < a ? a : (v > b ? b : v);
    case UnaryOp::PowScalar: return dm::pow(v, a);
    case UnaryOp::AddScalar: return v + a;
    case UnaryOp::MulScalar: return v * a;
    case UnaryOp::RSubScalar: return a - v;
    case UnaryOp::RDivScalar: return a / v;
  }
  return v;
}

template <typename T>
__device__ __forceinline__ T apply_binary(BinaryOp op, T x, T y, T al, T be) {
  switch (op) {
    case BinaryOp::Add: return x + y;
    case BinaryOp::Sub: return x - y;
    case BinaryOp::Mul: return x * y;
    case BinaryOp::Div: return x / y;
    case BinaryOp::Pow: return dm::pow(x, y);
    case BinaryOp::Maximum: return x > y ? x : y;
    case BinaryOp::Minimum: return x < y ? x : y;
    case BinaryOp::Eq: return T(x == y);
    case BinaryOp::Ne: return T(x != y);
    case BinaryOp::Lt: return T(x < y);
    case BinaryOp::Le: return T(x <= y);
    case BinaryOp::Gt: return T(x > y);
    case BinaryOp::Ge: return T(x >= y);
    case BinaryOp::ReluBackward: return y > T(0) ? x : T(0);
    case BinaryOp::LeakyReluBackward: return y > T(0) ? x : x * al;
    case BinaryOp::SigmoidBackward: return x * y * (T(1) - y);
    case BinaryOp::TanhBackward: return x * (T(1) - y * y);
    case BinaryOp::GeluBackward: return x * dm::gelu_grad(y);
    case BinaryOp::ClampBackward: return (y >= al && y <= be) ? x : T(0);
    case BinaryOp::AbsBackward: return x * T((y > T(0)) - (y < T(0)));
  }
  return x;
}

template <typename T>
__global__ void unary_kernel(StridedGeom g, const T* x, T* out, UnaryOp op, T a, T b, bool contiguous) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < g.numel; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[2] = {i, i};
    if (!contiguous) strided_offsets<2>(g, i, off);
    out[off[0]] = apply_unary(op, x[off[1]], a, b);
  }
}

template <typename T>
__global__ void binary_kernel(StridedGeom g, const T* x, const T* y, T* out, BinaryOp op, T al, T be,
                              bool contiguous) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < g.numel; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[3] = {i, i, i};
    if (!contiguous) strided_offsets<3>(g, i, off);
    out[off[0]] = apply_binary(op, x[off[1]], y[off[2]], al, be);
  }
}

// The contiguous, same-size case four elements at a time (16-byte loads and stores), for
// operands whose element count is a multiple of 4 and whose addresses are 16-byte aligned.
template <typename T>
__global__ void unary_vec4_kernel(int64_t vectors, const T* x, T* out, UnaryOp op, T a, T b) {
  for (int64_t v = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; v < vectors; v += int64_t(gridDim.x) * blockDim.x) {
    Vec4<T> r = load4(x + 4 * v);
#pragma unroll
    for (int k = 0; k < 4; ++k) r.v[k] = apply_unary(op, r.v[k], a, b);
    store4(out + 4 * v, r);
  }
}

template <typename T>
__global__ void binary_vec4_kernel(int64_t vectors, const T* x, const T* y, T* out, BinaryOp op, T al, T be) {
  for (int64_t v = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; v < vectors; v += int64_t(gridDim.x) * blockDim.x) {
    const Vec4<T> xv = load4(x + 4 * v), yv = load4(y + 4 * v);
    Vec4<T> r;
#pragma unroll
    for (int k = 0; k < 4; ++k) r.v[k] = apply_binary(op, xv.v[k], yv.v[k], al, be);
    store4(out + 4 * v, r);
  }
}

// True when every operand holds exactly `numel` contiguous elements, numel % 4 == 0, and each
// starts on a 16-byte boundary: the 4-wide kernels apply.
template <typename... Ts>
bool vec4_ok(int64_t numel, const Ts&... ts) {
  const auto ok = [numel](const Tensor& t) {
    return t.is_contiguous() && t.numel() == numel && reinterpret_cast<uintptr_t>(t.raw_data()) % 16 == 0;
  };
  return numel % 4 == 0 && (ok(ts) && ...);
}

bool all_contiguous(const Tensor& a) { return a.is_contiguous(); }
template <typename... Ts>
bool all_contiguous(const Tensor& a, const Ts&... rest) {
  return a.is_contiguous() && all_contiguous(rest...);
}

template <typename S>
void launch_copy(const StridedGeom& g, const Tensor& src, Tensor& dst, bool contiguous) {
  const S* s = static_cast<const S*>(src.raw_data());
  void* d = dst.raw_data();
  const unsigned blocks = blocks_for(g.numel);
  switch (dst.dtype()) {
    case DType::Float32: copy_kernel<<<blocks, kThreads, 0, stream()>>>(g, s, static_cast<float*>(d), contiguous); break;
    case DType::Float64: copy_kernel<<<blocks, kThreads, 0, stream()>>>(g, s, static_cast<double*>(d), contiguous); break;
    case DType::Int64: copy_kernel<<<blocks, kThreads, 0, stream()>>>(g, s, static_cast<int64_t*>(d), contiguous); break;
    case DType::Int32: copy_kernel<<<blocks, kThreads, 0, stream()>>>(g, s, static_cast<int32_t*>(d), contiguous); break;
    case DType::UInt8: copy_kernel<<<blocks, kThreads, 0, stream()>>>(g, s, static_cast<uint8_t*>(d), contiguous); break;
  }
}

}  // namespace

void CudaBackend::copy_device(const Tensor& src, Tensor& dst) {
  check_cuda_tensor(src, "copy");
  check_cuda_tensor(dst, "copy");
  MAGMADNN_CHECK(src.device() == dst.device(), "copy: ", src.device(), " and ", dst.device(), " differ");
  if (src.numel() == 0) return;
  if (src.dtype() == dst.dtype() && src.is_contiguous() && dst.is_contiguous()) {
    if (src.raw_data() != dst.raw_data())  // cudaMemcpy allows no overlap: overlapping views go through a kernel
    {
      const char* s = static_cast<const char*>(src.raw_data());
      char* d = static_cast<char*>(dst.raw_data());
      const size_t n = src.nbytes();
      if (d + n <= s || s + n <= d) {
        MAGMADNN_CUDA_CHECK(cudaMemcpyAsync(d, s, n, cudaMemcpyDeviceToDevice, stream()));
        return;
      }
      Tensor tmp = Tensor::empty(src.shape(), src.dtype(), src.device());
      MAGMADNN_CUDA_CHECK(cudaMemcpyAsync(tmp.raw_data(), s, n, cudaMemcpyDeviceToDevice, stream()));
      MAGMADNN_CUDA_CHECK(cudaMemcpyAsync(d, tmp.raw_data(), n, cudaMemcpyDeviceToDevice, stream()));
    }
    return;
  }
  const bool contiguous = all_contiguous(src, dst);
  const StridedGeom g = make_geom(dst.shape(), {&dst.strides(), &src.strides()});
  switch (src.dtype()) {
    case DType::Float32: launch_copy<float>(g, src, dst, contiguous); break;
    case DType::Float64: launch_copy<double>(g, src, dst, contiguous); break;
    case DType::Int64: launch_copy<int64_t>(g, src, dst, contiguous); break;
    case DType::Int32: launch_copy<int32_t>(g, src, dst, contiguous); break;
    case DType::UInt8: launch_copy<uint8_t>(g, src, dst, contiguous); break;
  }
  MAGMADNN_CUDA_CHECK_LAUNCH("copy");
}

void CudaBackend::fill(Tensor& dst, double value) {
  check_cuda_tensor(dst, "fill");
  if (dst.numel() == 0) return;
  const StridedGeom g = make_geom(dst.shape(), {&dst.strides()});
  const bool contiguous = dst.is_contiguous();
  dispatch_all(dst.dtype(), "fill", [&](auto tag) {
    using T = decltype(tag);
    fill_kernel<T><<<blocks_for(g.numel), kThreads, 0, stream()>>>(g, static_cast<T*>(dst.raw_data()),
                                                                     static_cast<T>(value), contiguous);
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("fill");
}

void CudaBackend::arange(Tensor& dst, double start, double step) {
  check_cuda_tensor(dst, "arange");
  MAGMADNN_CHECK(dst.is_contiguous(), "arange: expected a contiguous tensor");
  if (dst.numel() == 0) return;
  dispatch_all(dst.dtype(), "arange", [&](auto tag) {
    using T = decltype(tag);
    arange_kernel<T><<<blocks_for(dst.numel()), kThreads, 0, stream()>>>(dst.numel(), static_cast<T*>(dst.raw_data()),
                                                                          start, step);
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("arange");
}

void CudaBackend::unary(UnaryOp op, const Tensor& x, Tensor& out, double alpha, double beta) {
  check_cuda_tensor(x, "unary");
  check_cuda_tensor(out, "unary");
  MAGMADNN_CHECK(x.dtype() == out.dtype(), "unary: input dtype ", x.dtype(), " differs from output ", out.dtype());
  if (out.numel() == 0) return;
  const StridedGeom g = make_geom(out.shape(), {&out.strides(), &x.strides()});
  const bool contiguous = all_contiguous(x, out);
  const bool wide = vec4_ok(out.numel(), x, out);
  dispatch_float(x.dtype(), "unary", [&](auto tag) {
    using T = decltype(tag);
    if (wide) {
      unary_vec4_kernel<T><<<blocks_for(out.numel() / 4), kThreads, 0, stream()>>>(
          out.numel() / 4, static_cast<const T*>(x.raw_data()), static_cast<T*>(out.raw_data()), op,
          static_cast<T>(alpha), static_cast<T>(beta));
      return;
    }
    unary_kernel<T><<<blocks_for(g.numel), kThreads, 0, stream()>>>(
        g, static_cast<const T*>(x.raw_data()), static_cast<T*>(out.raw_data()), op, static_cast<T>(alpha),
        static_cast<T>(beta), contiguous);
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("unary");
}

void CudaBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out, double alpha, double beta) {
  check_cuda_tensor(a, "binary");
  check_cuda_tensor(b, "binary");
  check_cuda_tensor(out, "binary");
  MAGMADNN_CHECK(a.dtype() == out.dtype() && b.dtype() == out.dtype(), "binary: dtypes ", a.dtype(), " and ",
                 b.dtype(), " differ from output ", out.dtype());
  if (out.numel() == 0) return;
  const StridedGeom g = make_geom(out.shape(), {&out.strides(), &a.strides(), &b.strides()});
  const bool contiguous = all_contiguous(a, b, out);
  const bool wide = vec4_ok(out.numel(), a, b, out);
  dispatch_float(out.dtype(), "binary", [&](auto tag) {
    using T = decltype(tag);
    if (wide) {
      binary_vec4_kernel<T><<<blocks_for(out.numel() / 4), kThreads, 0, stream()>>>(
          out.numel() / 4, static_cast<const T*>(a.raw_data()), static_cast<const T*>(b.raw_data()),
          static_cast<T*>(out.raw_data()), op, static_cast<T>(alpha), static_cast<T>(beta));
      return;
    }
    binary_kernel<T><<<blocks_for(g.numel), kThreads, 0, stream()>>>(
        g, static_cast<const T*>(a.raw_data()), static_cast<const T*>(b.raw_data()), static_cast<T*>(out.raw_data()),
        op, static_cast<T>(alpha), static_cast<T>(beta), contiguous);
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("binary");
}

}  // namespace magmadnn::cuda
