// load_mnist on generated IDX directories (gzipped and raw names, scaling, error messages) and,
// when the Debian package is installed, on the real Fashion-MNIST files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "common/error_of.h"
#include "data_loading/temp_dir.h"
#include "magmadnn/magmadnn.h"

using namespace magmadnn;
using magmadnn::testing::TempDir;
using ::testing::HasSubstr;

namespace {
using magmadnn::testing::error_of;

// n images of 28x28 whose pixel p of image i is (i * 7 + p) % 256, labels i % 10.
void write_split(const std::string& dir, const std::string& prefix, int64_t n, bool gz,
                 int64_t nlabels = -1) {
  std::vector<int64_t> px(n * 28 * 28), lb(nlabels < 0 ? n : nlabels);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t p = 0; p < 28 * 28; ++p) px[i * 784 + p] = (i * 7 + p) % 256;
  for (size_t i = 0; i < lb.size(); ++i) lb[i] = static_cast<int64_t>(i % 10);
  const std::string ext = gz ? ".gz" : "";
  data::write_idx(dir + "/" + prefix + "-images-idx3-ubyte" + ext,
                  from_vector<int64_t>(px, {n, 28, 28}).to(kUInt8), gz);
  data::write_idx(dir + "/" + prefix + "-labels-idx1-ubyte" + ext,
                  from_vector<int64_t>(lb, {static_cast<int64_t>(lb.size())}).to(kUInt8), gz);
}
}  // namespace

TEST(Mnist, LoadsGzippedAndRawSplits) {
  TempDir dir;
  write_split(dir.path(), "train", 12, /*gz=*/true);
  write_split(dir.path(), "t10k", 5, /*gz=*/false);
  auto train = data::load_mnist(dir.path(), true);
  auto test = data::load_mnist(dir.path() + "/", false);
  EXPECT_EQ(train->size(), 12);
  EXPECT_EQ(test->size(), 5);
  EXPECT_EQ(train->inputs().shape(), Shape({12, 1, 28, 28}));
  EXPECT_EQ(train->inputs().dtype(), kFloat32);
  EXPECT_EQ(train->targets().dtype(), kInt64);
  EXPECT_EQ(test->targets().to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  auto px = train->inputs().to_vector<float>();
  for (int64_t i : {0, 5, 11})
    for (int64_t p : {0, 100, 783})
      EXPECT_EQ(px[i * 784 + p], static_cast<float>((i * 7 + p) % 256) / 255.0f);
}

TEST(Mnist, Errors) {
  TempDir dir;
  const std::string missing = dir.file("no-such-dir");
  EXPECT_EQ(error_of([&] { data::load_mnist(missing, true); }),
            "load_mnist: data directory " + missing +
                " does not exist; install it with `apt-get install dataset-fashion-mnist` (files in "
                "/usr/share/datasets/fashion-mnist) or pass --data-dir");
  EXPECT_EQ(
      error_of([&] { data::load_mnist(dir.path(), true); }),
      "load_mnist: " + dir.path() +
          ": no train-images-idx3-ubyte or train-images-idx3-ubyte.gz in this directory; install it with "
          "`apt-get install dataset-fashion-mnist` (files in /usr/share/datasets/fashion-mnist) or pass "
          "--data-dir");
  write_split(dir.path(), "train", 6, false, /*nlabels=*/5);
  EXPECT_EQ(error_of([&] { data::load_mnist(dir.path(), true); }),
            "load_mnist: " + dir.file("train-images-idx3-ubyte") + " holds 6 images but " +
                dir.file("train-labels-idx1-ubyte") + " holds 5 labels");
  data::write_idx(dir.file("train-labels-idx1-ubyte"), from_vector<int64_t>({0, 1, 2, 10, 4, 5}).to(kUInt8));
  EXPECT_EQ(error_of([&] { data::load_mnist(dir.path(), true); }),
            "load_mnist: " + dir.file("train-labels-idx1-ubyte") +
                ": label 10 at index 3 is not a class in [0, 10)");
  data::write_idx(dir.file("train-labels-idx1-ubyte"), zeros({6, 2}).to(kUInt8));
  EXPECT_THAT(error_of([&] { data::load_mnist(dir.path(), true); }),
              HasSubstr("expected uint8 labels of shape (N), got uint8 of shape (6, 2)"));
}

TEST(Mnist, RealFashionMnistTestSplit) {
  const std::string dir = data::kFashionMnistDir;
  if (!std::filesystem::exists(dir + "/t10k-images-idx3-ubyte.gz"))
    GTEST_SKIP() << dir << " not installed (apt-get install dataset-fashion-mnist)";
  auto test = data::load_mnist(dir, false);
  ASSERT_EQ(test->inputs().shape(), Shape({10000, 1, 28, 28}));
  ASSERT_EQ(test->targets().shape(), Shape({10000}));
  auto x = test->inputs().to_vector<float>();
  double sum = 0, sq = 0;
  float lo = 1, hi = 0;
  for (float v : x) {
    sum += v;
    sq += double(v) * v;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  EXPECT_EQ(lo, 0.0f);
  EXPECT_EQ(hi, 1.0f);
  // The test split's statistics sit close to the training-set constants used for Normalize.
  const double mean = sum / x.size(), stdev = std::sqrt(sq / x.size() - mean * mean);
  EXPECT_NEAR(mean, data::kFashionMnistMean, 0.005);
  EXPECT_NEAR(stdev, data::kFashionMnistStd, 0.005);
  std::vector<int64_t> counts(10, 0);
  for (int64_t y : test->targets().to_vector<int64_t>()) counts.at(y)++;
  for (int c = 0; c < 10; ++c) EXPECT_EQ(counts[c], 1000);
}
