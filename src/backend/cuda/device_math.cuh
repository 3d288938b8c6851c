// Device helpers shared by the .cu files: strided offsets for StridedGeom, and float/double
// overloads of the math functions (so kernels read like the CPU loops they mirror).
#pragma once

#include <cstdint>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/fast_div.h"

namespace magmadnn::cuda {

// Element offsets of linear index i (row-major over g.sizes) in each of the first N operands.
template <int N>
__device__ __forceinline__ void strided_offsets(const StridedGeom& g, int64_t i, int64_t* off) {
  for (int k = 0; k < N; ++k) off[k] = 0;
  for (int d = g.nd - 1; d >= 0; --d) {
    const int64_t size = g.sizes[d];
    const int64_t idx = i % size;
    i /= size;
    for (int k = 0; k < N; ++k) off[k] += idx * g.strides[k][d];
  }
}

// Four consecutive elements of T, loaded and stored as 16-byte vectors (float4; two double2 for
// double): the 4-wide paths of memory-bound kernels. The address must be 4-element aligned.
template <typename T>
struct Vec4 {
  T v[4];
};
template <typename T>
__device__ __forceinline__ Vec4<T> load4(const T* p) {
  Vec4<T> r;
  if constexpr (sizeof(T) == 4) {
    const float4 f = *reinterpret_cast<const float4*>(p);
    r.v[0] = f.x, r.v[1] = f.y, r.v[2] = f.z, r.v[3] = f.w;
  } else {
    const double2 a = reinterpret_cast<const double2*>(p)[0], b = reinterpret_cast<const double2*>(p)[1];
    r.v[0] = a.x, r.v[1] = a.y, r.v[2] = b.x, r.v[3] = b.y;
  }
  return r;
}
template <typename T>
__device__ __forceinline__ void store4(T* p, const Vec4<T>& r) {
  if constexpr (sizeof(T) == 4) {
    *reinterpret_cast<float4*>(p) = make_float4(r.v[0], r.v[1], r.v[2], r.v[3]);
  } else {
    reinterpret_cast<double2*>(p)[0] = make_double2(r.v[0], r.v[1]);
    reinterpret_cast<double2*>(p)[1] = make_double2(r.v[2], r.v[3]);
  }
}

namespace dm {
__device__ __forceinline__ float exp(float v) { return ::expf(v); }
__device__ __forceinline__ double exp(double v) { return ::exp(v); }
__device__ __forceinline__ float log(float v) { return ::logf(v); }
__device__ __forceinline__ double log(double v) { return ::log(v); }
__device__ __forceinline__ float sqrt(float v) { return ::sqrtf(v); }
__device__ __forceinline__ double sqrt(double v) { return ::sqrt(v); }
__device__ __forceinline__ float abs(float v) { return ::fabsf(v); }
__device__ __forceinline__ double abs(double v) { return ::fabs(v); }
__device__ __forceinline__ float tanh(float v) { return ::tanhf(v); }
__device__ __forceinline__ double tanh(double v) { return ::tanh(v); }
__device__ __forceinline__ float erf(float v) { return ::erff(v); }
__device__ __forceinline__ double erf(double v) { return ::erf(v); }
__device__ __forceinline__ float pow(float a, float b) { return ::powf(a, b); }
__device__ __forceinline__ double pow(double a, double b) { return ::pow(a, b); }

template <typename T>
__device__ __forceinline__ T gelu(T x) {
  return T(0.5) * x * (T(1) + erf(x * T(0.70710678118654752440)));
}
template <typename T>
__device__ __forceinline__ T gelu_grad(T x) {
  const T cdf = T(0.5) * (T(1) + erf(x * T(0.70710678118654752440)));
  const T pdf = exp(T(-0.5) * x * x) * T(0.3989422804014327);  // 1/sqrt(2 pi)
  return cdf + x * pdf;
}
}  // namespace dm

}  // namespace magmadnn::cuda
