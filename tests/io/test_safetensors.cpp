// safetensors: round trips of every dtype (0-d and empty included), the exact bytes of a tiny
// file, an independent spec reader, every corrupt-file error, and atomic saves that leave the
// previous file untouched when they fail.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/error_of.h"
#include "data_loading/temp_dir.h"
#include "magmadnn/magmadnn.h"

using namespace magmadnn;
using magmadnn::testing::read_bytes;
using magmadnn::testing::TempDir;
using magmadnn::testing::write_bytes;
using ::testing::HasSubstr;

namespace {
using magmadnn::testing::error_of;

std::vector<uint8_t> le64(uint64_t n) {
  std::vector<uint8_t> b;
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(n >> (8 * i)));
  return b;
}

// A file from a header (used as is, no padding) and data bytes.
std::vector<uint8_t> make_file(const std::string& header, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> b = le64(header.size());
  b.insert(b.end(), header.begin(), header.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

std::vector<std::string> dir_entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

void expect_same(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.dtype(), b.dtype());
  EXPECT_EQ(a.shape(), b.shape());
  EXPECT_EQ(a.to_vector<double>(), b.to_vector<double>());
}
}  // namespace

TEST(Safetensors, RoundTripAllDtypes) {
  TempDir dir;
  manual_seed(11);
  std::map<std::string, Tensor> t{
      {"conv.weight", randn({4, 3, 3, 3})},
      {"f64", randn({5}, kFloat64)},
      {"steps", from_vector<int64_t>({-5, 0, 1LL << 40}, {3})},
      {"i32", from_vector<int32_t>({-7, 2147483647}, {2, 1})},
      {"u8", from_vector<uint8_t>({0, 128, 255}, {3})},
      {"scalar", scalar_tensor(3.25, kFloat64)},
      {"scalar_i64", scalar_tensor(42, kInt64)},
      {"empty", zeros({0, 3})},
      {"empty_u8", zeros({2, 0}, kUInt8)},
      {"transposed", arange(0, 6, 1).reshape({2, 3}).t()},  // non-contiguous input
  };
  const std::string path = dir.file("model.safetensors");
  io::save_safetensors(path, t, {{"format", "pt"}, {"note", "quote \" and unicode \xc3\xa9"}});
  std::map<std::string, std::string> meta;
  auto back = io::load_safetensors(path, &meta);
  ASSERT_EQ(back.size(), t.size());
  for (const auto& [name, tensor] : t) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(back.count(name));
    expect_same(back.at(name), tensor);
    EXPECT_TRUE(back.at(name).is_contiguous());
  }
  EXPECT_EQ(back.at("scalar").dim(), 0);
  EXPECT_EQ(meta, (std::map<std::string, std::string>{{"format", "pt"},
                                                      {"note", "quote \" and unicode \xc3\xa9"}}));
  // Empty map: a valid file with an empty header.
  io::save_safetensors(dir.file("empty.safetensors"), {});
  EXPECT_TRUE(io::load_safetensors(dir.file("empty.safetensors")).empty());
  EXPECT_EQ(read_bytes(dir.file("empty.safetensors")), make_file("{}      ", {}));
}

TEST(Safetensors, ByteExactTinyFile) {
  TempDir dir;
  const std::string path = dir.file("tiny.safetensors");
  io::save_safetensors(path, {{"b", scalar_tensor(7, kUInt8)}, {"a", from_vector<float>({1.0f, -2.0f})}},
                       {{"fmt", "pt"}});
  const std::string json =
      "{\"__metadata__\":{\"fmt\":\"pt\"},"
      "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
      "\"b\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[8,9]}}";
  ASSERT_EQ(json.size(), 133u);
  const std::string padded = json + std::string(3, ' ');  // to 136, a multiple of 8
  // 1.0f = 0x3f800000, -2.0f = 0xc0000000, little-endian.
  const std::vector<uint8_t> expected = make_file(padded, {0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, 7});
  EXPECT_EQ(read_bytes(path), expected);
  EXPECT_EQ(io::serialize_safetensors(
                {{"b", scalar_tensor(7, kUInt8)}, {"a", from_vector<float>({1.0f, -2.0f})}}, {{"fmt", "pt"}}),
            std::string(expected.begin(), expected.end()));
}

// An independent reader written from the format description, to check what the writer produces.
TEST(Safetensors, IndependentSpecReader) {
  TempDir dir;
  manual_seed(2);
  Tensor w = randn({3, 4});
  Tensor idx = from_vector<int64_t>({9, 8, 7});
  io::save_safetensors(dir.file("x.safetensors"), {{"w", w}, {"idx", idx}});
  const auto bytes = read_bytes(dir.file("x.safetensors"));
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u);
  auto header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + n);
  EXPECT_FALSE(header.contains("__metadata__"));
  const uint8_t* data = bytes.data() + 8 + n;
  ASSERT_TRUE(header.contains("w") && header.contains("idx"));
  EXPECT_EQ(header["w"]["dtype"], "F32");
  EXPECT_EQ(header["w"]["shape"], nlohmann::json::array({3, 4}));
  EXPECT_EQ(header["idx"]["dtype"], "I64");
  const uint64_t wb = header["w"]["data_offsets"][0], we = header["w"]["data_offsets"][1];
  const uint64_t ib = header["idx"]["data_offsets"][0], ie = header["idx"]["data_offsets"][1];
  EXPECT_EQ(we - wb, 48u);
  EXPECT_EQ(ie - ib, 24u);
  EXPECT_EQ(ib, 0u);  // sorted by name: idx before w
  EXPECT_EQ(wb, 24u);
  EXPECT_EQ(bytes.size(), 8 + n + 72);
  std::vector<float> wv(12);
  std::memcpy(wv.data(), data + wb, 48);
  EXPECT_EQ(wv, w.to_vector<float>());
  std::vector<int64_t> iv(3);
  std::memcpy(iv.data(), data + ib, 24);
  EXPECT_EQ(iv, (std::vector<int64_t>{9, 8, 7}));
}

// Files from other writers order keys and data differently (the reference sorts data by dtype
// alignment, pads the header with spaces); the reader must accept any valid layout.
TEST(Safetensors, ReadsForeignLayout) {
  TempDir dir;
  const std::string header =
      "{\"z\": {\"dtype\": \"I32\", \"shape\": [1], \"data_offsets\": [8, 12]}, "
      "\"__metadata__\": {\"format\": \"np\"}, "
      "\"a\": {\"data_offsets\": [0, 8], \"shape\": [1, 1], \"dtype\": \"F64\"}, "
      "\"e\": {\"dtype\": \"F32\", \"shape\": [0, 4], \"data_offsets\": [12, 12]}}    ";
  std::vector<uint8_t> data(12);
  const double a = -0.125;
  const int32_t z = -9;
  std::memcpy(data.data(), &a, 8);
  std::memcpy(data.data() + 8, &z, 4);
  write_bytes(dir.file("f.safetensors"), make_file(header, data));
  std::map<std::string, std::string> meta;
  auto t = io::load_safetensors(dir.file("f.safetensors"), &meta);
  EXPECT_EQ(meta.at("format"), "np");
  EXPECT_EQ(t.at("a").shape(), Shape({1, 1}));
  EXPECT_EQ(t.at("a").item<double>(), -0.125);
  EXPECT_EQ(t.at("z").dtype(), kInt32);
  EXPECT_EQ(t.at("z").item<int32_t>(), -9);
  EXPECT_EQ(t.at("e").shape(), Shape({0, 4}));
}

TEST(Safetensors, PythonInterop) {
  if (std::system("/usr/bin/python3 -c 'import safetensors, numpy' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3 safetensors package not installed";
  TempDir dir;
  io::save_safetensors(dir.file("m.safetensors"), {{"x", from_vector<float>({1.5f, 2.5f}, {1, 2})}});
  const std::string cmd =
      "/usr/bin/python3 -c \"from safetensors.numpy import load_file, save_file; import numpy as np; "
      "d = load_file('" +
      dir.file("m.safetensors") +
      "'); "
      "assert d['x'].shape == (1, 2) and d['x'].tolist() == [[1.5, 2.5]]; "
      "save_file({'y': np.arange(3, dtype=np.int64)}, '" +
      dir.file("p.safetensors") + "')\"";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  auto back = io::load_safetensors(dir.file("p.safetensors"));
  EXPECT_EQ(back.at("y").to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2}));
}

TEST(Safetensors, CorruptFileErrors) {
  TempDir dir;
  const std::string p = dir.file("bad.safetensors");
  const std::string w = "load_safetensors: " + p + ": ";
  auto load_error = [&](const std::vector<uint8_t>& bytes) {
    write_bytes(p, bytes);
    return error_of([&] { io::load_safetensors(p); });
  };
  const std::vector<uint8_t> eight(8, 0);
  const std::string a8 = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";

  EXPECT_EQ(load_error({1, 2, 3, 4, 5}), w + "file too small (5 bytes) to hold the 8-byte header length");
  EXPECT_EQ(load_error(le64(1000)), w + "header length 1000 exceeds the 0 bytes after the length field");
  {
    auto b = le64(1ull << 40);
    b.resize(64, ' ');
    EXPECT_EQ(load_error(b), w + "header length 1099511627776 exceeds the 56 bytes after the length field");
  }
  EXPECT_THAT(load_error(make_file("{\"a\": ", {})), HasSubstr(w + "invalid JSON header: "));
  EXPECT_THAT(load_error(make_file("{\"a\":1}garbage", {})), HasSubstr(w + "invalid JSON header: "));
  EXPECT_EQ(load_error(make_file("[1, 2]  ", {})), w + "the header is not a JSON object");
  EXPECT_EQ(load_error(
                make_file("{\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", {0, 0, 0, 0})),
            w + "tensor 'a': unsupported dtype 'BF16' (supported: F32, F64, I64, I32, U8)");
  EXPECT_EQ(load_error(make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", eight)),
            w + "tensor 'a': shape (3) of F32 needs 12 bytes but data_offsets [0, 8] span 8");
  EXPECT_EQ(load_error(make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,8]}}", eight)),
            w + "tensor 'a': empty shape (0) but data_offsets [0, 8] span 8 bytes");
  EXPECT_EQ(load_error(make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", eight)),
            w + "tensor 'a': shape [-2] holds a non-integer or negative size");
  EXPECT_EQ(load_error(make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", eight)),
            w + "tensor 'a': data_offsets [8, 0] end before they begin");
  EXPECT_EQ(load_error(make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", eight)),
            w + "tensor 'a': \"data_offsets\" must be an array [begin, end]");
  EXPECT_EQ(load_error(make_file("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", eight)),
            w + "tensor 'a': missing or non-string \"dtype\"");
  EXPECT_EQ(load_error(make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", eight)),
            w + "tensor 'a': data_offsets [4, 12] lie outside the 8 bytes of data");
  EXPECT_EQ(load_error(make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                 "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]}}",
                                 eight)),
            w + "tensor 'b' data_offsets [4, 8] overlap tensor 'a' [0, 8]");
  EXPECT_EQ(load_error(make_file("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]}}", eight)),
            w + "4 unused bytes before tensor 'a' (data_offsets [4, 8] start after offset 0)");
  {
    auto data = eight;
    data.insert(data.end(), {1, 2, 3});
    EXPECT_EQ(load_error(make_file(a8, data)), w + "3 trailing bytes after the last tensor's data");
  }
  EXPECT_EQ(load_error(make_file("{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]},"
                                 "\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]}}",
                                 eight)),
            w + "the header names 'a' twice");
  EXPECT_EQ(load_error(make_file("{\"__metadata__\":{\"n\":3}}", {})),
            w + "__metadata__ value of 'n' is not a string");
  EXPECT_EQ(
      error_of([&] { io::load_safetensors(dir.file("missing.safetensors")); }),
      "load_safetensors: " + dir.file("missing.safetensors") + ": cannot open: No such file or directory");
  // A valid file still loads after all that (the checks are not over-strict).
  EXPECT_EQ(load_error(make_file(a8 + "  ", eight)), "<no error>");
}

TEST(Safetensors, SaveArgumentErrors) {
  TempDir dir;
  EXPECT_EQ(error_of([&] {
              io::save_safetensors(dir.file("x"), {{"__metadata__", zeros({1})}});
            }),
            "save_safetensors: " + dir.file("x") + ": \"__metadata__\" is reserved and cannot name a tensor");
  EXPECT_EQ(error_of([&] {
              io::save_safetensors(dir.file("x"), {{"w", Tensor()}});
            }),
            "save_safetensors: " + dir.file("x") + ": tensor 'w' is undefined");
  EXPECT_TRUE(dir_entries(dir.path()).empty());
}

TEST(Safetensors, FailedSaveLeavesPreviousFileIntact) {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  io::save_safetensors(path, {{"w", from_vector<float>({1, 2, 3})}}, {{"epoch", "1"}});
  const auto before = read_bytes(path);

  // Bad arguments fail before anything is written.
  EXPECT_THAT(error_of([&] { io::save_safetensors(path, {{"w", Tensor()}}); }), HasSubstr("is undefined"));
  EXPECT_EQ(read_bytes(path), before);

  // A write that fails half-way (file size limit) removes its temporary file.
  struct rlimit old {};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  auto old_handler = signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old;
  small.rlim_cur = 4096;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  const std::string msg = error_of([&] { io::save_safetensors(path, {{"big", zeros({100000})}}); });
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, old_handler);
  EXPECT_EQ(msg, "save_safetensors: " + path + ": write failed: File too large");
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_EQ(dir_entries(dir.path()), std::vector<std::string>{"ckpt.safetensors"});

  // Into a directory that does not exist.
  const std::string nodir = dir.file("no-such-dir/ckpt.safetensors");
  EXPECT_THAT(error_of([&] {
                io::save_safetensors(nodir, {{"w", zeros({2})}});
              }),
              HasSubstr("save_safetensors: " + nodir + ": cannot create a temporary file in " +
                        dir.file("no-such-dir") + ": No such file or directory"));
  // Onto a directory.
  std::filesystem::create_directory(dir.file("sub"));
  EXPECT_EQ(error_of([&] {
              io::save_safetensors(dir.file("sub"), {{"w", zeros({2})}});
            }),
            "save_safetensors: " + dir.file("sub") + ": is a directory; cannot write a file there");
  EXPECT_TRUE(std::filesystem::is_directory(dir.file("sub")));
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_EQ(dir_entries(dir.path()), (std::vector<std::string>{"ckpt.safetensors", "sub"}));

  // A successful save replaces the content.
  io::save_safetensors(path, {{"w", from_vector<float>({4, 5})}});
  EXPECT_EQ(io::load_safetensors(path).at("w").to_vector<float>(), (std::vector<float>{4, 5}));
}
