// nn::Dropout: inverted dropout in training (drop rate, 1 / (1 - p) scaling, masked gradient,
// reproducible under manual_seed), identity in evaluation, edge probabilities and errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nn_cnn/nn_cnn_test_util.h"

using namespace magmadnn;
using nn_cnn_test::error_of;
using ::testing::HasSubstr;

TEST(DropoutModule, TrainingDropsAtRatePAndScalesTheRest) {
  manual_seed(40);
  nn::Dropout drop(0.3);
  EXPECT_EQ(drop.name(), "Dropout(p=0.3)");
  EXPECT_TRUE(drop.state_dict().empty());
  Tensor x = uniform({200, 100}, 1.0, 2.0).set_requires_grad();
  Tensor y = drop(x);
  const auto xv = x.to_vector<double>(), yv = y.to_vector<double>();
  int64_t zeros = 0;
  for (size_t i = 0; i < xv.size(); ++i) {
    if (yv[i] == 0.0) {
      ++zeros;
    } else {
      EXPECT_NEAR(yv[i], xv[i] / 0.7, 1e-5);
    }
  }
  // 20000 Bernoulli(0.3) draws: standard deviation ~0.0032 of the rate.
  EXPECT_NEAR(static_cast<double>(zeros) / xv.size(), 0.3, 0.02);
  // The gradient is masked and scaled the same way.
  sum(y).backward();
  const auto g = x.grad().to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], yv[i] == 0.0 ? 0.0 : 1.0 / 0.7, 1e-5);
}

TEST(DropoutModule, ManualSeedReproducesTheMask) {
  nn::Dropout drop(0.5);
  Tensor x = ones({64, 32});
  manual_seed(41);
  const auto a = drop(x).to_vector<float>();
  const auto b = drop(x).to_vector<float>();
  manual_seed(41);
  EXPECT_EQ(drop(x).to_vector<float>(), a);
  EXPECT_NE(a, b);  // successive calls draw new masks
}

TEST(DropoutModule, EvalModeAndEdgeProbabilitiesPassThrough) {
  manual_seed(42);
  Tensor x = randn({8, 16});
  nn::Dropout drop(0.9);
  drop.eval();
  EXPECT_EQ(drop(x).to_vector<float>(), x.to_vector<float>());
  nn::Dropout none(0.0);
  EXPECT_EQ(none(x).to_vector<float>(), x.to_vector<float>());
  nn::Dropout all(1.0);
  for (float v : all(x).to_vector<float>()) EXPECT_EQ(v, 0.0f);
  // Inside a Sequential, eval() on the parent reaches the dropout.
  auto seq =
      std::make_shared<nn::Sequential>(std::make_shared<nn::Identity>(), std::make_shared<nn::Dropout>(0.5));
  seq->eval();
  EXPECT_EQ((*seq)(x).to_vector<float>(), x.to_vector<float>());
}

TEST(DropoutModule, Errors) {
  EXPECT_THAT(error_of([] { nn::Dropout(-0.1); }),
              HasSubstr("Dropout: probability must be in [0, 1], got -0.1"));
  EXPECT_THAT(error_of([] { nn::Dropout(1.5); }), HasSubstr("got 1.5"));
  EXPECT_THAT(error_of([] { nn::Dropout(0.5)(Tensor()); }),
              HasSubstr("Dropout(p=0.5): got an undefined input"));
  EXPECT_THAT(error_of([] { nn::Dropout(0.5)(arange(4)); }), HasSubstr("dropout"));  // int64 input
}
