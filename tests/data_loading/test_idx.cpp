// IDX reading: hand-built raw and gzipped files of every supported type, write_idx round trips,
// each malformed-file error by its message, and the real Fashion-MNIST labels when installed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>

#include "common/error_of.h"
#include "data_loading/temp_dir.h"
#include "magmadnn/magmadnn.h"

using namespace magmadnn;
using magmadnn::testing::read_bytes;
using magmadnn::testing::gzip;
using magmadnn::testing::TempDir;
using magmadnn::testing::write_bytes;
using ::testing::HasSubstr;

namespace {

std::vector<uint8_t> idx_header(uint8_t type, std::vector<uint32_t> dims) {
  std::vector<uint8_t> b{0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(d >> s));
  return b;
}

template <typename T>
void append_big_endian(std::vector<uint8_t>& b, T value) {
  uint8_t raw[sizeof(T)];
  std::memcpy(raw, &value, sizeof(T));
  for (size_t i = 0; i < sizeof(T); ++i) b.push_back(raw[sizeof(T) - 1 - i]);
}

using magmadnn::testing::error_of;

}  // namespace

TEST(Idx, ReadsRawUInt8) {
  TempDir dir;
  auto b = idx_header(0x08, {2, 3});
  for (uint8_t v : {0, 1, 2, 127, 128, 255}) b.push_back(v);
  write_bytes(dir.file("u8.idx"), b);
  Tensor t = data::read_idx(dir.file("u8.idx"));
  EXPECT_EQ(t.dtype(), kUInt8);
  EXPECT_EQ(t.shape(), Shape({2, 3}));
  EXPECT_EQ(t.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 127, 128, 255}));
}

TEST(Idx, ReadsBigEndianInt32Float32Float64) {
  TempDir dir;
  auto bi = idx_header(0x0C, {4});
  for (int32_t v : {1, -2, 70000, -2147483647}) append_big_endian(bi, v);
  write_bytes(dir.file("i32"), bi);
  Tensor ti = data::read_idx(dir.file("i32"));
  EXPECT_EQ(ti.dtype(), kInt32);
  EXPECT_EQ(ti.to_vector<int64_t>(), (std::vector<int64_t>{1, -2, 70000, -2147483647}));

  auto bf = idx_header(0x0D, {1, 1, 1, 3});
  for (float v : {0.5f, -1.25f, 3e10f}) append_big_endian(bf, v);
  write_bytes(dir.file("f32"), bf);
  Tensor tf = data::read_idx(dir.file("f32"));
  EXPECT_EQ(tf.dtype(), kFloat32);
  EXPECT_EQ(tf.shape(), Shape({1, 1, 1, 3}));
  EXPECT_EQ(tf.to_vector<float>(), (std::vector<float>{0.5f, -1.25f, 3e10f}));

  auto bd = idx_header(0x0E, {2});
  for (double v : {0.1, -7.0}) append_big_endian(bd, v);
  write_bytes(dir.file("f64"), bd);
  EXPECT_EQ(data::read_idx(dir.file("f64")).to_vector<double>(), (std::vector<double>{0.1, -7.0}));
}

TEST(Idx, DetectsGzipByContentNotName) {
  TempDir dir;
  auto b = idx_header(0x08, {3, 28, 28});
  for (int i = 0; i < 3 * 28 * 28; ++i) b.push_back(static_cast<uint8_t>(i * 7));
  write_bytes(dir.file("images-no-suffix"), gzip(b));  // gzipped, plain name
  write_bytes(dir.file("raw.gz"), b);                  // raw, misleading name
  Tensor a = data::read_idx(dir.file("images-no-suffix"));
  Tensor r = data::read_idx(dir.file("raw.gz"));
  EXPECT_EQ(a.shape(), Shape({3, 28, 28}));
  EXPECT_EQ(a.to_vector<int64_t>(), r.to_vector<int64_t>());
  EXPECT_EQ(a.to_vector<int64_t>()[100], (100 * 7) % 256);
}

TEST(Idx, ConcatenatedGzipMembers) {
  TempDir dir;
  auto b = idx_header(0x08, {6});
  for (uint8_t v = 0; v < 6; ++v) b.push_back(v);
  std::vector<uint8_t> first(b.begin(), b.begin() + 7), second(b.begin() + 7, b.end());
  auto gz = gzip(first), gz2 = gzip(second);
  gz.insert(gz.end(), gz2.begin(), gz2.end());
  write_bytes(dir.file("multi.gz"), gz);
  EXPECT_EQ(data::read_idx(dir.file("multi.gz")).to_vector<int64_t>(),
            (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
}

TEST(Idx, WriteIdxRoundTripsRawAndGzip) {
  TempDir dir;
  manual_seed(3);
  Tensor u8 = randint(0, 256, {5, 4, 3}, kInt64).to(kUInt8);
  Tensor i32 = randint(-1000, 1000, {7}, kInt64).to(kInt32);
  Tensor f32 = randn({2, 3, 4, 5});
  Tensor f64 = randn({3, 2}, kFloat64);
  for (bool gz : {false, true}) {
    for (const Tensor& t : {u8, i32, f32, f64}) {
      const std::string path = dir.file(std::string("t") + dtype_name(t.dtype()) + (gz ? ".gz" : ""));
      data::write_idx(path, t, gz);
      const auto bytes = read_bytes(path);
      EXPECT_EQ(bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b, gz);
      Tensor back = data::read_idx(path);
      EXPECT_EQ(back.dtype(), t.dtype());
      EXPECT_EQ(back.shape(), t.shape());
      EXPECT_EQ(back.to_vector<double>(), t.to_vector<double>());
    }
  }
  // The raw bytes are exactly the format: header then big-endian data.
  data::write_idx(dir.file("small"), from_vector<int32_t>({1, 256}), false);
  EXPECT_EQ(read_bytes(dir.file("small")),
            (std::vector<uint8_t>{0, 0, 0x0C, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 1, 0}));
}

TEST(Idx, WriteIdxRejectsUnsupported) {
  TempDir dir;
  EXPECT_THAT(error_of([&] { data::write_idx(dir.file("x"), zeros({2}, kInt64)); }),
              HasSubstr("IDX cannot store dtype int64"));
  EXPECT_THAT(error_of([&] {
                data::write_idx(dir.file("x"), zeros({1, 1, 1, 1, 1}));
              }),
              HasSubstr("expected a tensor with 1 to 4 dimensions, got shape (1, 1, 1, 1, 1)"));
  EXPECT_FALSE(std::filesystem::exists(dir.file("x")));
}

TEST(Idx, TruncatedData) {
  TempDir dir;
  auto b = idx_header(0x08, {60000, 28, 28});
  b.resize(b.size() + 1000, 7);
  const std::string path = dir.file("train-images-idx3-ubyte.gz");
  write_bytes(path, gzip(b));
  EXPECT_EQ(error_of([&] { data::read_idx(path); }),
            "read_idx: " + path + ": truncated: expected 47040000 data bytes, got 1000");
}

TEST(Idx, TruncatedHeader) {
  TempDir dir;
  auto b = idx_header(0x08, {10, 28, 28});
  b.resize(9);
  write_bytes(dir.file("h"), b);
  EXPECT_THAT(error_of([&] { data::read_idx(dir.file("h")); }),
              HasSubstr(dir.file("h") + ": truncated header: expected 16 bytes, got 9"));
  write_bytes(dir.file("tiny"), {0, 0});
  EXPECT_THAT(error_of([&] { data::read_idx(dir.file("tiny")); }),
              HasSubstr(dir.file("tiny") + ": file too small for an IDX header (2 bytes)"));
}

TEST(Idx, WrongMagic) {
  TempDir dir;
  write_bytes(dir.file("bad"), {'P', 'K', 3, 4, 0, 0, 0, 0});
  EXPECT_EQ(error_of([&] { data::read_idx(dir.file("bad")); }),
            "read_idx: " + dir.file("bad") +
                ": bad magic: expected 0x00 0x00 <type> <ndims>, got 0x50 0x4b 0x03 0x04 (not an IDX file)");
}

TEST(Idx, UnsupportedTypeAndRank) {
  TempDir dir;
  write_bytes(dir.file("i8"), idx_header(0x09, {1}));
  EXPECT_THAT(error_of([&] { data::read_idx(dir.file("i8")); }), HasSubstr("unsupported element type 0x09"));
  write_bytes(dir.file("r0"), {0, 0, 8, 0});
  EXPECT_THAT(error_of([&] { data::read_idx(dir.file("r0")); }),
              HasSubstr(dir.file("r0") + ": unsupported number of dimensions 0 (expected 1 to 4)"));
  write_bytes(dir.file("r5"), idx_header(0x08, {1, 1, 1, 1, 1}));
  EXPECT_THAT(error_of([&] { data::read_idx(dir.file("r5")); }),
              HasSubstr("unsupported number of dimensions 5"));
  write_bytes(dir.file("z"), idx_header(0x08, {4, 0}));
  EXPECT_THAT(error_of([&] { data::read_idx(dir.file("z")); }),
              HasSubstr(dir.file("z") + ": dimension 1 has size 0"));
  write_bytes(dir.file("huge"), idx_header(0x0E, {0xffffffff, 0xffffffff, 16}));
  EXPECT_THAT(error_of([&] { data::read_idx(dir.file("huge")); }), HasSubstr("implausible sizes"));
}

TEST(Idx, TrailingBytes) {
  TempDir dir;
  auto b = idx_header(0x08, {2, 2});
  b.insert(b.end(), {1, 2, 3, 4, 9, 9, 9});
  write_bytes(dir.file("t"), b);
  EXPECT_EQ(error_of([&] { data::read_idx(dir.file("t")); }),
            "read_idx: " + dir.file("t") + ": 3 trailing bytes after the expected 4 data bytes");
}

TEST(Idx, CorruptGzip) {
  TempDir dir;
  auto b = idx_header(0x08, {100, 100});
  for (int i = 0; i < 10000; ++i) b.push_back(static_cast<uint8_t>((i * 31) ^ (i >> 3)));
  auto gz = gzip(b);
  auto flipped = gz;
  for (size_t i = 20; i < 40; ++i) flipped[i] ^= 0x5a;
  write_bytes(dir.file("flipped.gz"), flipped);
  EXPECT_THAT(error_of([&] { data::read_idx(dir.file("flipped.gz")); }),
              HasSubstr("read_idx: " + dir.file("flipped.gz") + ": corrupt gzip data: "));
  // A bad CRC in the trailer with intact deflate data.
  auto bad_crc = gz;
  bad_crc[gz.size() - 6] ^= 0xff;
  write_bytes(dir.file("crc.gz"), bad_crc);
  EXPECT_THAT(error_of([&] { data::read_idx(dir.file("crc.gz")); }),
              HasSubstr(": corrupt gzip data: incorrect data check"));
  gz.resize(gz.size() / 2);
  write_bytes(dir.file("half.gz"), gz);
  EXPECT_EQ(error_of([&] { data::read_idx(dir.file("half.gz")); }),
            "read_idx: " + dir.file("half.gz") + ": corrupt gzip data: the compressed stream is truncated");
  auto junk = gzip(b);
  junk.insert(junk.end(), {'j', 'u', 'n', 'k'});
  write_bytes(dir.file("junk.gz"), junk);
  EXPECT_THAT(error_of([&] { data::read_idx(dir.file("junk.gz")); }),
              HasSubstr("corrupt gzip data: 4 unexpected bytes after the compressed stream"));
}

TEST(Idx, MissingFileAndDirectory) {
  TempDir dir;
  EXPECT_EQ(error_of([&] { data::read_idx(dir.file("nope.gz")); }),
            "read_idx: " + dir.file("nope.gz") + ": cannot open: No such file or directory");
  EXPECT_EQ(error_of([&] { data::read_idx(dir.path()); }),
            "read_idx: " + dir.path() + ": is a directory, not a file");
}

TEST(Idx, RealFashionMnistTrainLabels) {
  const std::string path = std::string(data::kFashionMnistDir) + "/train-labels-idx1-ubyte.gz";
  if (!std::filesystem::exists(path))
    GTEST_SKIP() << path << " not installed (apt-get install dataset-fashion-mnist)";
  Tensor labels = data::read_idx(path);
  EXPECT_EQ(labels.dtype(), kUInt8);
  ASSERT_EQ(labels.shape(), Shape({60000}));
  std::vector<int64_t> counts(256, 0);
  for (int64_t v : labels.to_vector<int64_t>()) counts[v]++;
  // Fashion-MNIST's training set is balanced: 6000 images of each of the 10 classes.
  for (int c = 0; c < 10; ++c) EXPECT_EQ(counts[c], 6000) << "class " << c;
  for (int c = 10; c < 256; ++c) EXPECT_EQ(counts[c], 0);
}
