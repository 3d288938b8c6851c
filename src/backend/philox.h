// Counter-based random numbers for tensor fills on every backend: Philox4x32-10 (Salmon, Moraes,
// Dror and Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC'11), the generator cuRAND and
// PyTorch use on GPUs. A draw is a pure function of (key, offset, block index), so
//  - the CPU's OpenMP loop and a CUDA kernel produce the same numbers, in any order and on any
//    number of threads (a seed gives the same weights and dropout masks on every device);
//  - a CUDA graph can replay a captured draw with fresh numbers by reading its offset from device
//    memory that each replay sets (backend/cuda/random.cu).
// Plain C++ with host and device qualifiers under nvcc; tests/core/test_philox.cpp checks the
// published known-answer vectors and the distributions.
//
// A fill of n elements of type T takes `offset` from the generator (Generator::take_philox_offsets)
// and blocks b = 0, 1, ... of that stream: block b is philox(counter = {b, offset}, key), four
// 32-bit words, which give elements b * E .. b * E + E - 1 (E = per_block<T>(): four 4-byte or
// two 8-byte values).
#pragma once

#include <cmath>
#include <cstdint>

#include "backend/host_device.h"

namespace magmadnn::detail {

struct PhiloxWords {
  uint32_t w[4];
};

MAGMADNN_HOST_DEVICE_INLINE void mul_hi_lo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t p = uint64_t(a) * b;
  hi = static_cast<uint32_t>(p >> 32);
  lo = static_cast<uint32_t>(p);
}

// Ten rounds of the Philox 4x32 bijection of counter c under key (k0, k1).
MAGMADNN_HOST_DEVICE_INLINE PhiloxWords philox4x32_10(PhiloxWords c, uint32_t k0, uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {  // the key schedule: Weyl increments (golden ratio, sqrt(3) - 1)
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    uint32_t hi0, lo0, hi1, lo1;
    mul_hi_lo(0xD2511F53u, c.w[0], hi0, lo0);
    mul_hi_lo(0xCD9E8D57u, c.w[2], hi1, lo1);
    c = PhiloxWords{{hi1 ^ c.w[1] ^ k0, lo1, hi0 ^ c.w[3] ^ k1, lo0}};
  }
  return c;
}

// One draw's stream: the generator's key and the offset this draw took.
struct PhiloxStream {
  uint64_t key = 0;
  uint64_t offset = 0;
};

MAGMADNN_HOST_DEVICE_INLINE PhiloxWords philox_block(PhiloxStream s, uint64_t block) {
  return philox4x32_10(PhiloxWords{{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32),
                                    static_cast<uint32_t>(s.offset), static_cast<uint32_t>(s.offset >> 32)}},
                       static_cast<uint32_t>(s.key), static_cast<uint32_t>(s.key >> 32));
}

// Elements of T that one block of four words gives.
template <typename T>
MAGMADNN_HOST_DEVICE_INLINE constexpr int per_block() {
  return sizeof(T) <= 4 ? 4 : 2;
}

// Unit intervals from words, exactly representable in double: 24 bits in [0, 1) for 4-byte
// values (so a float never rounds up to 1), 53 bits from two words for 8-byte ones, and 32 bits
// in (0, 1] for Box-Muller's logarithm.
MAGMADNN_HOST_DEVICE_INLINE double unit24(uint32_t w) { return (w >> 8) * 0x1p-24; }
MAGMADNN_HOST_DEVICE_INLINE double unit53(uint32_t hi, uint32_t lo) {
  return static_cast<double>((uint64_t(hi) << 21) ^ (lo >> 11)) * 0x1p-53;
}
MAGMADNN_HOST_DEVICE_INLINE double open_unit32(uint32_t w) { return (w + 1.0) * 0x1p-32; }
MAGMADNN_HOST_DEVICE_INLINE double open_unit53(uint32_t hi, uint32_t lo) {
  return (static_cast<double>((uint64_t(hi) << 21) ^ (lo >> 11)) + 1.0) * 0x1p-53;
}

// The distributions: each turns a block's words into per_block<T>() values. Arithmetic is done in
// double with explicit fma, so host and device round alike (uniform and bernoulli are bit-equal
// across backends; normal differs by the last bits of log/cos at most).

// Uniform on [low, low + span).
struct UniformDist {
  double low, span;
  template <typename T>
  MAGMADNN_HOST_DEVICE_INLINE void operator()(const PhiloxWords& r, T* v) const {
    if constexpr (per_block<T>() == 4) {
      for (int k = 0; k < 4; ++k) v[k] = static_cast<T>(::fma(span, unit24(r.w[k]), low));
    } else {
      v[0] = static_cast<T>(::fma(span, unit53(r.w[0], r.w[1]), low));
      v[1] = static_cast<T>(::fma(span, unit53(r.w[2], r.w[3]), low));
    }
  }
};

// Normal(mean, std) by Box-Muller: each pair of unit values gives two normals.
struct NormalDist {
  double mean, std;
  MAGMADNN_HOST_DEVICE_INLINE void pair(double u1, double u2, double& z0, double& z1) const {
    const double radius = ::sqrt(-2.0 * ::log(u1)), angle = 6.283185307179586476925 * u2;
    z0 = ::fma(std * radius, ::cos(angle), mean);
    z1 = ::fma(std * radius, ::sin(angle), mean);
  }
  template <typename T>
  MAGMADNN_HOST_DEVICE_INLINE void operator()(const PhiloxWords& r, T* v) const {
    double z[4];
    if constexpr (per_block<T>() == 4) {
      pair(open_unit32(r.w[0]), r.w[1] * 0x1p-32, z[0], z[1]);
      pair(open_unit32(r.w[2]), r.w[3] * 0x1p-32, z[2], z[3]);
    } else {
      pair(open_unit53(r.w[0], r.w[1]), unit53(r.w[2], r.w[3]), z[0], z[1]);
    }
    for (int k = 0; k < per_block<T>(); ++k) v[k] = static_cast<T>(z[k]);
  }
};

// 1 with probability p, else 0: word < p * 2^32.
struct BernoulliDist {
  uint64_t threshold;
  static BernoulliDist with_probability(double p) {
    return {p >= 1.0 ? (uint64_t(1) << 32) : p <= 0.0 ? 0 : static_cast<uint64_t>(std::ldexp(p, 32))};
  }
  template <typename T>
  MAGMADNN_HOST_DEVICE_INLINE void operator()(const PhiloxWords& r, T* v) const {
    for (int k = 0; k < per_block<T>(); ++k) v[k] = r.w[k] < threshold ? T(1) : T(0);
  }
};

// Block b of a fill of n elements into dst (the last block may be partial).
template <typename T, typename Dist>
MAGMADNN_HOST_DEVICE_INLINE void fill_block(const Dist& dist, PhiloxStream s, uint64_t b, T* dst, int64_t n) {
  constexpr int E = per_block<T>();
  T v[E];
  dist(philox_block(s, b), v);
  const int64_t first = static_cast<int64_t>(b) * E;
  for (int k = 0; k < E && first + k < n; ++k) dst[first + k] = v[k];
}

}  // namespace magmadnn::detail
