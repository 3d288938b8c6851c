// FastDiv (src/backend/cuda/fast_div.h), the divide-free index arithmetic of the CUDA kernels,
// against the hardware divide on the host: every numerator below 2^20 for divisors around the
// shapes kernels meet, the edges of each divisor's range, and random pairs over the whole domain
// (1 <= d <= 2^31, n < 2^31). Runs in every build: the header is plain C++ outside nvcc.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "backend/cuda/fast_div.h"

using magmadnn::cuda::FastDiv;

namespace {

constexpr uint32_t kMaxN = 0x7fffffffu;  // numerators below 2^31

void expect_divides(uint32_t d, uint32_t n) {
  const FastDiv f(d);
  ASSERT_EQ(f.div(n), n / d) << n << " / " << d;
  ASSERT_EQ(f.mod(n), n % d) << n << " % " << d;
}

}  // namespace

TEST(FastDiv, SmallNumeratorsForKernelShapes) {
  // Plane sizes (S, S / 4), channel counts and powers of two and their neighbours.
  std::vector<uint32_t> divisors = {1, 2, 3, 4, 5, 7, 16, 49, 196, 784, 3, 64, 128, 256, 512, 1000, 1023, 1025};
  for (uint32_t k = 1; k < 31; ++k) divisors.push_back(1u << k), divisors.push_back((1u << k) + 1);
  for (uint32_t d : divisors) {
    const FastDiv f(d);
    for (uint32_t n = 0; n < (1u << 20); ++n) {
      if (f.div(n) != n / d) FAIL() << n << " / " << d << ": got " << f.div(n);
    }
  }
}

TEST(FastDiv, EdgesOfTheDomain) {
  for (uint32_t d : {1u, 2u, 3u, 7u, 784u, 65535u, 65536u, 65537u, (1u << 30) + 1, kMaxN, 1u << 31}) {
    for (uint32_t n : {0u, 1u, d - 1, d, d + 1, 2 * d - 1, kMaxN - 1, kMaxN}) {
      if (n > kMaxN) continue;
      expect_divides(d, n);
    }
    expect_divides(d, kMaxN / d * d);      // the last multiple below 2^31
    if (kMaxN / d * d > 0) expect_divides(d, kMaxN / d * d - 1);
  }
}

TEST(FastDiv, RandomPairsOverTheWholeDomain) {
  std::mt19937 gen(20261127);
  std::uniform_int_distribution<uint32_t> divisor(1, 1u << 31), numerator(0, kMaxN);
  std::uniform_int_distribution<uint32_t> small(1, 4096);
  for (int i = 0; i < 200000; ++i) {
    expect_divides(divisor(gen), numerator(gen));
    expect_divides(small(gen), numerator(gen));
  }
}
