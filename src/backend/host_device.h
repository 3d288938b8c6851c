// MAGMADNN_HOST_DEVICE_INLINE: an inline function that nvcc compiles for the host and the device
// (plain `inline` in host compilers), for small arithmetic that host code, kernels and the tests
// must share exactly (backend/philox.h, backend/optim_update.h, backend/cuda/fast_div.h).
#pragma once

#if defined(__CUDACC__)
#define MAGMADNN_HOST_DEVICE_INLINE __host__ __device__ __forceinline__
#else
#define MAGMADNN_HOST_DEVICE_INLINE inline
#endif
