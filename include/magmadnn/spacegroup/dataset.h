// Space-group data sets: diffraction layer images of random crystals with their space-group
// numbers, generated in parallel (the same set for a seed whatever the thread count) and stored
// as NumPy files: a folder (images.npy uint8 (N, 6, S, S), space_groups.npy int64 (N,)) or one
// .npz archive with the same two arrays.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "magmadnn/core/tensor.h"
#include "magmadnn/spacegroup/diffraction.h"

namespace magmadnn::spacegroup {

struct SpaceGroupDataset {
  int64_t image_size = 0;            // S
  std::vector<uint8_t> images;       // (N, 6, S, S); 255 stands for 1.0
  std::vector<int64_t> space_groups;  // (N,), 1..230

  int64_t size() const { return static_cast<int64_t>(space_groups.size()); }
  int64_t sample_numel() const { return kPatternChannels * image_size * image_size; }
  // The images at `rows` (in that order) as float32 (n, 6, S, S) in [0, 1]; the range overloads
  // take rows [begin, end) or all of them.
  Tensor images_tensor(const std::vector<int64_t>& rows) const;
  Tensor images_tensor(int64_t begin, int64_t end) const;
  Tensor images_tensor() const { return images_tensor(0, size()); }
  // Class labels under `target` as int64: of the samples at `rows`, or (N,) of all.
  Tensor labels_tensor(Target target, const std::vector<int64_t>& rows) const;
  Tensor labels_tensor(Target target) const;
  // The samples at `rows`, in that order.
  SpaceGroupDataset take(const std::vector<int64_t>& rows) const;
};

struct GenerateOptions {
  std::vector<int> groups;         // space-group numbers to draw from; empty: all 230
  int64_t samples_per_group = 100;
  uint64_t seed = 0;
  CrystalOptions crystal;
  PatternOptions pattern;
  // Each triclinic, monoclinic and orthorhombic crystal in a random one of its six axis settings
  // (random_setting), as crystals arrive from experiments; false: the standard setting.
  bool random_settings = false;
};

// samples_per_group crystals of every group, interleaved (sample i is of groups[i % G]); sample i
// draws from a generator seeded by (seed, i) alone. Throws Error for unknown groups or options.
SpaceGroupDataset generate_spacegroup_dataset(const GenerateOptions& options);

// Loads a folder or a .npz archive (decided by: is `path` a directory, else does it end in .npz).
// Validates dtypes, shapes (6 square channels), equal N and numbers in 1..230; problems throw
// one line "load_spacegroup_dataset: <path>: <what>".
SpaceGroupDataset load_spacegroup_dataset(const std::string& path);

// Writes a folder (created if missing; each file atomic) or, when `path` ends in .npz, one archive
// (atomic; deflate-compressed when `compress`). Pass the set with std::move when it is not needed
// afterwards: its image bytes then go to the writer without a copy.
void save_spacegroup_dataset(const std::string& path, SpaceGroupDataset data, bool compress = false);

}  // namespace magmadnn::spacegroup
