// Random data augmentation of training batches: RandomCrop (with padding), RandomHorizontalFlip,
// RandomVerticalFlip and Compose, as torchvision's transforms of the same names, and
// RandomTranspose and RandomSignFlip for the symmetries of square lattices and of Ising spins. Each sample's
// choices are a pure function of (loader seed, epoch, the sample's index in the data set), drawn
// with Philox, so they do not depend on the batch size, the number of ranks a loader is sharded
// over, prefetching or the thread count, and a resumed run draws exactly what the uninterrupted
// one would have. A DataLoader applies one with DataLoaderOptions::augment().
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "magmadnn/core/tensor.h"

namespace magmadnn::data {

// The randomness of one batch: sample i of the batch is item indices[i] of the data set, in epoch
// `epoch` of a loader seeded with `seed`; `stream` separates the augmentations of a Compose.
struct AugmentDraws {
  uint64_t seed = 0;
  int64_t epoch = 0;
  std::vector<int64_t> indices;
  uint32_t stream = 0;

  // Four uniformly distributed 32-bit words for sample i of the batch.
  std::array<uint32_t, 4> words(int64_t i) const;
  // The same draws for the k-th augmentation of a Compose.
  AugmentDraws substream(uint32_t k) const;
};

// An augmentation maps a batch (N, C, H, W) of float32 or float64 CPU images to a new batch,
// sample i using draws.words(i). Augmentations are immutable and may be shared between loaders.
class Augmentation {
 public:
  virtual ~Augmentation() = default;
  virtual Tensor operator()(const Tensor& batch, const AugmentDraws& draws) const = 0;
  virtual std::string describe() const = 0;  // e.g. "RandomCrop(size=32x32, padding=4)"
};

// Pads each image by `padding` pixels of `fill` on every side, then cuts out a (height, width)
// window at a uniformly chosen position (torchvision's RandomCrop(size, padding, fill) with
// padding_mode "constant"). With padding 0 and the image's own size it returns the batch unchanged.
class RandomCrop : public Augmentation {
 public:
  RandomCrop(int64_t height, int64_t width, int64_t padding = 0, double fill = 0.0);
  Tensor operator()(const Tensor& batch, const AugmentDraws& draws) const override;
  std::string describe() const override;

 private:
  int64_t height_, width_, padding_;
  double fill_;
};

// The augmentations that transform each sample or leave it, by one coin of probability p per
// sample (draws.words(i)[0]): the flips, the transpose and the sign flip. describe() is "Name(p=P)".
class RandomPerSample : public Augmentation {
 public:
  double p() const { return p_; }
  std::string describe() const override;

 protected:
  RandomPerSample(const char* name, double p);  // checks p in [0, 1]
  bool chosen(const AugmentDraws& draws, int64_t i) const;  // sample i's coin
  const char* name() const { return name_; }

 private:
  const char* name_;
  double p_;
};

// Mirrors each image left-right (RandomHorizontalFlip) or top-bottom (RandomVerticalFlip) with
// probability p.
class RandomHorizontalFlip : public RandomPerSample {
 public:
  explicit RandomHorizontalFlip(double p = 0.5) : RandomPerSample("RandomHorizontalFlip", p) {}
  Tensor operator()(const Tensor& batch, const AugmentDraws& draws) const override;
};

class RandomVerticalFlip : public RandomPerSample {
 public:
  explicit RandomVerticalFlip(double p = 0.5) : RandomPerSample("RandomVerticalFlip", p) {}
  Tensor operator()(const Tensor& batch, const AugmentDraws& draws) const override;
};

// Swaps the two image axes (x[n, c, i, j] -> x[n, c, j, i]) with probability p; square images only.
// With the two flips it generates the eight symmetries of a square (the dihedral group D4).
class RandomTranspose : public RandomPerSample {
 public:
  explicit RandomTranspose(double p = 0.5) : RandomPerSample("RandomTranspose", p) {}
  Tensor operator()(const Tensor& batch, const AugmentDraws& draws) const override;
};

// Negates each sample (any shape (N, ...)) with probability p: the global spin flip s -> -s, a
// symmetry of Ising energies without a field.
class RandomSignFlip : public RandomPerSample {
 public:
  explicit RandomSignFlip(double p = 0.5) : RandomPerSample("RandomSignFlip", p) {}
  Tensor operator()(const Tensor& batch, const AugmentDraws& draws) const override;
};

// Applies its augmentations in order; the k-th draws from draws.substream(k), so adding one does
// not change the choices of those before it.
class Compose : public Augmentation {
 public:
  explicit Compose(std::vector<std::shared_ptr<const Augmentation>> steps);
  Tensor operator()(const Tensor& batch, const AugmentDraws& draws) const override;
  std::string describe() const override;
  const std::vector<std::shared_ptr<const Augmentation>>& steps() const { return steps_; }

 private:
  std::vector<std::shared_ptr<const Augmentation>> steps_;
};

// Parses the command line's --augment SPEC for images of (height, width): a comma-separated list
// of "crop:P" (RandomCrop to the image's size after padding P), "flip" (RandomHorizontalFlip),
// "vflip" (RandomVerticalFlip), "transpose" (RandomTranspose), "sign" (RandomSignFlip), e.g.
// "crop:4,flip". "none" or "" gives null. Errors name the spec.
std::shared_ptr<const Augmentation> parse_augmentation(const std::string& spec, int64_t height, int64_t width);

}  // namespace magmadnn::data
