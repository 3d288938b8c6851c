// Learning-rate schedules against PyTorch 1.13 (tests/data/golden/lr_scheduler.json), their
// argument errors, and resuming a schedule from its state dict.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "golden/golden.h"
#include "magmadnn/magmadnn.h"

using namespace magmadnn;
using json = nlohmann::json;
using ::testing::HasSubstr;

namespace {

std::vector<Tensor> one_param_per_group(size_t n) {
  std::vector<Tensor> ps;
  for (size_t i = 0; i < n; ++i) ps.push_back(zeros({1}).set_requires_grad());
  return ps;
}

std::unique_ptr<optim::SGD> make_sgd(const std::vector<Tensor>& ps, const std::vector<double>& lrs) {
  std::vector<optim::ParamGroup> groups;
  for (size_t g = 0; g < lrs.size(); ++g)
    groups.emplace_back(std::vector<Tensor>{ps[g]}, optim::SGDOptions(lrs[g]));
  return std::make_unique<optim::SGD>(groups, optim::SGDOptions(lrs[0]));
}

void expect_lrs(const json& expected, const optim::Optimizer& opt, const std::vector<double>& last_lr,
                const std::string& where) {
  for (size_t g = 0; g < opt.num_groups(); ++g) {
    const double e = expected[g].get<double>();
    EXPECT_NEAR(opt.lr(g), e, 1e-5 * std::abs(e) + 1e-15) << where << " group " << g;
    EXPECT_EQ(last_lr[g], opt.lr(g)) << where;
  }
}

TEST(LRSchedulerGolden, AllSchedulesMatchTorch) {
  const json cases = golden::load("lr_scheduler.json")["cases"];
  ASSERT_EQ(cases.size(), 8u);
  for (const auto& c : cases) {
    const auto lrs = c["initial_lrs"].get<std::vector<double>>();
    auto ps = one_param_per_group(lrs.size());
    auto opt = make_sgd(ps, lrs);
    const std::string type = c["type"];
    const std::string name = c["name"];
    if (type == "ReduceLROnPlateau") {
      optim::ReduceLROnPlateau sched(
          *opt, optim::ReduceLROnPlateauOptions()
                    .mode(c["mode"] == "min" ? optim::PlateauMode::Min : optim::PlateauMode::Max)
                    .factor(c["factor"].get<double>())
                    .patience(c["patience"].get<int64_t>())
                    .threshold(c["threshold"].get<double>())
                    .threshold_mode(c["threshold_mode"] == "rel" ? optim::ThresholdMode::Rel
                                                                 : optim::ThresholdMode::Abs)
                    .cooldown(c["cooldown"].get<int64_t>())
                    .min_lr(c["min_lr"].get<double>()));
      for (size_t e = 0; e < c["lrs"].size(); ++e) {
        sched.step(c["metrics"][e].get<double>());
        expect_lrs(c["lrs"][e], *opt, sched.get_last_lr(), name + " epoch " + std::to_string(e + 1));
      }
      continue;
    }
    std::unique_ptr<optim::LRScheduler> sched;
    if (type == "StepLR")
      sched = std::make_unique<optim::StepLR>(*opt, c["step_size"].get<int64_t>(), c["gamma"].get<double>());
    if (type == "MultiStepLR")
      sched = std::make_unique<optim::MultiStepLR>(*opt, c["milestones"].get<std::vector<int64_t>>(),
                                                   c["gamma"].get<double>());
    if (type == "CosineAnnealingLR")
      sched = std::make_unique<optim::CosineAnnealingLR>(*opt, c["T_max"].get<int64_t>(),
                                                         c["eta_min"].get<double>());
    if (type == "OneCycleLR")
      sched = std::make_unique<optim::OneCycleLR>(*opt, c["max_lr"].get<double>(), c["total_steps"].get<int64_t>(),
                                                  optim::OneCycleOptions()
                                                      .pct_start(c["pct_start"].get<double>())
                                                      .div_factor(c["div_factor"].get<double>())
                                                      .final_div_factor(c["final_div_factor"].get<double>())
                                                      .cosine(c["anneal"] == "cos"));
    ASSERT_TRUE(sched) << type;
    EXPECT_EQ(sched->last_epoch(), 0);
    expect_lrs(c["start_lrs"], *opt, sched->get_last_lr(), name + " after construction");
    for (size_t e = 0; e < c["lrs"].size(); ++e) {
      sched->step();
      EXPECT_EQ(sched->last_epoch(), static_cast<int64_t>(e + 1));
      expect_lrs(c["lrs"][e], *opt, sched->get_last_lr(), name + " epoch " + std::to_string(e + 1));
    }
  }
}

TEST(LRScheduler, StepLRClosedForm) {
  auto ps = one_param_per_group(1);
  optim::SGD opt(ps, optim::SGDOptions(1.0));
  optim::StepLR sched(opt, 4, 0.5);
  for (int e = 1; e <= 20; ++e) {
    sched.step();
    EXPECT_DOUBLE_EQ(opt.lr(), std::pow(0.5, e / 4)) << "epoch " << e;
  }
}

TEST(LRScheduler, ResumeFromStateDictContinuesTheSequence) {
  auto ps = one_param_per_group(1);
  auto opt = make_sgd(ps, {0.1});
  optim::CosineAnnealingLR sched(*opt, 10, 0.001);
  for (int e = 0; e < 4; ++e) sched.step();
  const auto opt_sd = opt->state_dict();
  const auto sched_sd = sched.state_dict();
  std::vector<double> expected;
  for (int e = 0; e < 6; ++e) {
    sched.step();
    expected.push_back(opt->lr());
  }
  auto ps2 = one_param_per_group(1);
  auto opt2 = make_sgd(ps2, {0.5});  // different initial rate: the state dicts must override it
  optim::CosineAnnealingLR sched2(*opt2, 10, 0.001);
  opt2->load_state_dict(opt_sd);
  sched2.load_state_dict(sched_sd);
  EXPECT_EQ(sched2.last_epoch(), 4);
  for (int e = 0; e < 6; ++e) {
    sched2.step();
    EXPECT_NEAR(opt2->lr(), expected[e], 1e-15) << "epoch " << e + 5;
  }
}

TEST(LRScheduler, PlateauResumeFromStateDict) {
  auto ps = one_param_per_group(1);
  auto opt = make_sgd(ps, {1.0});
  const auto options = optim::ReduceLROnPlateauOptions().patience(1).factor(0.5).cooldown(1);
  optim::ReduceLROnPlateau sched(*opt, options);
  sched.step(1.0);
  sched.step(2.0);  // one bad epoch so far
  auto ps2 = one_param_per_group(1);
  auto opt2 = make_sgd(ps2, {1.0});
  optim::ReduceLROnPlateau sched2(*opt2, options);
  sched2.load_state_dict(sched.state_dict());
  EXPECT_EQ(sched2.best(), 1.0);
  EXPECT_EQ(sched2.num_bad_epochs(), 1);
  sched.step(3.0);
  sched2.step(3.0);  // second bad epoch: both reduce now
  EXPECT_EQ(opt->lr(), 0.5);
  EXPECT_EQ(opt2->lr(), 0.5);
}

TEST(LRScheduler, BadArgumentsAndStateDicts) {
  auto ps = one_param_per_group(1);
  auto opt = make_sgd(ps, {0.1});
  try {
    optim::StepLR bad(*opt, 0);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("StepLR: step_size must be positive, got 0"));
  }
  try {
    optim::ReduceLROnPlateau bad(*opt, optim::ReduceLROnPlateauOptions().factor(1.5));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("factor must be in [0, 1), got 1.5"));
  }
  optim::StepLR sched(*opt, 2);
  try {
    sched.load_state_dict({{"base_lr.0", full({2}, 0.1, kFloat64)}, {"bogus", zeros({1})}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("3 problems"));
    EXPECT_THAT(e.what(), HasSubstr("missing key 'last_epoch'"));
    EXPECT_THAT(e.what(), HasSubstr("key 'base_lr.0': expected one element, got shape (2)"));
    EXPECT_THAT(e.what(), HasSubstr("unexpected key 'bogus'"));
  }
  EXPECT_EQ(sched.last_epoch(), 0);
}

}  // namespace

TEST(LRScheduler, OneCycleHoldsTheFinalRateAndRefusesExtraSteps) {
  auto ps = one_param_per_group(1);
  optim::SGD opt(ps, optim::SGDOptions(1.0));
  optim::OneCycleLR sched(opt, 0.5, 4, optim::OneCycleOptions().div_factor(5).final_div_factor(10));
  EXPECT_DOUBLE_EQ(opt.lr(), 0.1);
  for (int i = 0; i < 4; ++i) sched.step();
  EXPECT_DOUBLE_EQ(opt.lr(), 0.01);  // max_lr / (div_factor * final_div_factor), also after the last batch
  try {
    sched.step();
    FAIL() << "a fifth step of a 4-step cycle should throw";
  } catch (const Error& e) {
    EXPECT_THAT(std::string(e.what()), ::testing::HasSubstr("OneCycleLR: stepped 5 times, but total_steps is 4"));
  }
}
