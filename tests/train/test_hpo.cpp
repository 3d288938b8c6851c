// Hyperparameter search (train/hpo.h): search-space parsing and its errors, the distributions of
// sampled values, and successive halving against a synthetic objective (which trials are promoted,
// with which budgets, how often the objective runs, failed and non-finite trials, the options).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "common/error_of.h"
#include "magmadnn/train/hpo.h"

using namespace magmadnn;
using magmadnn::testing::error_of;
using ::testing::HasSubstr;
namespace hpo = train::hpo;

TEST(Hpo, ParsesEveryKindOfRange) {
  const hpo::SearchSpace s = hpo::SearchSpace::parse("lr=log:1e-4:0.1,momentum=0.8:0.99,width=int:16:128,opt=sgd|adam,fixed=7");
  ASSERT_EQ(s.params.size(), 5u);
  EXPECT_EQ(s.params[0].kind, hpo::Param::Kind::LogUniform);
  EXPECT_DOUBLE_EQ(s.params[0].low, 1e-4);
  EXPECT_DOUBLE_EQ(s.params[0].high, 0.1);
  EXPECT_EQ(s.params[1].kind, hpo::Param::Kind::Uniform);
  EXPECT_EQ(s.params[2].kind, hpo::Param::Kind::Int);
  EXPECT_EQ(s.params[3].kind, hpo::Param::Kind::Choice);
  EXPECT_EQ(s.params[3].choices, (std::vector<std::string>{"sgd", "adam"}));
  EXPECT_EQ(s.params[4].choices, (std::vector<std::string>{"7"}));  // one value: fixed
}

TEST(Hpo, ParseErrorsNameTheText) {
  const std::map<std::string, std::string> cases = {
      {"lr", "'lr': expected name=range"},
      {"=1:2", "'=1:2': expected name=range"},
      {"lr=log:0:1", "'lr=log:0:1': a log range needs 0 < LOW < HIGH"},
      {"lr=log:1:0.5", "a log range needs 0 < LOW < HIGH"},
      {"m=0.9:0.8", "'m=0.9:0.8': a range needs LOW < HIGH"},
      {"w=int:1.5:4", "an int range needs whole numbers LOW <= HIGH"},
      {"m=a:1", "'m=a:1': 'a' is not a number"},
      {"m=1:2:3", "expected log:LOW:HIGH, LOW:HIGH or int:LOW:HIGH"},
      {"o=sgd||adam", "an empty choice"},
      {"o=sgd|sgd", "choice 'sgd' appears twice"},
      {"l r=1:2", "a name has letters, digits, '_' and '-' only"},
      {"lr=1:2,lr=3:4", "'lr' appears twice in the search space"},
  };
  for (const auto& [text, message] : cases)
    EXPECT_THAT(error_of([&] { hpo::SearchSpace::parse(text); }), HasSubstr(message)) << text;
}

TEST(Hpo, SampledValuesFollowTheirRanges) {
  const hpo::SearchSpace s = hpo::SearchSpace::parse("lr=log:1e-4:1e-2,m=0.5:1,w=int:2:5,o=a|b|c");
  std::mt19937_64 rng(3);
  std::vector<double> logs, ms;
  std::map<std::string, int> ws, os;
  for (int i = 0; i < 6000; ++i) {
    const hpo::Config c = s.sample(rng);
    const double lr = std::stod(c.at("lr")), m = std::stod(c.at("m"));
    ASSERT_TRUE(lr >= 1e-4 * (1 - 1e-6) && lr <= 1e-2 * (1 + 1e-6)) << lr;
    ASSERT_TRUE(m >= 0.5 && m <= 1.0) << m;
    logs.push_back(std::log10(lr));
    ms.push_back(m);
    ++ws[c.at("w")];
    ++os[c.at("o")];
  }
  double mean_log = 0, mean_m = 0;
  for (double v : logs) mean_log += v / logs.size();
  for (double v : ms) mean_m += v / ms.size();
  EXPECT_NEAR(mean_log, -3.0, 0.03);  // uniform in the exponent: the middle decade on average
  EXPECT_NEAR(mean_m, 0.75, 0.01);
  EXPECT_EQ(ws.size(), 4u);  // 2, 3, 4 and 5, each about a quarter
  for (const auto& [w, n] : ws) EXPECT_NEAR(n, 1500, 150) << w;
  EXPECT_EQ(os.size(), 3u);
  for (const auto& [o, n] : os) EXPECT_NEAR(n, 2000, 150) << o;
  // The same seed, the same configurations.
  std::mt19937_64 a(9), b(9);
  EXPECT_EQ(s.sample(a), s.sample(b));
}

namespace {
// A synthetic objective: the closer x is to 0.3 the better, and more budget helps a little
// (without changing the order). Records every call.
struct Recorder {
  std::vector<std::tuple<int64_t, int64_t, double>> calls;  // (trial, budget, x)
  double operator()(const hpo::Config& c, int64_t budget, int64_t trial) {
    const double x = std::stod(c.at("x"));
    calls.emplace_back(trial, budget, x);
    return -std::abs(x - 0.3) + 0.001 * std::log(double(budget));
  }
};
}  // namespace

TEST(Hpo, SuccessiveHalvingPromotesTheBestThirdWithTripleBudget) {
  const hpo::SearchSpace s = hpo::SearchSpace::parse("x=0:1");
  Recorder rec;
  hpo::SearchOptions o;
  o.trials = 9, o.eta = 3, o.min_budget = 2, o.seed = 5;
  const std::vector<hpo::Trial> result = hpo::search(s, std::ref(rec), o);
  ASSERT_EQ(result.size(), 9u);
  // 9 runs at budget 2, 3 at 6, 1 at 18.
  std::map<int64_t, int> per_budget;
  for (const auto& [trial, budget, x] : rec.calls) ++per_budget[budget];
  EXPECT_EQ(per_budget, (std::map<int64_t, int>{{2, 9}, {6, 3}, {18, 1}}));
  // The promoted trials were the 3 best of rung 0, and the winner the best of them.
  std::vector<std::pair<double, int64_t>> rung0;
  for (const auto& [trial, budget, x] : rec.calls)
    if (budget == 2) rung0.push_back({std::abs(x - 0.3), trial});
  std::sort(rung0.begin(), rung0.end());
  std::set<int64_t> best3 = {rung0[0].second, rung0[1].second, rung0[2].second}, promoted;
  for (const auto& [trial, budget, x] : rec.calls)
    if (budget == 6) promoted.insert(trial);
  EXPECT_EQ(promoted, best3);
  EXPECT_EQ(result[0].id, rung0[0].second);
  EXPECT_EQ(result[0].rung, 2);
  EXPECT_EQ(result[0].budget, 18);
  EXPECT_EQ(result[1].rung, 1);
  EXPECT_EQ(result[3].rung, 0);
  for (size_t i = 4; i < result.size(); ++i) EXPECT_GE(result[i - 1].score, result[i].score);  // rung 0: by score
  // Reproducible: the same options, the same trials.
  Recorder again;
  const std::vector<hpo::Trial> second = hpo::search(s, std::ref(again), o);
  for (size_t i = 0; i < result.size(); ++i) {
    EXPECT_EQ(second[i].id, result[i].id);
    EXPECT_EQ(second[i].config, result[i].config);
    EXPECT_EQ(second[i].score, result[i].score);
  }
}

TEST(Hpo, PlainRandomSearchAndTheBudgetCap) {
  const hpo::SearchSpace s = hpo::SearchSpace::parse("x=0:1");
  Recorder plain;
  hpo::SearchOptions o;
  o.trials = 5, o.eta = 1, o.min_budget = 4;
  const auto r = hpo::search(s, std::ref(plain), o);
  EXPECT_EQ(plain.calls.size(), 5u);  // every trial once, at the smallest budget
  for (const auto& t : r) EXPECT_EQ(t.budget, 4);
  Recorder capped;
  o.trials = 27, o.eta = 3, o.min_budget = 1, o.max_budget = 3;
  const auto c = hpo::search(s, std::ref(capped), o);
  EXPECT_EQ(capped.calls.size(), 27u + 9u);  // rungs at budgets 1 and 3; 9 would pass the cap
  EXPECT_EQ(c[0].budget, 3);
  EXPECT_EQ(c[0].rung, 1);
}

TEST(Hpo, FailedTrialsDropOutAndComeLast) {
  const hpo::SearchSpace s = hpo::SearchSpace::parse("x=0:1");
  hpo::SearchOptions o;
  o.trials = 9, o.eta = 3;
  std::vector<hpo::Trial> reported;
  o.on_trial = [&](const hpo::Trial& t) { reported.push_back(t); };
  const auto r = hpo::search(
      s,
      [](const hpo::Config& c, int64_t, int64_t) {
        const double x = std::stod(c.at("x"));
        if (x > 0.6) throw Error("diverged: loss is nan");
        if (x < 0.1) return std::nan("");
        return x;
      },
      o);
  int failed = 0;
  for (size_t i = 0; i < r.size(); ++i) {
    const double x = std::stod(r[i].config.at("x"));
    EXPECT_EQ(r[i].failed, x > 0.6 || x < 0.1) << x;
    if (r[i].failed) {
      ++failed;
      EXPECT_EQ(r[i].rung, 0);
      EXPECT_THAT(r[i].error, x > 0.6 ? HasSubstr("diverged: loss is nan") : HasSubstr("the objective is nan"));
    } else {
      EXPECT_EQ(failed, 0) << "a failed trial before a successful one";
    }
  }
  EXPECT_GT(failed, 0);
  EXPECT_GE(reported.size(), 9u);  // every run reported, failed ones too
  EXPECT_TRUE(reported[0].failed == (std::stod(reported[0].config.at("x")) > 0.6 ||
                                     std::stod(reported[0].config.at("x")) < 0.1));
}

TEST(Hpo, OptionErrors) {
  const hpo::SearchSpace s = hpo::SearchSpace::parse("x=0:1");
  const hpo::Objective f = [](const hpo::Config&, int64_t, int64_t) { return 0.0; };
  auto with = [&](auto set) {
    hpo::SearchOptions o;
    set(o);
    return error_of([&] { hpo::search(s, f, o); });
  };
  EXPECT_THAT(with([](hpo::SearchOptions& o) { o.trials = 0; }), HasSubstr("trials must be at least 1, got 0"));
  EXPECT_THAT(with([](hpo::SearchOptions& o) { o.eta = 0; }), HasSubstr("eta must be at least 1, got 0"));
  EXPECT_THAT(with([](hpo::SearchOptions& o) { o.min_budget = 0; }), HasSubstr("smallest budget must be at least 1"));
  EXPECT_THAT(with([](hpo::SearchOptions& o) { o.min_budget = 4, o.max_budget = 2; }),
              HasSubstr("the budget cap 2 is below the smallest budget 4"));
}
