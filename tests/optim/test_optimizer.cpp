// Optimizer behaviour beyond the golden trajectories: argument errors, parameter groups and
// learning rates, skipping parameters without gradients, zero_grad, AdamW's default decay, and
// load_state_dict reporting every problem at once without changing anything.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/error_of.h"
#include "magmadnn/magmadnn.h"

using namespace magmadnn;
using ::testing::HasSubstr;

namespace {

using magmadnn::testing::error_of;

Tensor param(const Shape& s, double v = 1.0) {
  return full(s, v).set_requires_grad();
}

TEST(Optimizer, ConstructionErrors) {
  Tensor w = param({2, 2});
  EXPECT_THAT(error_of([] { optim::SGD(std::vector<Tensor>{}, optim::SGDOptions(0.1)); }),
              HasSubstr("SGD: got an empty parameter list"));
  EXPECT_THAT(error_of([&] {
                optim::SGD({w, w}, optim::SGDOptions(0.1));
              }),
              HasSubstr("SGD: parameter 1 of group 0 appears more than once"));
  EXPECT_THAT(error_of([&] { optim::SGD({w}, optim::SGDOptions(-1)); }),
              HasSubstr("SGD: invalid learning rate -1"));
  EXPECT_THAT(error_of([&] { optim::SGD({w}, optim::SGDOptions(0.1).nesterov(true)); }),
              HasSubstr("Nesterov momentum requires a momentum and zero dampening"));
  EXPECT_THAT(error_of([&] {
                optim::Adam({w}, optim::AdamOptions().betas({0.9, 1.0}));
              }),
              HasSubstr("Adam: invalid beta2 1"));
  EXPECT_THAT(error_of([&] {
                optim::SGD({optim::ParamGroup({w}, optim::AdamOptions(0.1))}, optim::SGDOptions(0.1));
              }),
              HasSubstr("SGD: parameter group 0 has options of another optimizer"));
  Tensor labels = zeros({3}, kInt64);
  EXPECT_THAT(error_of([&] { optim::SGD({labels}, optim::SGDOptions(0.1)); }),
              HasSubstr("must be a floating tensor, got int64"));
  Tensor computed = mul(w, 2.0);
  EXPECT_THAT(error_of([&] { optim::Adam({computed}); }), HasSubstr("is not a leaf tensor"));
}

TEST(Optimizer, DefaultsMatchPyTorch) {
  Tensor w = param({1});
  optim::Adam adam({w});
  EXPECT_EQ(adam.lr(), 1e-3);
  const auto& ao = static_cast<const optim::AdamOptions&>(adam.options());
  EXPECT_EQ(ao.betas(), std::make_pair(0.9, 0.999));
  EXPECT_EQ(ao.eps(), 1e-8);
  EXPECT_EQ(ao.weight_decay(), 0.0);
  optim::AdamW adamw({w});
  EXPECT_EQ(static_cast<const optim::AdamOptions&>(adamw.options()).weight_decay(), 1e-2);
  EXPECT_EQ(adamw.name(), "AdamW");
  optim::AdamW adamw0({w}, optim::AdamOptions().weight_decay(0.0));  // an explicit 0 stays 0
  EXPECT_EQ(static_cast<const optim::AdamOptions&>(adamw0.options()).weight_decay(), 0.0);
  optim::Adagrad adagrad({w});
  EXPECT_EQ(adagrad.lr(), 1e-2);
  EXPECT_EQ(static_cast<const optim::AdagradOptions&>(adagrad.options()).eps(), 1e-10);
  optim::RMSprop rms({w});
  EXPECT_EQ(rms.lr(), 1e-2);
  EXPECT_EQ(static_cast<const optim::RMSpropOptions&>(rms.options()).alpha(), 0.99);
}

TEST(Optimizer, ParamGroupsAndLearningRates) {
  Tensor a = param({2}), b = param({2});
  optim::SGD opt({optim::ParamGroup({a}), optim::ParamGroup({b}, optim::SGDOptions(0.5))},
                 optim::SGDOptions(0.1));
  EXPECT_EQ(opt.num_groups(), 2u);
  EXPECT_EQ(opt.lr(0), 0.1);
  EXPECT_EQ(opt.lr(1), 0.5);
  a.set_grad(ones({2}));
  b.set_grad(ones({2}));
  opt.step();
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{0.9f, 0.9f}));
  EXPECT_EQ(b.to_vector<float>(), (std::vector<float>{0.5f, 0.5f}));
  opt.set_lr(1, 0.25);
  EXPECT_EQ(opt.lr(0), 0.1);
  EXPECT_EQ(opt.lr(1), 0.25);
  opt.set_lr(0.01);
  EXPECT_EQ(opt.lr(0), 0.01);
  EXPECT_EQ(opt.lr(1), 0.01);
  EXPECT_THAT(error_of([&] { opt.lr(2); }), HasSubstr("SGD: parameter group 2 out of range (2 groups)"));
}

TEST(Optimizer, SkipsParametersWithoutGradientAndZeroGradDropsThem) {
  Tensor a = param({3}), b = param({3});
  optim::Adam opt({a, b}, optim::AdamOptions(0.1));
  a.set_grad(ones({3}));
  opt.step();
  EXPECT_EQ(opt.step_count(0, 0), 1);
  EXPECT_EQ(opt.step_count(0, 1), 0);
  EXPECT_EQ(b.to_vector<float>(), (std::vector<float>{1, 1, 1}));
  EXPECT_NEAR(a.to_vector<float>()[0], 0.9f, 1e-6);  // Adam's first step moves by lr
  auto sd = opt.state_dict();
  EXPECT_TRUE(sd.count("state.0.0.exp_avg"));
  EXPECT_FALSE(sd.count("state.0.1.exp_avg"));
  EXPECT_EQ(sd.at("state.0.0.step").dtype(), kFloat64);
  EXPECT_EQ(sd.at("state.0.0.step").item<double>(), 1.0);
  EXPECT_EQ(sd.at("group.0.lr").item<double>(), 0.1);
  opt.zero_grad();
  EXPECT_FALSE(a.grad().defined());
  opt.step();  // nothing has a gradient: nothing moves
  EXPECT_EQ(opt.step_count(0, 0), 1);
}

TEST(Optimizer, StepsThroughAutogradWithoutRecording) {
  Tensor w = param({2, 2}, 0.5);
  optim::SGD opt({w}, optim::SGDOptions(0.1).momentum(0.9));
  Tensor loss = sum(square(w));
  loss.backward();
  opt.step();
  EXPECT_TRUE(w.is_leaf());
  EXPECT_TRUE(w.requires_grad());
  EXPECT_NEAR(w.to_vector<float>()[0], 0.5f - 0.1f * 1.0f, 1e-6);
}

TEST(Optimizer, StateDictIsASnapshot) {
  Tensor w = param({2});
  optim::SGD opt({w}, optim::SGDOptions(0.1).momentum(0.9));
  w.set_grad(ones({2}));
  opt.step();
  auto sd = opt.state_dict();
  opt.step();
  EXPECT_EQ(sd.at("state.0.0.momentum_buffer").to_vector<float>(), (std::vector<float>{1, 1}));
  EXPECT_EQ(sd.at("state.0.0.step").item<double>(), 1.0);
}

TEST(Optimizer, LoadStateDictListsEveryProblemAndChangesNothing) {
  Tensor a = param({2, 3}), b = param({3});
  optim::Adam opt({a, b}, optim::AdamOptions(0.1));
  a.set_grad(ones({2, 3}));
  b.set_grad(ones({3}));
  opt.step();
  auto before = opt.state_dict();

  std::map<std::string, Tensor> bad = before;
  bad.erase("group.0.lr");
  bad["state.0.0.exp_avg"] = zeros({3, 2});
  bad["state.0.5.exp_avg"] = zeros({3});
  bad["state.0.1.momentum_buffer"] = zeros({3});
  bad["state.0.1.step"] = zeros({2}, kFloat64);
  bad["weights"] = zeros({1});
  const std::string msg = error_of([&] { opt.load_state_dict(bad); });
  EXPECT_THAT(msg, HasSubstr("Adam: load_state_dict found 6 problems, nothing was loaded"));
  EXPECT_THAT(msg, HasSubstr("missing key 'group.0.lr'"));
  EXPECT_THAT(msg,
              HasSubstr("shape mismatch for 'state.0.0.exp_avg': expected (2, 3) (parameter), got (3, 2)"));
  EXPECT_THAT(msg, HasSubstr("key 'state.0.5.exp_avg': no parameter 5 in group 0"));
  EXPECT_THAT(
      msg, HasSubstr("unexpected key 'state.0.1.momentum_buffer' (Adam keeps no state 'momentum_buffer')"));
  EXPECT_THAT(msg, HasSubstr("key 'state.0.1.step': expected one element, got shape (2)"));
  EXPECT_THAT(msg, HasSubstr("unexpected key 'weights'"));

  auto after = opt.state_dict();
  ASSERT_EQ(after.size(), before.size());
  for (const auto& [k, t] : before) EXPECT_TRUE(allclose(after.at(k), t)) << k;
}

TEST(Optimizer, BadGradientIsReported) {
  Tensor w = param({2, 2});
  optim::SGD opt({w}, optim::SGDOptions(0.1));
  w.impl().grad = ones({2, 2}, kFloat64).impl_ptr();  // bypasses set_grad's shape check only
  EXPECT_THAT(
      error_of([&] { opt.step(); }),
      HasSubstr(
          "SGD: gradient of parameter 0 of group 0 is (2, 2) float64 on cpu, but the parameter is (2, 2) "
          "float32 on cpu"));
}

}  // namespace
