// Helpers for the convolution / pooling / normalization / dropout op tests: error capture,
// random leaves, value comparison, gradcheck wrapper and the PyTorch golden fixtures
// (tests/data/golden/cnn_*.json from tests/golden/gen_cnn.py).
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/error_of.h"
#include "magmadnn/magmadnn.h"

namespace cnntest {

using namespace magmadnn;
using ::testing::HasSubstr;

using magmadnn::testing::error_of;

inline Tensor values(const Shape& shape, uint64_t seed, DType dtype = kFloat64, double lo = -1.0, double hi = 1.0) {
  manual_seed(seed);
  return uniform(shape, lo, hi, dtype);
}
inline Tensor leaf(const Shape& shape, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  return values(shape, seed, kFloat64, lo, hi).set_requires_grad();
}

inline ::testing::AssertionResult values_near(const Tensor& t, const std::vector<double>& expected, double atol,
                                              double rtol) {
  const auto v = t.to(kFloat64).to_vector<double>();
  if (v.size() != expected.size())
    return ::testing::AssertionFailure() << "got " << v.size() << " values, expected " << expected.size();
  int bad = 0;
  std::ostringstream msg;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!(std::abs(v[i] - expected[i]) <= atol + rtol * std::abs(expected[i])) && bad++ < 5)
      msg << "\n  [" << i << "] got " << v[i] << ", expected " << expected[i];
  }
  if (bad) return ::testing::AssertionFailure() << bad << " of " << v.size() << " elements differ:" << msg.str();
  return ::testing::AssertionSuccess();
}
inline ::testing::AssertionResult tensors_near(const Tensor& a, const Tensor& b, double atol, double rtol) {
  if (a.shape() != b.shape()) return ::testing::AssertionFailure() << "shapes " << a.shape() << " vs " << b.shape();
  return values_near(a, b.to(kFloat64).to_vector<double>(), atol, rtol);
}

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;
inline ::testing::AssertionResult gradcheck_ok(const Fn& f, const std::vector<Tensor>& inputs) {
  const autograd::GradcheckResult r = autograd::gradcheck(f, inputs);
  if (r.ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << r.message << " (max abs error " << r.max_abs_error << ")";
}

// --- golden fixtures ---
inline nlohmann::json load_golden(const std::string& file) {
  const std::string path = std::string(MAGMADNN_TEST_DATA_DIR) + "/golden/" + file;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open golden fixture " + path + " (run tests/golden/gen_cnn.py)");
  return nlohmann::json::parse(in);
}
// A fixture tensor: {"shape": [...], "data": [...]}.
inline Tensor from_json(const nlohmann::json& j, DType dtype = kFloat32) {
  return from_vector<double>(j.at("data").get<std::vector<double>>(), Shape(j.at("shape").get<std::vector<int64_t>>()))
      .to(dtype);
}
inline ::testing::AssertionResult matches(const Tensor& t, const nlohmann::json& j, double rtol = 1e-5,
                                          double atol = 1e-6) {
  const Shape s(j.at("shape").get<std::vector<int64_t>>());
  if (t.shape() != s) return ::testing::AssertionFailure() << "shape " << t.shape() << ", expected " << s;
  return values_near(t, j.at("data").get<std::vector<double>>(), atol, rtol);
}

}  // namespace cnntest
