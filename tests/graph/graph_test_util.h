// Helpers for the sparse and graph tests: random edge lists, dense comparisons, a gradcheck
// assertion and the periodic square lattice used by the Ising application.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/error_of.h"
#include "magmadnn/magmadnn.h"

namespace graphtest {

using namespace magmadnn;
using magmadnn::testing::error_of;
using ::testing::HasSubstr;

// E random (row, col) pairs in [0, rows) x [0, cols) (duplicates likely for small sizes).
inline Tensor random_edges(int64_t rows, int64_t cols, int64_t E, uint64_t seed) {
  manual_seed(seed);
  Tensor r = randint(0, rows, {E, 1}), c = randint(0, cols, {E, 1});
  return concat({r, c}, 1).contiguous();
}

inline Tensor random_values(const Shape& shape, uint64_t seed, DType dtype = kFloat64, double lo = -1,
                            double hi = 1) {
  manual_seed(seed);
  return uniform(shape, lo, hi, dtype);
}

// Largest |a - b| elementwise (same shape).
inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  double m = 0;
  for (size_t i = 0; i < va.size() && i < vb.size(); ++i) m = std::max(m, std::abs(va[i] - vb[i]));
  return m;
}

template <typename Fn>
::testing::AssertionResult gradcheck_ok(const Fn& f, const std::vector<Tensor>& inputs) {
  const autograd::GradcheckResult r = autograd::gradcheck(f, inputs);
  if (r.ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << r.message << " (max abs error " << r.max_abs_error << ")";
}

// L x L periodic square lattice: node r*L + c, each node's right and down neighbours (2 L^2
// undirected edges, listed once).
inline Tensor lattice_edges(int64_t L) {
  std::vector<int64_t> e;
  for (int64_t r = 0; r < L; ++r)
    for (int64_t c = 0; c < L; ++c) {
      const int64_t i = r * L + c;
      e.insert(e.end(), {i, r * L + (c + 1) % L, i, ((r + 1) % L) * L + c});
    }
  return from_vector<int64_t>(e, {2 * L * L, 2});
}

}  // namespace graphtest
