// Generating, saving and loading space-group data sets (see spacegroup/dataset.h).
#include "magmadnn/spacegroup/dataset.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <filesystem>
#include <map>
#include <numeric>
#include <utility>

#include "magmadnn/core/error.h"
#include "magmadnn/io/numpy.h"

namespace magmadnn::spacegroup {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The seed of sample i: a SplitMix64 step of (seed, i), so neighbouring samples' generators differ.
uint64_t sample_seed(uint64_t seed, uint64_t i) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (i + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

Tensor SpaceGroupDataset::images_tensor(const std::vector<int64_t>& rows) const {
  const int64_t n = static_cast<int64_t>(rows.size()), per = sample_numel();
  for (int64_t r : rows)
    MAGMADNN_CHECK(r >= 0 && r < size(), "SpaceGroupDataset::images_tensor: row ", r, " outside the ", size(), " samples");
  Tensor t = Tensor::empty(Shape({n, kPatternChannels, image_size, image_size}), kFloat32);
  float* out = t.data<float>();
#pragma omp parallel for if (n * per > (1 << 20))
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* in = images.data() + rows[i] * per;
    for (int64_t j = 0; j < per; ++j) out[i * per + j] = in[j] * (1.0f / 255.0f);
  }
  return t;
}

Tensor SpaceGroupDataset::images_tensor(int64_t begin, int64_t end) const {
  MAGMADNN_CHECK(0 <= begin && begin <= end && end <= size(), "SpaceGroupDataset::images_tensor: rows [", begin, ", ",
                 end, ") outside the ", size(), " samples");
  std::vector<int64_t> rows(end - begin);
  std::iota(rows.begin(), rows.end(), begin);
  return images_tensor(rows);
}

Tensor SpaceGroupDataset::labels_tensor(Target target, const std::vector<int64_t>& rows) const {
  Tensor t = Tensor::empty(Shape({static_cast<int64_t>(rows.size())}), kInt64);
  int64_t* out = t.data<int64_t>();
  for (size_t i = 0; i < rows.size(); ++i) {
    MAGMADNN_CHECK(rows[i] >= 0 && rows[i] < size(), "SpaceGroupDataset::labels_tensor: row ", rows[i], " outside the ",
                   size(), " samples");
    out[i] = label_of(target, static_cast<int>(space_groups[rows[i]]));
  }
  return t;
}

Tensor SpaceGroupDataset::labels_tensor(Target target) const {
  std::vector<int64_t> rows(size());
  std::iota(rows.begin(), rows.end(), 0);
  return labels_tensor(target, rows);
}

SpaceGroupDataset SpaceGroupDataset::take(const std::vector<int64_t>& rows) const {
  SpaceGroupDataset out;
  out.image_size = image_size;
  out.images.resize(rows.size() * sample_numel());
  out.space_groups.resize(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    MAGMADNN_CHECK(rows[i] >= 0 && rows[i] < size(), "SpaceGroupDataset::take: row ", rows[i], " outside the ", size(),
                   " samples");
    std::copy_n(images.begin() + rows[i] * sample_numel(), sample_numel(), out.images.begin() + i * sample_numel());
    out.space_groups[i] = space_groups[rows[i]];
  }
  return out;
}

SpaceGroupDataset generate_spacegroup_dataset(const GenerateOptions& o) {
  std::vector<int> groups = o.groups;
  if (groups.empty())
    for (int n = 1; n <= 230; ++n) groups.push_back(n);
  for (int n : groups) space_group(n);  // unknown numbers and missing spglib fail here, once
  MAGMADNN_CHECK(o.samples_per_group > 0, "generate_spacegroup_dataset: samples_per_group must be positive, got ",
                 o.samples_per_group);
  zone_patterns(Crystal{}, o.pattern);  // checks the pattern options (an empty crystal draws nothing)
  SpaceGroupDataset d;
  d.image_size = o.pattern.size;
  const int64_t n = o.samples_per_group * static_cast<int64_t>(groups.size());
  d.images.resize(n * d.sample_numel());
  d.space_groups.resize(n);
  std::exception_ptr error;
#pragma omp parallel for schedule(dynamic, 8)
  for (int64_t i = 0; i < n; ++i) {
    try {
      Generator gen(sample_seed(o.seed, static_cast<uint64_t>(i)));
      const int number = groups[i % groups.size()];
      Crystal crystal = random_crystal(number, gen, o.crystal);
      if (o.random_settings) crystal = change_setting(crystal, random_setting(space_group(number).system, gen));
      const std::vector<float> image = zone_patterns(crystal, o.pattern);
      uint8_t* out = d.images.data() + i * d.sample_numel();
      for (size_t j = 0; j < image.size(); ++j) out[j] = static_cast<uint8_t>(std::lround(255.0f * image[j]));
      d.space_groups[i] = number;
    } catch (...) {
#pragma omp critical(spacegroup_generate_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
  return d;
}

SpaceGroupDataset load_spacegroup_dataset(const std::string& path) {
  const std::string where = "load_spacegroup_dataset: " + path + ": ";
  std::map<std::string, io::NpyArray> arrays;
  if (std::filesystem::is_directory(path)) {
    for (const char* name : {"images", "space_groups"}) {
      const std::string file = (std::filesystem::path(path) / (std::string(name) + ".npy")).string();
      MAGMADNN_CHECK(std::filesystem::exists(file), where, "missing ", name, ".npy");
      arrays[name] = io::load_npy(file);
    }
  } else {
    MAGMADNN_CHECK(std::filesystem::exists(path), where, "no such file or folder");
    MAGMADNN_CHECK(ends_with(path, ".npz"), where, "expected a folder or an .npz archive");
    arrays = io::load_npz(path);
    for (const char* name : {"images", "space_groups"})
      MAGMADNN_CHECK(arrays.count(name), where, "the archive has no '", name, "' array");
  }
  io::NpyArray& images = arrays["images"];
  const io::NpyArray& groups = arrays["space_groups"];
  MAGMADNN_CHECK(images.dtype == "u1", where, "images must be uint8, got dtype ", images.dtype);
  MAGMADNN_CHECK(images.shape.size() == 4 && images.shape[1] == kPatternChannels && images.shape[2] == images.shape[3] &&
                     images.shape[2] >= 8,
                 where, "images must have shape (N, ", kPatternChannels, ", S, S) with S >= 8, got ",
                 io::shape_str(images.shape));
  MAGMADNN_CHECK(groups.dtype == "i8" || groups.dtype == "i4", where, "space_groups must be int64 or int32, got dtype ",
                 groups.dtype);
  MAGMADNN_CHECK(groups.shape.size() == 1 && groups.shape[0] == images.shape[0], where, "space_groups has shape ",
                 io::shape_str(groups.shape), " but images hold ", images.shape[0], " samples");
  SpaceGroupDataset d;
  d.image_size = images.shape[2];
  d.images = std::move(images.bytes);  // checked above; the archive's copy is not needed again
  if (groups.dtype == "i8") {
    d.space_groups = groups.to_vector<int64_t>();
  } else {
    const std::vector<int32_t> g = groups.to_vector<int32_t>();
    d.space_groups.assign(g.begin(), g.end());
  }
  for (int64_t i = 0; i < d.size(); ++i)
    MAGMADNN_CHECK(d.space_groups[i] >= 1 && d.space_groups[i] <= 230, where, "sample ", i, " has space group ",
                   d.space_groups[i], ", outside 1..230");
  return d;
}

void save_spacegroup_dataset(const std::string& path, SpaceGroupDataset d, bool compress) {
  MAGMADNN_CHECK(static_cast<int64_t>(d.images.size()) == d.size() * d.sample_numel(), "save_spacegroup_dataset: ",
                 d.images.size(), " image bytes for ", d.size(), " samples of ", d.sample_numel());
  std::map<std::string, io::NpyArray> arrays;
  io::NpyArray& images = arrays["images"];  // uint8: the bytes are the values, moved in
  images.dtype = "u1";
  images.shape = {d.size(), kPatternChannels, d.image_size, d.image_size};
  images.bytes = std::move(d.images);
  arrays["space_groups"] = io::NpyArray::from_vector(d.space_groups, {d.size()});
  if (ends_with(path, ".npz")) {
    io::save_npz(path, arrays, compress);
    return;
  }
  std::filesystem::create_directories(path);
  for (const auto& [name, array] : arrays) io::save_npy((std::filesystem::path(path) / (name + ".npy")).string(), array);
}

}  // namespace magmadnn::spacegroup
