// CIFAR-10 binary reading on generated batch files: the (channel, row, col) placement of every
// pixel, labels, scaling, the five training batches concatenated in order, the
// cifar-10-batches-bin subfolder, gzipped files, class names, each error message, and a
// DataLoader over the result.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>

#include "common/error_of.h"
#include "data_loading/temp_dir.h"
#include "magmadnn/magmadnn.h"

using namespace magmadnn;
using magmadnn::testing::gzip;
using magmadnn::testing::TempDir;
using magmadnn::testing::write_bytes;
using ::testing::HasSubstr;

namespace {

const std::string kHint =
    "expected data_batch_1.bin ... data_batch_5.bin (training) and test_batch.bin (test) of the "
    "CIFAR-10 binary version, in the folder itself or in its cifar-10-batches-bin subfolder";

// The pixel byte of image `id` at (c, h, w): differs between neighbouring channels, rows and
// columns, so a swapped or transposed axis changes the values read.
uint8_t pixel(int64_t id, int64_t c, int64_t h, int64_t w) {
  return static_cast<uint8_t>((id * 53 + c * 101 + h * 7 + w * 3 + (h * w) % 5) % 256);
}

// Records for images first_id, first_id + 1, ...; image id has label labels[id - first_id].
std::vector<uint8_t> records(int64_t first_id, const std::vector<int>& labels) {
  std::vector<uint8_t> b;
  for (size_t k = 0; k < labels.size(); ++k) {
    b.push_back(static_cast<uint8_t>(labels[k]));
    const int64_t id = first_id + static_cast<int64_t>(k);
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t h = 0; h < 32; ++h)
        for (int64_t w = 0; w < 32; ++w) b.push_back(pixel(id, c, h, w));
  }
  return b;
}

// Five training batches of 2, 3, 1, 2 and 4 images (ids 0..11, label id % 10) and a test batch
// of 3 images (ids 100..102, labels 9, 0, 5).
const std::vector<int64_t> kBatchSizes = {2, 3, 1, 2, 4};
void write_dataset(const std::string& dir, bool gz_test = false) {
  int64_t id = 0;
  for (size_t b = 0; b < kBatchSizes.size(); ++b) {
    std::vector<int> labels;
    for (int64_t k = 0; k < kBatchSizes[b]; ++k) labels.push_back(static_cast<int>((id + k) % 10));
    write_bytes(dir + "/data_batch_" + std::to_string(b + 1) + ".bin", records(id, labels));
    id += kBatchSizes[b];
  }
  const auto test = records(100, {9, 0, 5});
  if (gz_test)
    write_bytes(dir + "/test_batch.bin.gz", gzip(test));
  else
    write_bytes(dir + "/test_batch.bin", test);
}

using magmadnn::testing::error_of;

// Every pixel of inputs (N, 3, 32, 32) float32 against pixel(ids[n], ...) / 255.
void expect_images(const Tensor& inputs, const std::vector<int64_t>& ids) {
  ASSERT_EQ(inputs.dtype(), kFloat32);
  ASSERT_EQ(inputs.shape(), Shape({static_cast<int64_t>(ids.size()), 3, 32, 32}));
  const auto x = inputs.to_vector<float>();
  int64_t bad = 0;
  for (size_t n = 0; n < ids.size(); ++n)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t h = 0; h < 32; ++h)
        for (int64_t w = 0; w < 32; ++w)
          bad += x[((n * 3 + c) * 32 + h) * 32 + w] != static_cast<float>(pixel(ids[n], c, h, w)) / 255.0f;
  EXPECT_EQ(bad, 0);
}

}  // namespace

TEST(Cifar10, ReadBatchPlacesEveryPixel) {
  TempDir dir;
  write_bytes(dir.file("b.bin"), records(7, {3, 0, 9}));
  const data::Cifar10Batch batch = data::read_cifar10_batch(dir.file("b.bin"));
  ASSERT_EQ(batch.images.dtype(), kUInt8);
  ASSERT_EQ(batch.images.shape(), Shape({3, 3, 32, 32}));
  ASSERT_EQ(batch.labels.dtype(), kInt64);
  EXPECT_EQ(batch.labels.to_vector<int64_t>(), (std::vector<int64_t>{3, 0, 9}));
  const uint8_t* px = batch.images.data<uint8_t>();
  int64_t bad = 0;
  for (int64_t n = 0; n < 3; ++n)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t h = 0; h < 32; ++h)
        for (int64_t w = 0; w < 32; ++w) bad += px[((n * 3 + c) * 32 + h) * 32 + w] != pixel(7 + n, c, h, w);
  EXPECT_EQ(bad, 0);
  // Spot checks written out, independent of the loop above: record 1 (image 8), green
  // channel, row 2, column 5 is file byte 3073 + 1 + 1024 + 2 * 32 + 5.
  const auto file = magmadnn::testing::read_bytes(dir.file("b.bin"));
  EXPECT_EQ(px[1 * 3072 + 1024 + 2 * 32 + 5], file[3073 + 1 + 1024 + 2 * 32 + 5]);
  EXPECT_EQ(px[2 * 3072 + 2048 + 31 * 32 + 31], file[3 * 3073 - 1]);
  // Gzipped content under any name reads the same.
  write_bytes(dir.file("b-gz.bin"), gzip(records(7, {3, 0, 9})));
  const data::Cifar10Batch gz = data::read_cifar10_batch(dir.file("b-gz.bin"));
  EXPECT_EQ(gz.labels.to_vector<int64_t>(), batch.labels.to_vector<int64_t>());
  EXPECT_EQ(gz.images.to_vector<uint8_t>(), batch.images.to_vector<uint8_t>());
}

TEST(Cifar10, TrainIsTheFiveBatchesInOrder) {
  TempDir dir;
  write_dataset(dir.path());
  auto train = data::load_cifar10(dir.path(), true);
  ASSERT_EQ(train->size(), 12);
  ASSERT_EQ(train->targets().dtype(), kInt64);
  EXPECT_EQ(train->targets().to_vector<int64_t>(),
            (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1}));
  expect_images(train->inputs(), {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  // Scaling: byte 0 -> 0, byte 255 -> 1, and everything in [0, 1].
  const auto x = train->inputs().to_vector<float>();
  EXPECT_EQ(*std::min_element(x.begin(), x.end()), 0.0f);
  EXPECT_EQ(*std::max_element(x.begin(), x.end()), 1.0f);

  auto test = data::load_cifar10(dir.path() + "/", false);
  EXPECT_EQ(test->targets().to_vector<int64_t>(), (std::vector<int64_t>{9, 0, 5}));
  expect_images(test->inputs(), {100, 101, 102});
}

TEST(Cifar10, SubfolderAndGzippedFiles) {
  TempDir dir;
  const std::string sub = dir.file("cifar-10-batches-bin");
  std::filesystem::create_directory(sub);
  write_dataset(sub, /*gz_test=*/true);
  auto train = data::load_cifar10(dir.path(), true);
  EXPECT_EQ(train->size(), 12);
  auto test = data::load_cifar10(dir.path(), false);  // finds test_batch.bin.gz
  EXPECT_EQ(test->targets().to_vector<int64_t>(), (std::vector<int64_t>{9, 0, 5}));
  expect_images(test->inputs(), {100, 101, 102});
  // Naming the subfolder itself works too.
  EXPECT_EQ(data::load_cifar10(sub, false)->size(), 3);
}

TEST(Cifar10, NormalizeWithTheChannelStatistics) {
  TempDir dir;
  write_dataset(dir.path());
  auto test = data::load_cifar10(dir.path(), false);
  const Tensor before = test->inputs();
  data::normalize_inplace(*test, data::Normalize(data::kCifar10Mean, data::kCifar10Std));
  const auto x = before.to_vector<float>(), y = test->inputs().to_vector<float>();
  for (int64_t n = 0; n < 3; ++n)
    for (int64_t c = 0; c < 3; ++c) {
      const int64_t i = (n * 3 + c) * 1024 + 17 * 32 + 4;
      EXPECT_NEAR(y[i], (x[i] - data::kCifar10Mean[c]) / data::kCifar10Std[c], 1e-5);
    }
}

TEST(Cifar10, DataLoaderYieldsImageBatches) {
  TempDir dir;
  write_dataset(dir.path());
  auto train = data::load_cifar10(dir.path(), true);
  data::DataLoader loader(train, data::DataLoaderOptions(5).shuffle(false));
  std::vector<Shape> shapes;
  std::vector<int64_t> labels;
  for (const data::Example& b : loader) {
    shapes.push_back(b.input.shape());
    const auto t = b.target.to_vector<int64_t>();
    labels.insert(labels.end(), t.begin(), t.end());
    if (shapes.size() == 2) expect_images(b.input, {5, 6, 7, 8, 9});
  }
  EXPECT_EQ(shapes,
            (std::vector<Shape>{Shape({5, 3, 32, 32}), Shape({5, 3, 32, 32}), Shape({2, 3, 32, 32})}));
  EXPECT_EQ(labels, train->targets().to_vector<int64_t>());
}

TEST(Cifar10, ClassNames) {
  const auto names = data::cifar10_class_names();
  ASSERT_EQ(names.size(), 10u);
  EXPECT_EQ(names[0], "airplane");
  EXPECT_EQ(names[3], "cat");
  EXPECT_EQ(names[9], "truck");
  TempDir dir;
  EXPECT_EQ(data::cifar10_class_names(dir.path()), names);  // no batches.meta.txt: built-in
  const std::string sub = dir.file("cifar-10-batches-bin");
  std::filesystem::create_directory(sub);
  const std::string text = "a0\nb1\r\nc2\nd3\ne4\nf5\ng6\nh7\ni8\nj9\n\n";
  write_bytes(sub + "/batches.meta.txt", std::vector<uint8_t>(text.begin(), text.end()));
  EXPECT_EQ(data::cifar10_class_names(dir.path()),
            (std::vector<std::string>{"a0", "b1", "c2", "d3", "e4", "f5", "g6", "h7", "i8", "j9"}));
  const std::string short_text = "a\nb\n";
  write_bytes(sub + "/batches.meta.txt", std::vector<uint8_t>(short_text.begin(), short_text.end()));
  EXPECT_EQ(
      error_of([&] { data::cifar10_class_names(sub); }),
      "cifar10_class_names: " + sub + "/batches.meta.txt: expected 10 class names, one per line, got 2");
}

TEST(Cifar10, MissingFolderOrFile) {
  TempDir dir;
  const std::string missing = dir.file("nope");
  EXPECT_EQ(error_of([&] { data::load_cifar10(missing, true); }),
            "load_cifar10: data directory " + missing + " does not exist; " + kHint);
  write_bytes(dir.file("plain"), {1, 2, 3});
  EXPECT_EQ(error_of([&] { data::load_cifar10(dir.file("plain"), false); }),
            "load_cifar10: " + dir.file("plain") + " is not a directory; " + kHint);
  EXPECT_EQ(error_of([&] { data::load_cifar10(dir.path(), false); }),
            "load_cifar10: " + dir.path() + ": no test_batch.bin (or test_batch.bin.gz) in this directory; " +
                kHint);
  write_dataset(dir.path());
  std::filesystem::remove(dir.file("data_batch_3.bin"));
  EXPECT_EQ(error_of([&] { data::load_cifar10(dir.path(), true); }),
            "load_cifar10: " + dir.path() +
                ": no data_batch_3.bin (or data_batch_3.bin.gz) in this directory; " + kHint);
  EXPECT_EQ(
      error_of([&] { data::read_cifar10_batch(dir.file("data_batch_3.bin")); }),
      "read_cifar10_batch: " + dir.file("data_batch_3.bin") + ": cannot open: No such file or directory");
}

TEST(Cifar10, BadFileContents) {
  TempDir dir;
  write_dataset(dir.path());
  // Ten records less one byte.
  auto ten = records(0, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  ten.pop_back();
  write_bytes(dir.file("test_batch.bin"), ten);
  EXPECT_EQ(error_of([&] { data::load_cifar10(dir.path(), false); }),
            "load_cifar10: " + dir.file("test_batch.bin") +
                ": truncated: 30729 bytes is not a whole number of 3073-byte records");
  EXPECT_EQ(error_of([&] { data::read_cifar10_batch(dir.file("test_batch.bin")); }),
            "read_cifar10_batch: " + dir.file("test_batch.bin") +
                ": truncated: 30729 bytes is not a whole number of 3073-byte records");

  write_bytes(dir.file("data_batch_4.bin"), {});
  EXPECT_EQ(error_of([&] { data::load_cifar10(dir.path(), true); }),
            "load_cifar10: " + dir.file("data_batch_4.bin") + ": empty file (expected 3073-byte records)");

  std::vector<int> labels(20, 1);
  labels[17] = 12;
  write_bytes(dir.file("data_batch_4.bin"), records(0, labels));
  EXPECT_EQ(error_of([&] { data::load_cifar10(dir.path(), true); }),
            "load_cifar10: " + dir.file("data_batch_4.bin") + ": record 17 has label 12, expected 0..9");

  auto gz = gzip(records(0, {1, 2, 3}));
  gz.resize(gz.size() / 2);
  write_bytes(dir.file("test_batch.bin"), gz);
  EXPECT_EQ(error_of([&] { data::load_cifar10(dir.path(), false); }),
            "load_cifar10: " + dir.file("test_batch.bin") +
                ": corrupt gzip data: the compressed stream is truncated");
  gz = gzip(records(0, {1, 2, 3}));
  for (size_t i = 20; i < 40; ++i) gz[i] ^= 0x5a;
  write_bytes(dir.file("test_batch.bin"), gz);
  EXPECT_THAT(error_of([&] { data::read_cifar10_batch(dir.file("test_batch.bin")); }),
              HasSubstr("read_cifar10_batch: " + dir.file("test_batch.bin") + ": corrupt gzip data: "));
}
