// Reading the PyTorch golden fixtures (tests/data/golden/*.json, written by tests/golden/gen_optim.py)
// and comparing tensors with them.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "magmadnn/magmadnn.h"

namespace golden {

inline nlohmann::json load(const std::string& file) {
  const std::string path = std::string(MAGMADNN_TEST_DATA_DIR) + "/golden/" + file;
  std::ifstream in(path);
  if (!in)
    throw std::runtime_error("cannot open golden fixture " + path + " (run tests/golden/gen_optim.py)");
  return nlohmann::json::parse(in);
}

inline magmadnn::Shape shape_of(const nlohmann::json& j) {
  return magmadnn::Shape(j.get<std::vector<int64_t>>());
}

inline magmadnn::Tensor tensor_of(const nlohmann::json& values, const magmadnn::Shape& shape,
                                  magmadnn::DType dtype = magmadnn::kFloat32) {
  return magmadnn::from_vector<double>(values.get<std::vector<double>>(), shape).to(dtype);
}

// Each element within rtol * |expected| + atol; reports the first few offenders.
inline ::testing::AssertionResult close_to(const magmadnn::Tensor& actual, const nlohmann::json& expected,
                                           double rtol = 1e-5, double atol = 1e-7) {
  std::vector<double> a = actual.to(magmadnn::kFloat64).to_vector<double>();
  std::vector<double> e = expected.get<std::vector<double>>();
  if (a.size() != e.size())
    return ::testing::AssertionFailure() << "size " << a.size() << " vs expected " << e.size();
  int bad = 0;
  std::ostringstream msg;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!(std::abs(a[i] - e[i]) <= rtol * std::abs(e[i]) + atol)) {
      if (bad++ < 5) msg << "\n  [" << i << "] got " << a[i] << ", expected " << e[i];
    }
  }
  if (bad)
    return ::testing::AssertionFailure() << bad << " of " << a.size() << " elements differ:" << msg.str();
  return ::testing::AssertionSuccess();
}

}  // namespace golden
