// Helpers shared by the op tests: plain reference loops (NumPy broadcasting written out by
// hand), value comparison, float64 gradcheck wrappers and error-message capture.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "common/error_of.h"
#include "magmadnn/magmadnn.h"

namespace optest {

using namespace magmadnn;
using ::testing::HasSubstr;

using magmadnn::testing::error_of;

// A float64 leaf with values in [lo, hi) that requires grad, for gradchecks.
inline Tensor leaf(const Shape& shape, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  manual_seed(seed);
  return uniform(shape, lo, hi, kFloat64).set_requires_grad();
}

// Values in [lo, hi) with the given dtype, no grad.
inline Tensor values(const Shape& shape, uint64_t seed, DType dtype = kFloat64, double lo = -1.0,
                     double hi = 1.0) {
  manual_seed(seed);
  return uniform(shape, lo, hi, dtype);
}

inline std::vector<int64_t> unravel(int64_t flat, const Shape& shape) {
  std::vector<int64_t> idx(shape.size());
  for (int64_t d = shape.dim() - 1; d >= 0; --d) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  return idx;
}

// Flat index into a row-major tensor of `shape` for an output index of higher (or equal) rank,
// following NumPy broadcasting (size-1 dimensions repeat, missing leading dimensions repeat).
inline int64_t broadcast_source(const std::vector<int64_t>& out_idx, const Shape& shape) {
  const size_t lead = out_idx.size() - shape.size();
  int64_t flat = 0;
  for (size_t d = 0; d < shape.size(); ++d) flat = flat * shape[d] + (shape[d] == 1 ? 0 : out_idx[lead + d]);
  return flat;
}

inline Shape ref_broadcast_shape(const Shape& a, const Shape& b) {
  const size_t n = std::max(a.size(), b.size());
  std::vector<int64_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i + a.size() < n ? 1 : a[i + a.size() - n];
    const int64_t db = i + b.size() < n ? 1 : b[i + b.size() - n];
    out[i] = da == 1 ? db : da;
  }
  return Shape(out);
}

// Reference elementwise binary op with broadcasting.
inline std::vector<double> ref_binary(const Tensor& a, const Tensor& b,
                                      const std::function<double(double, double)>& f,
                                      Shape* out_shape = nullptr) {
  const Shape s = ref_broadcast_shape(a.shape(), b.shape());
  const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  std::vector<double> out(s.numel());
  for (int64_t i = 0; i < s.numel(); ++i) {
    const auto idx = unravel(i, s);
    out[i] = f(va[broadcast_source(idx, a.shape())], vb[broadcast_source(idx, b.shape())]);
  }
  if (out_shape) *out_shape = s;
  return out;
}

inline std::vector<double> ref_unary(const Tensor& x, const std::function<double(double)>& f) {
  auto v = x.to_vector<double>();
  for (double& e : v) e = f(e);
  return v;
}

// Every element within atol + rtol * |expected|.
inline ::testing::AssertionResult values_near(const Tensor& t, const std::vector<double>& expected,
                                              double atol = 1e-12, double rtol = 1e-12) {
  const auto v = t.to_vector<double>();
  if (v.size() != expected.size())
    return ::testing::AssertionFailure() << "got " << v.size() << " values, expected " << expected.size();
  for (size_t i = 0; i < v.size(); ++i) {
    const bool both_nan = std::isnan(v[i]) && std::isnan(expected[i]);
    if (!both_nan && !(std::abs(v[i] - expected[i]) <= atol + rtol * std::abs(expected[i])))
      return ::testing::AssertionFailure()
             << "element " << i << ": got " << v[i] << ", expected " << expected[i];
  }
  return ::testing::AssertionSuccess();
}

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

inline ::testing::AssertionResult gradcheck_ok(const Fn& f, const std::vector<Tensor>& inputs) {
  const autograd::GradcheckResult r = autograd::gradcheck(f, inputs);
  if (r.ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << r.message << " (max abs error " << r.max_abs_error << ")";
}

}  // namespace optest
