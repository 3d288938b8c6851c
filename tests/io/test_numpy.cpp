// NumPy .npy/.npz: fixtures written by NumPy (tests/golden/gen_npy.py) read back value for value,
// round trips of our writer (stored and deflate), Tensor conversions, and one clear error for
// each kind of malformed, truncated or unsupported file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "common/error_of.h"
#include "data_loading/temp_dir.h"
#include "magmadnn/io/numpy.h"

using namespace magmadnn;
using magmadnn::testing::error_of;
using magmadnn::testing::read_bytes;
using magmadnn::testing::TempDir;
using magmadnn::testing::write_bytes;
using ::testing::HasSubstr;

namespace {
std::string fixture(const std::string& name) { return std::string(MAGMADNN_TEST_DATA_DIR) + "/npy/" + name; }
using Shape_ = std::vector<int64_t>;
}  // namespace

TEST(Npy, ReadsEveryNumpyDtype) {
  auto i1 = io::load_npy(fixture("i1.npy"));
  EXPECT_EQ(i1.dtype, "i1");
  EXPECT_EQ(i1.shape, (Shape_{2, 3}));
  EXPECT_EQ(i1.to_vector<int8_t>(), (std::vector<int8_t>{-128, -1, 0, 1, 2, 127}));
  EXPECT_EQ(io::load_npy(fixture("u1.npy")).to_vector<uint8_t>(), (std::vector<uint8_t>{0, 7, 255}));
  auto i4 = io::load_npy(fixture("i4.npy"));
  EXPECT_EQ(i4.shape, (Shape_{3, 1}));
  EXPECT_EQ(i4.to_vector<int32_t>(), (std::vector<int32_t>{-2147483647 - 1, 5, 2147483647}));
  EXPECT_EQ(io::load_npy(fixture("i8.npy")).to_vector<int64_t>(), (std::vector<int64_t>{-(1LL << 40), 0, 3}));
  EXPECT_EQ(io::load_npy(fixture("f4.npy")).to_vector<float>(), (std::vector<float>{1.5f, -2.25f, 3.0f, 1e-3f}));
  const std::vector<double> f8{M_PI, -M_E, 0.0, 1e300};
  EXPECT_EQ(io::load_npy(fixture("f8.npy")).to_vector<double>(), f8);
  EXPECT_EQ(io::load_npy(fixture("f8_v2.npy")).to_vector<double>(), f8);
  EXPECT_EQ(io::load_npy(fixture("f8_v3.npy")).to_vector<double>(), f8);
  EXPECT_EQ(io::load_npy(fixture("b1.npy")).to_vector<bool>(), (std::vector<bool>{true, false, true}));
  auto scalar = io::load_npy(fixture("scalar.npy"));
  EXPECT_TRUE(scalar.shape.empty());
  EXPECT_EQ(scalar.to_vector<double>(), (std::vector<double>{2.5}));
  auto empty = io::load_npy(fixture("empty.npy"));
  EXPECT_EQ(empty.shape, (Shape_{0, 3}));
  EXPECT_TRUE(empty.bytes.empty());
}

TEST(Npy, UnsupportedLayoutsAreClearErrors) {
  EXPECT_THAT(error_of([] { io::load_npy(fixture("fortran.npy")); }),
              HasSubstr("fortran.npy: fortran_order=True is not supported"));
  EXPECT_THAT(error_of([] { io::load_npy(fixture("big_endian.npy")); }),
              HasSubstr("big_endian.npy: big-endian dtype '>i4' is not supported"));
  EXPECT_THAT(error_of([] { io::load_npy(fixture("object.npy")); }),
              HasSubstr("object.npy: unsupported dtype '|O'"));
  EXPECT_THAT(error_of([] { io::load_npy(fixture("i1.npy")).data<float>(); }),
              HasSubstr("array has dtype 'i1', requested 'f4'"));
}

TEST(Npy, RoundTripMatchesNumpyBytes) {
  // Our writer produces exactly what np.save writes for the same array.
  TempDir dir;
  for (const char* name : {"i1.npy", "u1.npy", "i4.npy", "i8.npy", "f4.npy", "f8.npy", "b1.npy", "scalar.npy",
                           "empty.npy"}) {
    SCOPED_TRACE(name);
    const auto a = io::load_npy(fixture(name));
    io::save_npy(dir.file(name), a);
    EXPECT_EQ(read_bytes(dir.file(name)), read_bytes(fixture(name)));
  }
}

TEST(Npy, CorruptAndTruncatedFiles) {
  TempDir dir;
  const auto good = read_bytes(fixture("f8.npy"));
  auto check = [&](std::vector<uint8_t> bytes, const std::string& what) {
    const std::string p = dir.file("bad.npy");
    write_bytes(p, bytes);
    const std::string msg = error_of([&] { io::load_npy(p); });
    EXPECT_THAT(msg, HasSubstr("load_npy: " + p + ": ")) << what;
    EXPECT_THAT(msg, HasSubstr(what));
  };
  auto bad_magic = good;
  bad_magic[1] = 'X';
  check(bad_magic, "bad magic");
  check({0x93, 'N', 'U'}, "file too small");
  auto version = good;
  version[6] = 4;
  check(version, "unsupported format version 4.0");
  check(std::vector<uint8_t>(good.begin(), good.end() - 1), "truncated data: shape (4,) of f8 needs 32 bytes, got 31");
  auto longer = good;
  longer.push_back(0);
  check(longer, "1 trailing bytes");
  check(std::vector<uint8_t>(good.begin(), good.begin() + 40), "truncated header");
  auto not_dict = good;
  not_dict[10] = '[';
  check(not_dict, "header is not a dict");
  EXPECT_THAT(error_of([&] { io::load_npy(dir.file("missing.npy")); }), HasSubstr("missing.npy: cannot open"));
}

TEST(Npz, ReadsNumpyArchivesStoredAndCompressed) {
  for (const char* name : {"stored.npz", "compressed.npz", "descriptor.npz"}) {
    SCOPED_TRACE(name);
    auto m = io::load_npz(fixture(name));
    ASSERT_TRUE(m.count("spins") && m.count("energies"));
    EXPECT_EQ(m["spins"].shape, (Shape_{2, 2, 2}));
    EXPECT_EQ(m["spins"].to_vector<int8_t>(), (std::vector<int8_t>{1, -1, -1, 1, 1, 1, 1, 1}));
    EXPECT_EQ(m["energies"].to_vector<double>(), (std::vector<double>{8.0, -8.0}));
  }
  auto c = io::load_npz(fixture("compressed.npz"));
  ASSERT_TRUE(c.count("ramp"));
  const auto ramp = c["ramp"].to_vector<int64_t>();
  ASSERT_EQ(ramp.size(), 100u);
  for (int64_t i = 0; i < 100; ++i) EXPECT_EQ(ramp[i], i);
}

namespace {
void le(std::vector<uint8_t>& b, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
// A one-entry stored archive whose central directory and end record use zip64 fields only
// (sizes and offset 0xFFFFFFFF with a zip64 extra, zip64 end record and locator), as zip
// writers do for archives over 4 GiB.
std::vector<uint8_t> zip64_archive(const std::vector<uint8_t>& npy, const std::string& name) {
  const uint32_t crc = static_cast<uint32_t>(crc32(0, npy.data(), static_cast<uInt>(npy.size())));
  std::vector<uint8_t> z;
  le(z, 0x04034b50, 4); le(z, 45, 2); le(z, 0, 2); le(z, 0, 2); le(z, 0, 4); le(z, crc, 4);
  le(z, 0xFFFFFFFF, 4); le(z, 0xFFFFFFFF, 4); le(z, name.size(), 2); le(z, 20, 2);
  z.insert(z.end(), name.begin(), name.end());
  le(z, 1, 2); le(z, 16, 2); le(z, npy.size(), 8); le(z, npy.size(), 8);
  z.insert(z.end(), npy.begin(), npy.end());
  const uint64_t cd = z.size();
  le(z, 0x02014b50, 4); le(z, 45, 2); le(z, 45, 2); le(z, 0, 2); le(z, 0, 2); le(z, 0, 4); le(z, crc, 4);
  le(z, 0xFFFFFFFF, 4); le(z, 0xFFFFFFFF, 4); le(z, name.size(), 2); le(z, 28, 2); le(z, 0, 2); le(z, 0, 2);
  le(z, 0, 2); le(z, 0, 4); le(z, 0xFFFFFFFF, 4);
  z.insert(z.end(), name.begin(), name.end());
  le(z, 1, 2); le(z, 24, 2); le(z, npy.size(), 8); le(z, npy.size(), 8); le(z, 0, 8);
  const uint64_t cd_size = z.size() - cd, z64 = z.size();
  le(z, 0x06064b50, 4); le(z, 44, 8); le(z, 45, 2); le(z, 45, 2); le(z, 0, 4); le(z, 0, 4);
  le(z, 1, 8); le(z, 1, 8); le(z, cd_size, 8); le(z, cd, 8);
  le(z, 0x07064b50, 4); le(z, 0, 4); le(z, z64, 8); le(z, 1, 4);
  le(z, 0x06054b50, 4); le(z, 0, 2); le(z, 0, 2); le(z, 0xFFFF, 2); le(z, 0xFFFF, 2);
  le(z, 0xFFFFFFFF, 4); le(z, 0xFFFFFFFF, 4); le(z, 0, 2);
  return z;
}
}  // namespace

TEST(Npz, Zip64CentralDirectoryAndEndRecord) {
  TempDir dir;
  const auto a = io::NpyArray::from_vector<int64_t>({4, 5, 6}, {3});
  write_bytes(dir.file("z64.npz"), zip64_archive(io::serialize_npy(a), "counts.npy"));
  auto m = io::load_npz(dir.file("z64.npz"));
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m["counts"].to_vector<int64_t>(), (std::vector<int64_t>{4, 5, 6}));
}

TEST(Npz, RoundTripStoredAndDeflate) {
  TempDir dir;
  std::map<std::string, io::NpyArray> m;
  std::vector<float> big(5000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(i % 17) * 0.5f;
  m["big"] = io::NpyArray::from_vector(big, {50, 100});
  m["spins"] = io::NpyArray::from_vector<int8_t>({1, -1, 1, 1}, {1, 2, 2});
  m["flags"] = io::NpyArray::from_vector<bool>({true, false}, {2});
  for (bool compress : {false, true}) {
    SCOPED_TRACE(compress);
    const std::string p = dir.file(compress ? "c.npz" : "s.npz");
    io::save_npz(p, m, compress);
    auto back = io::load_npz(p);
    ASSERT_EQ(back.size(), m.size());
    for (const auto& [k, v] : m) {
      EXPECT_EQ(back[k].dtype, v.dtype);
      EXPECT_EQ(back[k].shape, v.shape);
      EXPECT_EQ(back[k].bytes, v.bytes);
    }
  }
  EXPECT_LT(read_bytes(dir.file("c.npz")).size(), read_bytes(dir.file("s.npz")).size() / 4);
}

TEST(Npz, CorruptArchives) {
  TempDir dir;
  auto check = [&](const std::vector<uint8_t>& bytes, const std::string& what) {
    const std::string p = dir.file("bad.npz");
    write_bytes(p, bytes);
    const std::string msg = error_of([&] { io::load_npz(p); });
    EXPECT_THAT(msg, HasSubstr("load_npz: " + p)) << what;
    EXPECT_THAT(msg, HasSubstr(what));
  };
  const auto stored = read_bytes(fixture("stored.npz"));
  const auto compressed = read_bytes(fixture("compressed.npz"));
  // Flip a data byte of the first entry (spins.npy payload lies after its 128-byte npy header).
  auto flipped = stored;
  flipped[0x3b + 128 + 2] ^= 0x02;
  check(flipped, "entry 'spins.npy': CRC-32 mismatch");
  check(std::vector<uint8_t>(stored.begin(), stored.begin() + stored.size() / 2), "no end-of-central-directory");
  check(std::vector<uint8_t>(stored.begin(), stored.begin() + 10), "file too small");
  std::vector<uint8_t> text(100, 'x');
  check(text, "not a zip archive");
  auto method = stored;
  method[8] = 14;  // local header says LZMA; the central directory is what counts
  // Find the central directory entry of the first file and change its method to 14 (LZMA).
  for (size_t p = 0; p + 4 < method.size(); ++p)
    if (method[p] == 'P' && method[p + 1] == 'K' && method[p + 2] == 1 && method[p + 3] == 2) {
      method[p + 10] = 14;
      break;
    }
  check(method, "unsupported compression method 14");
  auto deflate = compressed;
  deflate[0x60] ^= 0xFF;  // inside the first deflate stream
  const std::string msg = [&] {
    write_bytes(dir.file("d.npz"), deflate);
    return error_of([&] { io::load_npz(dir.file("d.npz")); });
  }();
  EXPECT_THAT(msg, HasSubstr("load_npz: " + dir.file("d.npz") + ": entry '"));
  // An entry holding a malformed .npy names the archive and the entry.
  std::map<std::string, io::NpyArray> m{{"x", io::NpyArray::from_vector<double>({1, 2}, {2})}};
  io::save_npz(dir.file("ok.npz"), m);
  auto bytes = read_bytes(dir.file("ok.npz"));
  // Shorten the declared shape from (2,) to (3,): the data no longer matches.
  for (size_t p = 0; p + 4 < bytes.size(); ++p)
    if (bytes[p] == '(' && bytes[p + 1] == '2' && bytes[p + 2] == ',') {
      bytes[p + 1] = '3';
      break;
    }
  write_bytes(dir.file("shape.npz"), bytes);
  // The CRC is checked first: the edited byte makes it fail.
  EXPECT_THAT(error_of([&] { io::load_npz(dir.file("shape.npz")); }), HasSubstr("x.npy': CRC-32 mismatch"));
}

TEST(Npy, TensorConversions) {
  auto spins = io::NpyArray::from_vector<int8_t>({1, -1, -1, 1}, {2, 2});
  Tensor t = io::to_tensor(spins, kFloat32);
  EXPECT_EQ(t.dtype(), kFloat32);
  EXPECT_EQ(t.shape(), Shape({2, 2}));
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, -1, -1, 1}));
  EXPECT_THAT(error_of([&] { io::to_tensor(spins); }), HasSubstr("NumPy dtype 'i1' has no matching Tensor dtype"));
  Tensor f = from_vector<double>({1.5, 2.5, 3.5}, {3});
  auto a = io::from_tensor(f);
  EXPECT_EQ(a.dtype, "f8");
  EXPECT_EQ(a.to_vector<double>(), (std::vector<double>{1.5, 2.5, 3.5}));
  Tensor back = io::to_tensor(a);
  EXPECT_EQ(back.dtype(), kFloat64);
  EXPECT_EQ(back.to_vector<double>(), f.to_vector<double>());
  EXPECT_EQ(io::to_tensor(io::load_npy(fixture("i8.npy"))).dtype(), kInt64);
  EXPECT_EQ(io::to_tensor(io::load_npy(fixture("b1.npy"))).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 0, 1}));
  EXPECT_THAT(error_of([] { io::NpyArray::from_vector<float>({1, 2, 3}, {2, 2}); }),
              HasSubstr("shape (2, 2) holds 4 elements, got 3 values"));
}
