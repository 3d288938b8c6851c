// ConfusionMatrix: counts, per-class precision / recall / F1 and macro averages against values
// worked out by hand (classes never predicted, classes without samples), the report's layout,
// confusion_matrix over a loader agreeing with evaluate(), and errors by message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "common/error_of.h"
#include "magmadnn/magmadnn.h"

using namespace magmadnn;
using magmadnn::testing::error_of;
using ::testing::HasSubstr;

namespace {
// Logits whose argmax is `pred` (C classes).
Tensor logits_for(const std::vector<int64_t>& pred, int64_t classes) {
  std::vector<float> v(pred.size() * classes, 0.0f);
  for (size_t i = 0; i < pred.size(); ++i) v[i * classes + pred[i]] = 1.0f;
  return from_vector<float>(v, {static_cast<int64_t>(pred.size()), classes});
}
}  // namespace

TEST(ConfusionMatrix, PerClassMetricsMatchHandCounts) {
  train::ConfusionMatrix m(4);  // class 3 has no samples and is never predicted
  // Split over two batches: truth 0 0 1 1 | 2 2 2, predicted 0 1 1 1 | 2 0 2.
  m.add(logits_for({0, 1, 1, 1}, 4), from_vector<int64_t>({0, 0, 1, 1}, {4}));
  m.add(logits_for({2, 0, 2}, 4), from_vector<int64_t>({2, 2, 2}, {3}));
  EXPECT_EQ(m.total(), 7);
  EXPECT_EQ(m.count(0, 0), 1);
  EXPECT_EQ(m.count(0, 1), 1);
  EXPECT_EQ(m.count(1, 1), 2);
  EXPECT_EQ(m.count(2, 2), 2);
  EXPECT_EQ(m.count(2, 0), 1);
  EXPECT_DOUBLE_EQ(m.accuracy(), 5.0 / 7.0);
  // precision: c0 1 of 2 predicted, c1 2 of 3, c2 2 of 2; recall: c0 1 of 2, c1 2 of 2, c2 2 of 3.
  EXPECT_DOUBLE_EQ(m.precision(0), 0.5);
  EXPECT_DOUBLE_EQ(m.precision(1), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.precision(2), 1.0);
  EXPECT_DOUBLE_EQ(m.recall(0), 0.5);
  EXPECT_DOUBLE_EQ(m.recall(1), 1.0);
  EXPECT_DOUBLE_EQ(m.recall(2), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.f1(0), 0.5);
  EXPECT_NEAR(m.f1(1), 0.8, 1e-15);
  EXPECT_NEAR(m.f1(2), 0.8, 1e-15);
  EXPECT_TRUE(std::isnan(m.precision(3)));
  EXPECT_TRUE(std::isnan(m.recall(3)));
  // Macro averages over the three classes with samples.
  EXPECT_NEAR(m.macro_precision(), (0.5 + 2.0 / 3.0 + 1.0) / 3, 1e-15);
  EXPECT_NEAR(m.macro_recall(), (0.5 + 1.0 + 2.0 / 3.0) / 3, 1e-15);
  EXPECT_NEAR(m.macro_f1(), 0.7, 1e-15);
  const std::string r = m.report({"a", "b", "c", "d"});
  EXPECT_THAT(r, HasSubstr("a              0.5000    0.5000    0.5000         2"));
  EXPECT_THAT(r, HasSubstr("d                 n/a       n/a       n/a         0"));
  EXPECT_THAT(r, HasSubstr("macro avg      0.7222    0.7222    0.7000         7"));
  EXPECT_THAT(r, HasSubstr("c               1     0     2     0"));
  // A class predicted but never right: precision 0, F1 0.
  train::ConfusionMatrix z(2);
  z.add(logits_for({1, 1}, 2), from_vector<int64_t>({0, 1}, {2}));
  EXPECT_TRUE(std::isnan(z.precision(0)));  // class 0 never predicted
  EXPECT_DOUBLE_EQ(z.recall(0), 0.0);
  EXPECT_DOUBLE_EQ(z.precision(1), 0.5);
}

TEST(ConfusionMatrix, OverALoaderAgreesWithEvaluate) {
  manual_seed(4);
  auto ds = std::make_shared<data::TensorDataset>(randn({57, 5}), randint(0, 3, {57}));
  nn::Linear model(5, 3);
  data::DataLoader loader(ds, data::DataLoaderOptions(10).shuffle(false));
  model.train();
  const train::ConfusionMatrix m = train::confusion_matrix(model, loader, 3);
  EXPECT_TRUE(model.is_training());
  EXPECT_EQ(m.total(), 57);
  EXPECT_DOUBLE_EQ(m.accuracy(), train::evaluate(model, loader).accuracy);
  int64_t sum = 0;
  for (int64_t c = 0; c < 3; ++c) sum += m.support(c);
  EXPECT_EQ(sum, 57);
}

TEST(ConfusionMatrix, Errors) {
  EXPECT_THAT(error_of([] { train::ConfusionMatrix(0); }), HasSubstr("num_classes must be at least 1, got 0"));
  train::ConfusionMatrix m(3);
  EXPECT_THAT(error_of([&] { m.add(zeros({2, 4}), zeros({2}, kInt64)); }),
              HasSubstr("ConfusionMatrix(3 classes): expected logits (N, 3), got (2, 4)"));
  EXPECT_THAT(error_of([&] { m.add(zeros({2, 3}), zeros({2})); }), HasSubstr("expected int64 targets (2)"));
  EXPECT_THAT(error_of([&] { m.add(zeros({2, 3}), from_vector<int64_t>({1, 3}, {2})); }),
              HasSubstr("target 3 of sample 1 is out of range for 3 classes"));
  EXPECT_EQ(m.total(), 0);  // nothing counted from a refused batch
  EXPECT_THAT(error_of([&] { m.report({"x"}); }), HasSubstr("1 names for 3 classes"));
}

TEST(RegressionMetrics, EqualHandComputedMaeRmseAndR2) {
  // Two targets over two batches; the figures by hand (sklearn's definitions).
  train::RegressionMetrics m(2);
  m.add(from_vector<float>({1, 10, 2, 20}, {2, 2}), from_vector<float>({1.5, 12, 2, 18}, {2, 2}));
  m.add(from_vector<double>({4, 30}, {1, 2}), from_vector<double>({3, 31}, {1, 2}));
  EXPECT_EQ(m.samples(), 3);
  // target 0: errors -0.5, 0, 1; values 1.5, 2, 3 (mean 13/6)
  EXPECT_DOUBLE_EQ(m.mae(0), 1.5 / 3);
  EXPECT_DOUBLE_EQ(m.rmse(0), std::sqrt(1.25 / 3));
  const double sst0 = std::pow(1.5 - 13.0 / 6, 2) + std::pow(2 - 13.0 / 6, 2) + std::pow(3 - 13.0 / 6, 2);
  EXPECT_NEAR(m.r2(0), 1 - 1.25 / sst0, 1e-12);
  // target 1: errors -2, 2, -1; values 12, 18, 31 (mean 61/3)
  EXPECT_DOUBLE_EQ(m.mae(1), 5.0 / 3);
  const double sst1 = std::pow(12 - 61.0 / 3, 2) + std::pow(18 - 61.0 / 3, 2) + std::pow(31 - 61.0 / 3, 2);
  EXPECT_NEAR(m.r2(1), 1 - 9.0 / sst1, 1e-12);
  EXPECT_DOUBLE_EQ(m.mae(), 6.5 / 6);
  EXPECT_DOUBLE_EQ(m.rmse(), std::sqrt(10.25 / 6));
  EXPECT_NEAR(m.r2(), (m.r2(0) + m.r2(1)) / 2, 1e-15);
  const std::string r = m.report({"a", "b"});
  EXPECT_THAT(r, HasSubstr("target             MAE        RMSE         R^2"));
  EXPECT_THAT(r, HasSubstr("(3 samples)"));
  EXPECT_THAT(r, HasSubstr("\nall "));
  // A constant target has no R^2; no samples, no figures.
  train::RegressionMetrics c(1);
  c.add(from_vector<float>({1, 2}, {2, 1}), from_vector<float>({5, 5}, {2, 1}));
  EXPECT_TRUE(std::isnan(c.r2(0)));
  EXPECT_DOUBLE_EQ(c.mae(), 3.5);
  EXPECT_TRUE(std::isnan(train::RegressionMetrics(2).rmse()));
  EXPECT_THAT(error_of([&] { m.add(zeros({2, 3}), zeros({2, 3})); }),
              HasSubstr("RegressionMetrics(2 targets): expected predictions and targets (N, 2), got (2, 3) and (2, 3)"));
  EXPECT_THAT(error_of([] { train::RegressionMetrics(0); }), HasSubstr("num_targets must be positive"));
}

TEST(RegressionMetrics, CountedInEvaluatesPass) {
  manual_seed(3);
  auto set = std::make_shared<data::TensorDataset>(randn({10, 3}), randn({10, 2}));
  nn::Linear model(3, 2);
  data::DataLoader loader(set, data::DataLoaderOptions(4).shuffle(false));
  train::RegressionMetrics m(2);
  const train::EvalMetrics e =
      train::evaluate(model, loader, [](const Tensor& y, const Tensor& t) { return mse_loss(y, t); }, &m);
  EXPECT_EQ(m.samples(), 10);
  EXPECT_NEAR(m.rmse(), std::sqrt(e.loss), 1e-6);  // the mean loss is the MSE over all values
}
