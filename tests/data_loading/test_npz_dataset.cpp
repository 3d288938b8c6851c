// NumPy-archive data sets (data/npz_dataset.h): every input layout becomes (N, C, H, W) float32
// with the values in place, integer labels make a classification of max + 1 classes, floating
// targets a regression, per-channel normalisation statistics against hand computation, and each
// error by its message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "common/error_of.h"
#include "data_loading/temp_dir.h"
#include "magmadnn/magmadnn.h"

using namespace magmadnn;
using magmadnn::testing::error_of;
using magmadnn::testing::TempDir;
using ::testing::HasSubstr;

namespace {

using Arrays = std::map<std::string, io::NpyArray>;

std::vector<double> iota_values(int64_t n, double scale = 1.0) {
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = scale * static_cast<double>(i) - 3.0;
  return v;
}

// x_train / x_test of the given per-sample shape (values i * 1 - 3 in C order), labels i % 3.
Arrays classification(std::vector<int64_t> sample, int64_t n_train = 6, int64_t n_test = 3) {
  auto shape = [&](int64_t n) {
    std::vector<int64_t> s{n};
    s.insert(s.end(), sample.begin(), sample.end());
    return s;
  };
  int64_t per = 1;
  for (int64_t d : sample) per *= d;
  auto labels = [](int64_t n) {
    std::vector<int64_t> y(n);
    for (int64_t i = 0; i < n; ++i) y[i] = i % 3;
    return y;
  };
  return {{"x_train", io::NpyArray::from_vector(iota_values(n_train * per), shape(n_train))},
          {"y_train", io::NpyArray::from_vector(labels(n_train), {n_train})},
          {"x_test", io::NpyArray::from_vector(iota_values(n_test * per, 2.0), shape(n_test))},
          {"y_test", io::NpyArray::from_vector(labels(n_test), {n_test})}};
}

std::string write(const TempDir& dir, const Arrays& arrays, const std::string& name = "d.npz") {
  const std::string path = dir.file(name);
  io::save_npz(path, arrays);
  return path;
}

}  // namespace

TEST(UserDataset, InputLayoutsBecomeNCHW) {
  TempDir dir;
  const std::vector<std::pair<std::vector<int64_t>, Shape>> cases = {
      {{}, Shape({1, 1, 1})},            // (N,): one feature
      {{5}, Shape({5, 1, 1})},           // (N, F): tabular
      {{4, 3}, Shape({1, 4, 3})},        // (N, H, W): one-channel images
      {{2, 4, 3}, Shape({2, 4, 3})}};    // (N, C, H, W)
  for (const auto& [sample, chw] : cases) {
    SCOPED_TRACE(chw.str());
    const data::UserDataset d = data::load_npz_dataset(write(dir, classification(sample)));
    EXPECT_EQ(d.sample_shape, chw);
    EXPECT_EQ(d.train->inputs().shape(), Shape({6, chw[0], chw[1], chw[2]}));
    EXPECT_EQ(d.test->inputs().shape(), Shape({3, chw[0], chw[1], chw[2]}));
    EXPECT_EQ(d.train->inputs().dtype(), kFloat32);
    // Values in C order, unchanged (no scaling): train i - 3, test 2i - 3.
    const std::vector<float> x = d.train->inputs().to_vector<float>();
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(x[i], static_cast<float>(i) - 3.0f) << i;
    const std::vector<float> xt = d.test->inputs().to_vector<float>();
    for (size_t i = 0; i < xt.size(); ++i) ASSERT_EQ(xt[i], 2.0f * static_cast<float>(i) - 3.0f) << i;
  }
}

TEST(UserDataset, IntegerLabelsMakeAClassification) {
  TempDir dir;
  Arrays a = classification({2});
  // uint8 labels with a class that only the test split has: 0..4, so 5 classes.
  a["y_train"] = io::NpyArray::from_vector<uint8_t>({0, 1, 2, 0, 1, 2}, {6});
  a["y_test"] = io::NpyArray::from_vector<uint8_t>({4, 0, 1}, {3});
  const data::UserDataset d = data::load_npz_dataset(write(dir, a));
  EXPECT_EQ(d.task, data::Task::Classification);
  EXPECT_EQ(d.num_outputs, 5);
  EXPECT_EQ(d.train->targets().dtype(), kInt64);
  EXPECT_EQ(d.test->targets().to_vector<int64_t>(), (std::vector<int64_t>{4, 0, 1}));
  // (N, 1) labels are taken as (N,); int8 inputs convert too.
  a["y_train"] = io::NpyArray::from_vector<int32_t>({1, 0, 1, 0, 1, 0}, {6, 1});
  a["x_train"] = io::NpyArray::from_vector<int8_t>({-1, 2, -3, 4, -5, 6, -7, 8, -9, 10, -11, 12}, {6, 2});
  const data::UserDataset e = data::load_npz_dataset(write(dir, a));
  EXPECT_EQ(e.train->targets().shape(), Shape({6}));
  EXPECT_EQ(e.train->inputs().to_vector<float>()[2], -3.0f);
}

TEST(UserDataset, FloatingTargetsMakeARegression) {
  TempDir dir;
  Arrays a = classification({3});
  a["y_train"] = io::NpyArray::from_vector(iota_values(6, 0.5), {6});
  a["y_test"] = io::NpyArray::from_vector(iota_values(3, 0.25), {3});
  data::UserDataset d = data::load_npz_dataset(write(dir, a));
  EXPECT_EQ(d.task, data::Task::Regression);
  EXPECT_EQ(d.num_outputs, 1);
  EXPECT_EQ(d.train->targets().shape(), Shape({6, 1}));  // (N,) -> (N, 1), as a model's output
  EXPECT_EQ(d.train->targets().dtype(), kFloat32);
  EXPECT_EQ(d.train->targets().to_vector<float>()[3], -1.5f);
  a["y_train"] = io::NpyArray::from_vector<float>(std::vector<float>(12, 1.5f), {6, 2});
  a["y_test"] = io::NpyArray::from_vector<float>(std::vector<float>(6, 2.5f), {3, 2});
  d = data::load_npz_dataset(write(dir, a));
  EXPECT_EQ(d.num_outputs, 2);
  EXPECT_EQ(d.test->targets().shape(), Shape({3, 2}));
}

TEST(UserDataset, FitNormalizeUsesPerChannelStatistics) {
  // (N=2, C=2, 3): channel 0 holds 1..6 spread over the samples, channel 1 is constant 7.
  const Tensor x = from_vector<float>({1, 2, 3, 7, 7, 7, 4, 5, 6, 7, 7, 7}, {2, 2, 3});
  const data::Normalize n = data::fit_normalize(x);
  ASSERT_EQ(n.mean.size(), 2u);
  EXPECT_DOUBLE_EQ(n.mean[0], 3.5);
  EXPECT_DOUBLE_EQ(n.std[0], std::sqrt(17.5 / 6.0));  // population std of 1..6
  EXPECT_DOUBLE_EQ(n.mean[1], 7.0);
  EXPECT_DOUBLE_EQ(n.std[1], 1.0);  // a constant channel is only shifted
  const Tensor y = n(x);
  const std::vector<float> v = y.to_vector<float>();
  EXPECT_NEAR(v[0], (1 - 3.5) / std::sqrt(17.5 / 6.0), 1e-6);
  EXPECT_EQ(v[3], 0.0f);
  // Large offsets: the two-pass variance keeps the small spread exactly.
  const Tensor big = from_vector<double>({1e8 + 1, 1e8 + 2, 1e8 + 3, 1e8 + 4}, {4, 1});
  EXPECT_NEAR(data::fit_normalize(big).std[0], std::sqrt(1.25), 1e-9);
  EXPECT_THAT(error_of([] { data::fit_normalize(zeros({0, 3})); }), HasSubstr("fit_normalize: expected samples"));
  EXPECT_THAT(error_of([] { data::fit_normalize(zeros({4, 0})); }), HasSubstr("got shape (4, 0)"));
}

TEST(UserDataset, ErrorsNameTheArrayAndTheSample) {
  TempDir dir;
  auto error_for = [&](const Arrays& a) { return error_of([&] { data::load_npz_dataset(write(dir, a, "bad.npz")); }); };
  Arrays a = classification({4});
  a.erase("y_test");
  EXPECT_THAT(error_for(a), HasSubstr("bad.npz: no array 'y_test' (the archive holds: x_test (3, 4), x_train (6, 4), "
                                      "y_train (6,)); expected x_train, y_train, x_test, y_test"));
  a = classification({4});
  std::vector<double> x = iota_values(24);
  x[9] = std::numeric_limits<double>::quiet_NaN();
  a["x_train"] = io::NpyArray::from_vector(x, {6, 4});
  EXPECT_THAT(error_for(a), HasSubstr("bad.npz: x_train[2] has a NaN or infinite value"));
  a = classification({4});
  a["y_test"] = io::NpyArray::from_vector<float>({1.0f, std::numeric_limits<float>::infinity(), 0.0f}, {3});
  a["y_train"] = io::NpyArray::from_vector<float>(std::vector<float>(6, 0.0f), {6});
  EXPECT_THAT(error_for(a), HasSubstr("bad.npz: y_test[1] has a NaN or infinite value"));
  a = classification({4});
  a["y_train"] = io::NpyArray::from_vector<int64_t>({0, 1, -2, 0, 1, 0}, {6});
  EXPECT_THAT(error_for(a), HasSubstr("y_train[2] = -2: class labels must be 0, 1, 2, ..."));
  a["y_train"] = io::NpyArray::from_vector<int64_t>({0, 1, 2, 0, 1, 5000000}, {6});
  EXPECT_THAT(error_for(a), HasSubstr("y_train[5] = 5000000: more than 100000 classes"));
  a["y_train"] = io::NpyArray::from_vector<int64_t>({0, 1, 0}, {3});
  EXPECT_THAT(error_for(a), HasSubstr("y_train has shape (3,) but x_train has 6 samples"));
  a["y_train"] = io::NpyArray::from_vector<int64_t>(std::vector<int64_t>(12, 0), {6, 2});
  EXPECT_THAT(error_for(a), HasSubstr("y_train: class labels of shape (6, 2); expected (N,)"));
  a = classification({4});
  a["y_train"] = io::NpyArray::from_vector<int64_t>(std::vector<int64_t>(6, 0), {6});
  a["y_test"] = io::NpyArray::from_vector<int64_t>(std::vector<int64_t>(3, 0), {3});
  EXPECT_THAT(error_for(a), HasSubstr("every label is 0; a classification needs two classes or more"));
  a = classification({4});
  a["y_test"] = io::NpyArray::from_vector(iota_values(3), {3});
  EXPECT_THAT(error_for(a), HasSubstr("y_train holds integer labels but y_test floating targets"));
  a = classification({4});
  a["x_test"] = io::NpyArray::from_vector(iota_values(15), {3, 5});
  EXPECT_THAT(error_for(a), HasSubstr("x_train has samples of shape (6, 4) but x_test (3, 5)"));
  a = classification({2, 2, 2, 2});
  EXPECT_THAT(error_for(a), HasSubstr("x_train: inputs of shape (6, 2, 2, 2, 2); expected (N,), (N, features)"));
  a = classification({4});
  a["x_train"] = io::NpyArray::from_vector<double>({}, {0, 4});
  a["y_train"] = io::NpyArray::from_vector<int64_t>({}, {0});
  EXPECT_THAT(error_for(a), HasSubstr("x_train holds no samples"));
  a = classification({4});
  a["x_test"] = io::NpyArray::from_vector<double>({1.0}, {});
  EXPECT_THAT(error_for(a), HasSubstr("x_test is a 0-d array"));
  a = classification({4});
  a["y_train"] = io::NpyArray::from_vector(iota_values(18), {6, 3, 1});
  a["y_test"] = io::NpyArray::from_vector(iota_values(9), {3, 3, 1});
  EXPECT_THAT(error_for(a), HasSubstr("y_train: regression targets of shape (6, 3, 1); expected (N,) or (N, K)"));
  EXPECT_THAT(error_of([&] { data::load_npz_dataset(dir.file("absent.npz")); }),
              HasSubstr("load_npz: " + dir.file("absent.npz")));
}

TEST(UserDataset, TrainsThroughADataLoader) {
  // The loaded splits batch like any TensorDataset: a linear model fits y = 2x - 1 exactly.
  TempDir dir;
  std::vector<double> x(64), y(64), xt(8), yt(8);
  for (int i = 0; i < 64; ++i) x[i] = i / 32.0 - 1, y[i] = 2 * x[i] - 1;
  for (int i = 0; i < 8; ++i) xt[i] = i / 8.0, yt[i] = 2 * xt[i] - 1;
  const data::UserDataset d = data::load_npz_dataset(
      write(dir, {{"x_train", io::NpyArray::from_vector(x, {64})}, {"y_train", io::NpyArray::from_vector(y, {64})},
                  {"x_test", io::NpyArray::from_vector(xt, {8})}, {"y_test", io::NpyArray::from_vector(yt, {8})}}));
  manual_seed(3);
  auto model = models::make_model("mlp:", models::ModelConfig{1, 1, 1, d.num_outputs});
  optim::SGD opt(model->parameters(), optim::SGDOptions(0.1).momentum(0.9));
  data::DataLoader loader(d.train, data::DataLoaderOptions(16).shuffle(true).seed(1));
  for (int epoch = 0; epoch < 60; ++epoch)
    for (const data::Example& b : loader) {
      opt.zero_grad();
      Tensor loss = mse_loss((*model)(b.input), b.target);
      loss.backward();
      opt.step();
    }
  NoGradGuard g;
  EXPECT_LT(mse_loss((*model)(d.test->inputs()), d.test->targets()).item<double>(), 1e-6);
}
