// Space-group data sets: generation is reproducible and independent of the thread count, labels
// follow the targets, folders and .npz archives round-trip, and bad files fail with one line
// naming the file and the problem.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "common/error_of.h"
#include "data_loading/temp_dir.h"
#include "magmadnn/backend/backend.h"
#include "magmadnn/io/numpy.h"
#include "magmadnn/spacegroup/dataset.h"

using namespace magmadnn;
using namespace magmadnn::spacegroup;
using magmadnn::testing::error_of;
using magmadnn::testing::TempDir;
using ::testing::HasSubstr;

namespace {

#define SKIP_WITHOUT_SPGLIB() \
  if (!symmetry_available()) GTEST_SKIP() << "this build has no spglib (libsymspg-dev)"

GenerateOptions small_options() {
  GenerateOptions o;
  o.groups = {1, 14, 166, 225};
  o.samples_per_group = 3;
  o.seed = 42;
  o.pattern.size = 16;
  return o;
}

}  // namespace

TEST(SpaceGroupData, GenerationIsReproducibleForAnyThreadCount) {
  SKIP_WITHOUT_SPGLIB();
  const int threads = get_num_threads();
  set_num_threads(1);
  const SpaceGroupDataset one = generate_spacegroup_dataset(small_options());
  set_num_threads(2);
  const SpaceGroupDataset two = generate_spacegroup_dataset(small_options());
  set_num_threads(threads);
  ASSERT_EQ(one.size(), 12);
  EXPECT_EQ(one.image_size, 16);
  EXPECT_EQ(one.images, two.images);
  EXPECT_EQ(one.space_groups, two.space_groups);
  EXPECT_EQ(one.space_groups, (std::vector<int64_t>{1, 14, 166, 225, 1, 14, 166, 225, 1, 14, 166, 225}));
  // Every sample differs from the others (its own crystal), and another seed gives other images.
  for (int64_t i = 1; i < one.size(); ++i)
    EXPECT_FALSE(std::equal(one.images.begin(), one.images.begin() + one.sample_numel(),
                            one.images.begin() + i * one.sample_numel()));
  GenerateOptions other = small_options();
  other.seed = 43;
  EXPECT_NE(generate_spacegroup_dataset(other).images, one.images);
  // The float view: the stored bytes over 255.
  const Tensor x = one.images_tensor(2, 4);
  EXPECT_EQ(x.shape(), Shape({2, kPatternChannels, 16, 16}));
  EXPECT_FLOAT_EQ(x.data<float>()[5], one.images[2 * one.sample_numel() + 5] / 255.0f);
  // Rows in any order, as the data loader asks for them.
  const Tensor picked = one.images_tensor({3, 2});
  EXPECT_FLOAT_EQ(picked.data<float>()[one.sample_numel() + 5], x.data<float>()[5]);
  EXPECT_EQ(one.labels_tensor(Target::SpaceGroup, {3, 1}).to_vector<int64_t>(), (std::vector<int64_t>{224, 13}));
  EXPECT_THAT(error_of([&] { one.images_tensor({12}); }), HasSubstr("row 12 outside the 12 samples"));
  const Tensor y = one.labels_tensor(Target::CrystalSystem);
  EXPECT_EQ(y.to_vector<int64_t>()[0], 0);  // P1: triclinic
  EXPECT_EQ(y.to_vector<int64_t>()[2], 4);  // R-3m: trigonal
  EXPECT_EQ(y.to_vector<int64_t>()[3], 6);  // Fm-3m: cubic
  EXPECT_EQ(one.labels_tensor(Target::SpaceGroup).to_vector<int64_t>()[1], 13);
}

TEST(SpaceGroupData, RoundTripsThroughFoldersAndArchives) {
  SKIP_WITHOUT_SPGLIB();
  const SpaceGroupDataset d = generate_spacegroup_dataset(small_options());
  TempDir dir;
  for (const std::string name : {"set", "set.npz"}) {
    const std::string path = dir.path() + "/" + name;
    save_spacegroup_dataset(path, d, /*compress=*/true);
    const SpaceGroupDataset back = load_spacegroup_dataset(path);
    EXPECT_EQ(back.image_size, d.image_size);
    EXPECT_EQ(back.images, d.images);
    EXPECT_EQ(back.space_groups, d.space_groups);
  }
  const SpaceGroupDataset part = d.take({3, 0});
  EXPECT_EQ(part.space_groups, (std::vector<int64_t>{225, 1}));
  EXPECT_TRUE(std::equal(part.images.begin(), part.images.begin() + d.sample_numel(),
                         d.images.begin() + 3 * d.sample_numel()));
}

TEST(SpaceGroupData, BadFilesFailWithOneLine) {
  TempDir dir;
  const std::string path = dir.path() + "/bad";
  std::filesystem::create_directories(path);
  const auto u8 = [](int64_t n, int64_t s) {
    return io::NpyArray::from_vector(std::vector<uint8_t>(n * 6 * s * s, 0), {n, 6, s, s});
  };
  EXPECT_THAT(error_of([&] { load_spacegroup_dataset(path); }), HasSubstr(path + ": missing images.npy"));
  io::save_npy(path + "/images.npy", u8(2, 8));
  io::save_npy(path + "/space_groups.npy", io::NpyArray::from_vector(std::vector<int64_t>{1, 231}, {2}));
  EXPECT_THAT(error_of([&] { load_spacegroup_dataset(path); }), HasSubstr("sample 1 has space group 231, outside 1..230"));
  io::save_npy(path + "/space_groups.npy", io::NpyArray::from_vector(std::vector<int64_t>{1, 2, 3}, {3}));
  EXPECT_THAT(error_of([&] { load_spacegroup_dataset(path); }),
              HasSubstr("space_groups has shape (3,) but images hold 2 samples"));
  io::save_npy(path + "/space_groups.npy", io::NpyArray::from_vector(std::vector<double>{1, 2}, {2}));
  EXPECT_THAT(error_of([&] { load_spacegroup_dataset(path); }), HasSubstr("space_groups must be int64 or int32, got dtype f8"));
  io::save_npy(path + "/space_groups.npy", io::NpyArray::from_vector(std::vector<int32_t>{5, 6}, {2}));
  EXPECT_EQ(load_spacegroup_dataset(path).space_groups, (std::vector<int64_t>{5, 6}));
  io::save_npy(path + "/images.npy", io::NpyArray::from_vector(std::vector<uint8_t>(2 * 5 * 8 * 8, 0), {2, 5, 8, 8}));
  EXPECT_THAT(error_of([&] { load_spacegroup_dataset(path); }), HasSubstr("images must have shape (N, 6, S, S)"));
  io::save_npy(path + "/images.npy", io::NpyArray::from_vector(std::vector<float>(2 * 6 * 8 * 8, 0), {2, 6, 8, 8}));
  EXPECT_THAT(error_of([&] { load_spacegroup_dataset(path); }), HasSubstr("images must be uint8, got dtype f4"));
  EXPECT_THAT(error_of([&] { load_spacegroup_dataset(dir.path() + "/none.npz"); }), HasSubstr("no such file or folder"));
  io::save_npy(dir.path() + "/lone.npy", u8(1, 8));
  EXPECT_THAT(error_of([&] { load_spacegroup_dataset(dir.path() + "/lone.npy"); }),
              HasSubstr("expected a folder or an .npz archive"));
  io::save_npz(dir.path() + "/half.npz", {{"images", u8(1, 8)}});
  EXPECT_THAT(error_of([&] { load_spacegroup_dataset(dir.path() + "/half.npz"); }),
              HasSubstr("the archive has no 'space_groups' array"));
  // A truncated archive: the NumPy reader's own error, prefixed by nothing else.
  SpaceGroupDataset d;
  d.image_size = 8;
  d.images.assign(6 * 64, 7);
  d.space_groups = {3};
  const std::string npz = dir.path() + "/t.npz";
  save_spacegroup_dataset(npz, d);
  std::filesystem::resize_file(npz, std::filesystem::file_size(npz) / 2);
  EXPECT_THAT(error_of([&] { load_spacegroup_dataset(npz); }), HasSubstr("load_npz: " + npz));
  EXPECT_THAT(error_of([&] {
                GenerateOptions o = small_options();
                o.groups = {0};
                generate_spacegroup_dataset(o);
              }),
              HasSubstr("must be in 1..230, got 0"));
}
