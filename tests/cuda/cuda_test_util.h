// Shared by the CUDA tests: the skip guard (every GPU test skips, with the reason, where no CUDA
// device can be used), the GPU device and the two backends, and the CPU-versus-CUDA comparison.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "common/error_of.h"
#include "magmadnn/backend/backend.h"
#include "magmadnn/backend/cuda.h"
#include "magmadnn/magmadnn.h"

#define SKIP_WITHOUT_GPU()                   \
  if (::magmadnn::cuda::device_count() == 0) \
  GTEST_SKIP() << "no CUDA device (" << ::magmadnn::cuda::unavailable_reason() << "); skipped"

namespace cudatest {

using namespace magmadnn;

inline const Device kGpu = Device::cuda(0);
inline Backend& cpu() { return backend_for(Device::cpu()); }
inline Backend& gpu() { return backend_for(kGpu); }

// Elementwise |got - want| <= atol + rtol * |want| (NaN matches NaN, equal infinities match),
// reporting the first three misses and how many there are.
inline void expect_close(const Tensor& got, const Tensor& want, double rtol, double atol, const std::string& what) {
  ASSERT_TRUE(got.defined()) << what << ": result undefined";
  ASSERT_TRUE(want.defined()) << what << ": reference undefined";
  ASSERT_EQ(got.shape(), want.shape()) << what;
  const std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
  int misses = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(g[i]) && std::isnan(w[i])) continue;
    if (std::isinf(w[i]) && g[i] == w[i]) continue;
    if (!(std::abs(g[i] - w[i]) <= atol + rtol * std::abs(w[i]))) {
      if (++misses <= 3)
        ADD_FAILURE() << what << ": element " << i << " is " << g[i] << " on cuda, " << w[i] << " on cpu";
    }
  }
  EXPECT_EQ(misses, 0) << what << " (" << misses << " of " << g.size() << " elements differ)";
}

}  // namespace cudatest
