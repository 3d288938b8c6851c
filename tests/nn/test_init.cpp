// nn::init against PyTorch's formulas: fans (Linear and conv weights), gains, and the empirical
// bounds / standard deviations of each initialiser on large tensors (not identical random
// numbers, which are generator-specific), plus reproducibility under manual_seed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "magmadnn/magmadnn.h"

using namespace magmadnn;
using namespace magmadnn::nn::init;
using ::testing::HasSubstr;

namespace {

struct Stats {
  double min, max, mean, std;
};

Stats stats_of(const Tensor& t) {
  auto v = t.to(kFloat64).to_vector<double>();
  Stats s{1e300, -1e300, 0, 0};
  for (double x : v) {
    s.min = std::min(s.min, x);
    s.max = std::max(s.max, x);
    s.mean += x;
  }
  s.mean /= v.size();
  for (double x : v) s.std += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(s.std / (v.size() - 1));
  return s;
}

// Uniform on [-b, b]: within the bounds, reaching close to them, std b / sqrt(3).
void expect_uniform(const Tensor& t, double b) {
  Stats s = stats_of(t);
  EXPECT_GE(s.min, -b);
  EXPECT_LE(s.max, b);
  EXPECT_LT(s.min, -0.99 * b);
  EXPECT_GT(s.max, 0.99 * b);
  EXPECT_NEAR(s.std, b / std::sqrt(3.0), 0.02 * b);
  EXPECT_NEAR(s.mean, 0.0, 0.02 * b);
}

void expect_normal(const Tensor& t, double std) {
  Stats s = stats_of(t);
  EXPECT_NEAR(s.std, std, 0.02 * std);
  EXPECT_NEAR(s.mean, 0.0, 0.02 * std);
}

TEST(Init, FansOfLinearAndConvWeights) {
  EXPECT_EQ(calculate_fan_in_and_fan_out(empty({512, 784})), std::make_pair(int64_t{784}, int64_t{512}));
  // conv weight (out, in, kh, kw): the receptive field multiplies both fans.
  EXPECT_EQ(calculate_fan_in_and_fan_out(empty({64, 32, 3, 5})),
            std::make_pair(int64_t{32 * 15}, int64_t{64 * 15}));
  EXPECT_EQ(calculate_fan_in_and_fan_out(empty({8, 4, 7})), std::make_pair(int64_t{28}, int64_t{56}));
  try {
    calculate_fan_in_and_fan_out(empty({10}));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("at least 2 dimensions, got shape (10)"));
  }
}

TEST(Init, GainsAsPyTorch) {
  EXPECT_DOUBLE_EQ(calculate_gain(Nonlinearity::Linear), 1.0);
  EXPECT_DOUBLE_EQ(calculate_gain(Nonlinearity::Conv2d), 1.0);
  EXPECT_DOUBLE_EQ(calculate_gain(Nonlinearity::Sigmoid), 1.0);
  EXPECT_DOUBLE_EQ(calculate_gain(Nonlinearity::Tanh), 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(calculate_gain(Nonlinearity::Relu), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(calculate_gain(Nonlinearity::LeakyRelu), std::sqrt(2.0 / (1 + 0.01 * 0.01)));
  EXPECT_DOUBLE_EQ(calculate_gain(Nonlinearity::LeakyRelu, 0.2), std::sqrt(2.0 / 1.04));
  EXPECT_DOUBLE_EQ(calculate_gain(Nonlinearity::LeakyRelu, std::sqrt(5.0)), std::sqrt(1.0 / 3.0));
  EXPECT_DOUBLE_EQ(calculate_gain(Nonlinearity::Selu), 0.75);
}

TEST(Init, UniformNormalConstant) {
  manual_seed(0);
  Tensor t = empty({200, 300});
  uniform_(t, -0.5, 0.5);
  expect_uniform(t, 0.5);
  uniform_(t, 2.0, 3.0);
  Stats s = stats_of(t);
  EXPECT_GE(s.min, 2.0);
  EXPECT_LE(s.max, 3.0);
  EXPECT_NEAR(s.mean, 2.5, 0.01);
  normal_(t, 1.5, 0.25);
  s = stats_of(t);
  EXPECT_NEAR(s.mean, 1.5, 0.005);
  EXPECT_NEAR(s.std, 0.25, 0.005);
  constant_(t, 0.3);
  EXPECT_EQ(stats_of(t).min, static_cast<double>(0.3f));
  EXPECT_EQ(stats_of(t).max, static_cast<double>(0.3f));
  zeros_(t);
  EXPECT_EQ(stats_of(t).max, 0.0);
  ones_(t);
  EXPECT_EQ(stats_of(t).min, 1.0);
}

TEST(Init, XavierMatchesFormula) {
  manual_seed(1);
  Tensor w = empty({300, 500});
  xavier_uniform_(w);
  expect_uniform(w, std::sqrt(6.0 / 800));
  xavier_uniform_(w, 2.0);
  expect_uniform(w, 2.0 * std::sqrt(6.0 / 800));
  xavier_normal_(w, calculate_gain(Nonlinearity::Tanh));
  expect_normal(w, 5.0 / 3.0 * std::sqrt(2.0 / 800));
}

TEST(Init, KaimingMatchesFormula) {
  manual_seed(2);
  Tensor w = empty({256, 64, 3, 3}, kFloat64);  // fan_in 576, fan_out 2304
  kaiming_uniform_(w);                          // a = 0, leaky_relu: gain sqrt(2)
  expect_uniform(w, std::sqrt(2.0) * std::sqrt(3.0 / 576));
  kaiming_uniform_(w, std::sqrt(5.0));  // Linear's default: bound 1 / sqrt(fan_in)
  expect_uniform(w, 1.0 / std::sqrt(576.0));
  kaiming_normal_(w, 0.0, FanMode::FanOut, Nonlinearity::Relu);
  expect_normal(w, std::sqrt(2.0) / std::sqrt(2304.0));
  kaiming_uniform_(w, 0.0, FanMode::FanOut, Nonlinearity::Tanh);
  expect_uniform(w, 5.0 / 3.0 * std::sqrt(3.0 / 2304));
}

TEST(Init, ReproducibleUnderManualSeedAndWorksOnViews) {
  Tensor a = empty({10, 10}), b = empty({10, 10});
  manual_seed(42);
  kaiming_normal_(a);
  manual_seed(42);
  kaiming_normal_(b);
  EXPECT_TRUE(allclose(a, b, 0, 0));
  Tensor big = zeros({4, 6});
  Tensor view = big.t();  // (6, 4), not contiguous
  uniform_(view, 1.0, 2.0);
  Stats s = stats_of(big);
  EXPECT_GE(s.min, 1.0);
  EXPECT_LE(s.max, 2.0);
  Tensor labels = zeros({3, 3}, kInt64);
  EXPECT_THROW(uniform_(labels, 0, 1), Error);
}

}  // namespace
