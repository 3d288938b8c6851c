// Gradient clipping against PyTorch 1.13 (tests/golden/gen_clip_grad.py): clip_grad_norm_'s total
// norm and rescaled gradients for norm types 2, 1, 3 and inf, with bounds that clip and that do
// not, in float64 and float32; clip_grad_value_; parameters without gradients; non-finite norms;
// errors by message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "common/error_of.h"
#include "golden/golden.h"
#include "magmadnn/magmadnn.h"

using namespace magmadnn;
using magmadnn::testing::error_of;
using ::testing::HasSubstr;

namespace {

// Leaf parameters (zeros) whose gradients are the case's "grads", in `dtype`.
std::vector<Tensor> params_with_grads(const nlohmann::json& grads, DType dtype) {
  std::vector<Tensor> params;
  for (const auto& g : grads) {
    const Shape shape = golden::shape_of(g.at("shape"));
    Tensor p = zeros(shape, dtype).set_requires_grad();
    // d/dp sum(p * g) = g: the gradient arrives through backward, as in training.
    sum(mul(p, golden::tensor_of(g.at("data"), shape, dtype))).backward();
    params.push_back(p);
  }
  return params;
}

double norm_type_of(const nlohmann::json& c) {
  return c.at("norm_type").is_string() ? std::numeric_limits<double>::infinity() : c.at("norm_type").get<double>();
}

}  // namespace

TEST(ClipGrad, MatchesPyTorch) {
  const nlohmann::json golden_cases = golden::load("clip_grad.json").at("cases");
  ASSERT_EQ(golden_cases.size(), 10u);
  for (DType dtype : {kFloat64, kFloat32}) {
    const double tol = dtype == kFloat64 ? 1e-12 : 2e-6;
    for (const auto& c : golden_cases) {
      const std::vector<Tensor> params = params_with_grads(c.at("grads"), dtype);
      std::string what = c.at("kind").get<std::string>();
      if (c.at("kind") == "norm") {
        what += " norm_type " + c.at("norm_type").dump() + " max_norm " + c.at("max_norm").dump();
        const Tensor total = nn::utils::clip_grad_norm_(params, c.at("max_norm"), norm_type_of(c));
        EXPECT_EQ(total.dtype(), kFloat64);
        EXPECT_NEAR(total.item<double>(), c.at("total").get<double>(), tol * c.at("total").get<double>()) << what;
      } else {
        what += " clip_value " + c.at("clip_value").dump();
        nn::utils::clip_grad_value_(params, c.at("clip_value"));
      }
      for (size_t k = 0; k < params.size(); ++k) {
        EXPECT_EQ(params[k].grad().dtype(), dtype);
        EXPECT_TRUE(golden::close_to(params[k].grad(), c.at("clipped")[k].at("data"), tol, tol)) << what << " grad " << k;
      }
    }
  }
}

TEST(ClipGrad, ClippedNormEqualsTheBoundAndSmallGradientsStayExact) {
  Tensor a = zeros({3}, kFloat64).set_requires_grad(), b = zeros({2}, kFloat64).set_requires_grad();
  Tensor unused = zeros({4}, kFloat64).set_requires_grad();  // no gradient: skipped
  add(sum(mul(a, from_vector<double>({3, 0, 0}, {3}))), sum(mul(b, from_vector<double>({0, 4}, {2})))).backward();
  const Tensor total = nn::utils::clip_grad_norm_({a, b, unused}, 1.0);
  EXPECT_DOUBLE_EQ(total.item<double>(), 5.0);
  EXPECT_NEAR(a.grad().to_vector<double>()[0], 0.6, 1e-6);
  EXPECT_NEAR(b.grad().to_vector<double>()[1], 0.8, 1e-6);
  EXPECT_FALSE(unused.grad().defined());
  // Within the bound the coefficient is exactly 1.
  const std::vector<double> before = a.grad().to_vector<double>();
  nn::utils::clip_grad_norm_({a, b}, 10.0);
  EXPECT_EQ(a.grad().to_vector<double>(), before);
  // Nothing to clip: a zero norm.
  EXPECT_EQ(nn::utils::clip_grad_norm_({unused}, 1.0).item<double>(), 0.0);
  EXPECT_EQ(nn::utils::clip_grad_norm_({}, 1.0).item<double>(), 0.0);
}

TEST(ClipGrad, GradientsThatAreBroadcastViews) {
  // The gradient of sum(p) may be a broadcast view of one value: clipping replaces it.
  Tensor p = zeros({4, 25}, kFloat64).set_requires_grad();
  mul(sum(p), 2.0).backward();  // every element's gradient is 2: norm 2 * sqrt(100) = 20
  const Tensor total = nn::utils::clip_grad_norm_({p}, 5.0);
  EXPECT_DOUBLE_EQ(total.item<double>(), 20.0);
  for (double g : p.grad().contiguous().to_vector<double>()) EXPECT_NEAR(g, 0.5, 1e-6);
  nn::utils::clip_grad_value_({p}, 0.25);
  for (double g : p.grad().contiguous().to_vector<double>()) EXPECT_EQ(g, 0.25);
}

TEST(ClipGrad, ScaleGradInPlaceOrReplacingAView) {
  Tensor a = zeros({3}).set_requires_grad(), b = zeros({2, 2}).set_requires_grad(), none = zeros({1}).set_requires_grad();
  add(sum(mul(a, from_vector<float>({1, -2, 3}, {3}))), sum(b)).backward();
  const float* storage = a.grad().data<float>();
  nn::utils::scale_grad_({a, b, none}, full({}, 2.5, kFloat64));
  EXPECT_EQ(a.grad().to_vector<float>(), (std::vector<float>{2.5f, -5.0f, 7.5f}));
  EXPECT_EQ(a.grad().data<float>(), storage);
  EXPECT_EQ(b.grad().contiguous().to_vector<float>(), std::vector<float>(4, 2.5f));
  EXPECT_FALSE(none.grad().defined());
}

TEST(ClipGrad, CombineAddsOtherProcessesPartialSums) {
  // This process holds a gradient of norm 3; "the others" add 16 to the sum of squares: total 5.
  Tensor a = zeros({1}, kFloat64).set_requires_grad();
  sum(mul(a, from_vector<double>({3}, {1}))).backward();
  int calls = 0;
  auto add16 = [&](Tensor& partial) {
    ++calls;
    partial.copy_(add(partial, 16.0));
  };
  EXPECT_DOUBLE_EQ(nn::utils::clip_grad_norm_({a}, 1.0, 2.0, false, add16).item<double>(), 5.0);
  EXPECT_NEAR(a.grad().to_vector<double>()[0], 0.6, 1e-6);  // scaled by 1 / 5
  // A process without gradients still takes part (the collective must not hang).
  Tensor none = zeros({1}).set_requires_grad();
  EXPECT_DOUBLE_EQ(nn::utils::clip_grad_norm_({none}, 1.0, 2.0, false, add16).item<double>(), 4.0);
  EXPECT_EQ(calls, 2);
  EXPECT_THAT(error_of([&] {
                nn::utils::clip_grad_norm_({a}, 1.0, std::numeric_limits<double>::infinity(), false, add16);
              }),
              HasSubstr("combining partial norms across processes needs a finite norm_type"));
}

TEST(ClipGrad, NonFiniteNorms) {
  auto nan_grad = [] {
    Tensor p = zeros({2}).set_requires_grad();
    sum(mul(p, from_vector<float>({1.0f, std::nanf("")}, {2}))).backward();
    return p;
  };
  Tensor p = nan_grad();
  EXPECT_THAT(error_of([&] { nn::utils::clip_grad_norm_({p}, 1.0, 2.0, /*error_if_nonfinite=*/true); }),
              HasSubstr("clip_grad_norm_: the total norm of order 2 of the gradients of 1 parameters is nan"));
  EXPECT_EQ(p.grad().to_vector<float>()[0], 1.0f);  // unchanged by the refused clip
  // Without the check, as in PyTorch: the NaN spreads to every gradient.
  Tensor q = nan_grad();
  EXPECT_TRUE(std::isnan(nn::utils::clip_grad_norm_({q}, 1.0).item<double>()));
  EXPECT_TRUE(std::isnan(q.grad().to_vector<float>()[0]));
}

TEST(ClipGrad, Errors) {
  Tensor p = zeros({2}).set_requires_grad();
  EXPECT_THAT(error_of([&] { nn::utils::clip_grad_norm_({p}, -1.0); }),
              HasSubstr("clip_grad_norm_: max_norm must be finite and >= 0, got -1"));
  EXPECT_THAT(error_of([&] { nn::utils::clip_grad_norm_({p}, 1.0, 0.0); }),
              HasSubstr("norm_type must be positive or infinity, got 0"));
  EXPECT_THAT(error_of([&] { nn::utils::clip_grad_norm_({p}, 1.0, -std::numeric_limits<double>::infinity()); }),
              HasSubstr("norm_type must be positive or infinity, got -inf"));
  EXPECT_THAT(error_of([&] { nn::utils::clip_grad_value_({p}, std::nan("")); }),
              HasSubstr("clip_grad_value_: clip_value must be finite and >= 0, got nan"));
  EXPECT_THAT(error_of([&] { nn::utils::clip_grad_norm_({Tensor()}, 1.0); }), HasSubstr("undefined parameter"));
}
