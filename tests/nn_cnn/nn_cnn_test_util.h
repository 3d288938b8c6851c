// Helpers shared by the tests of the convolutional modules, the model zoo and fusion: the
// message of the Error a call throws, and tensor differences.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "common/error_of.h"
#include "magmadnn/magmadnn.h"

namespace nn_cnn_test {

using magmadnn::testing::error_of;

inline double max_abs_diff(const magmadnn::Tensor& a, const magmadnn::Tensor& b) {
  const auto va = a.to(magmadnn::kFloat64).to_vector<double>(),
             vb = b.to(magmadnn::kFloat64).to_vector<double>();
  if (va.size() != vb.size()) return INFINITY;
  double m = 0;
  for (size_t i = 0; i < va.size(); ++i) m = std::max(m, std::abs(va[i] - vb[i]));
  return m;
}

inline double max_abs(const magmadnn::Tensor& a) {
  double m = 0;
  for (double v : a.to(magmadnn::kFloat64).to_vector<double>()) m = std::max(m, std::abs(v));
  return m;
}

}  // namespace nn_cnn_test
