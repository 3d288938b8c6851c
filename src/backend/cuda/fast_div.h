// FastDiv: division by a divisor fixed when a kernel is launched, for index math in
// memory-bound kernels. Plain C++ with host and device qualifiers under nvcc, so host code and
// the tests (tests/cuda/test_fast_div.cpp, every build) check the same arithmetic.
#pragma once

#include <cstdint>

#include "backend/host_device.h"

namespace magmadnn::cuda {

// n / d and n % d for a divisor fixed at launch, without a hardware divide (a multiply-high, an
// add and a shift; Granlund & Montgomery's method): for 1 <= d <= 2^31 and n < 2^31 (callers
// check their sizes against 2^31). Index math in memory-bound kernels (channel of an element,
// plane of a vector) uses it.
struct FastDiv {
  uint32_t d = 1, magic = 0, shift = 0;
  FastDiv() = default;
  explicit FastDiv(uint32_t divisor) : d(divisor) {
    while (shift < 32 && (uint64_t(1) << shift) < d) ++shift;  // 2^shift >= d
    magic = static_cast<uint32_t>(((uint64_t(1) << 32) * ((uint64_t(1) << shift) - d)) / d + 1);
  }
  MAGMADNN_HOST_DEVICE_INLINE uint32_t div(uint32_t n) const {
#ifdef __CUDA_ARCH__
    const uint32_t hi = __umulhi(n, magic);
#else
    const uint32_t hi = static_cast<uint32_t>((uint64_t(n) * magic) >> 32);
#endif
    return (hi + n) >> shift;
  }
  MAGMADNN_HOST_DEVICE_INLINE uint32_t mod(uint32_t n) const { return n - div(n) * d; }
};

}  // namespace magmadnn::cuda
