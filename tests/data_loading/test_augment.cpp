// Data augmentation: every RandomCrop output is a window of the zero-padded image at an offset in
// range, offsets and flips are uniformly distributed, a sample's choices depend only on (seed,
// epoch, data set index) (not on the batch it is in, the shard, the batch size or prefetching),
// Compose keeps each step's choices, --augment's parser, and errors by message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <numeric>

#include "common/error_of.h"
#include "magmadnn/magmadnn.h"

using namespace magmadnn;
using namespace magmadnn::data;
using ::testing::HasSubstr;
using magmadnn::testing::error_of;

namespace {

// n images (C, H, W) of distinct random values in [1, 2) (never the fill 0), so any window or
// mirror identifies itself.
Tensor random_images(int64_t n, int64_t c, int64_t h, int64_t w, uint64_t seed = 3) {
  Generator gen(seed);
  std::vector<double> v(static_cast<size_t>(n * c * h * w));
  for (double& x : v) x = 1.0 + static_cast<double>(gen.next_u64() >> 11) * 0x1p-53;
  return from_vector<double>(v, {n, c, h, w});
}

AugmentDraws draws_for(int64_t n, uint64_t seed = 7, int64_t epoch = 0, int64_t first_index = 0) {
  AugmentDraws d;
  d.seed = seed;
  d.epoch = epoch;
  d.indices.resize(static_cast<size_t>(n));
  std::iota(d.indices.begin(), d.indices.end(), first_index);
  return d;
}

// x (C, H, W) zero-padded by p, the (h, w) window at (oy, ox) of the padded image.
std::vector<double> window(const std::vector<double>& x, int64_t c, int64_t H, int64_t W, int64_t p, int64_t oy,
                           int64_t ox, int64_t h, int64_t w) {
  std::vector<double> out;
  for (int64_t k = 0; k < c; ++k)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t xx = 0; xx < w; ++xx) {
        const int64_t sy = y + oy - p, sx = xx + ox - p;
        out.push_back(sy >= 0 && sy < H && sx >= 0 && sx < W ? x[(k * H + sy) * W + sx] : 0.0);
      }
  return out;
}

std::vector<double> sample(const Tensor& batch, int64_t i) { return batch.select(0, i).contiguous().to_vector<double>(); }

// The offset (oy, ox) at which `out` is a window of the padded `in`; (-1, -1) when there is none.
std::pair<int64_t, int64_t> find_offset(const std::vector<double>& in, const std::vector<double>& out, int64_t c,
                                        int64_t H, int64_t W, int64_t p, int64_t h, int64_t w) {
  for (int64_t oy = 0; oy <= H + 2 * p - h; ++oy)
    for (int64_t ox = 0; ox <= W + 2 * p - w; ++ox)
      if (window(in, c, H, W, p, oy, ox, h, w) == out) return {oy, ox};
  return {-1, -1};
}

std::vector<double> mirrored(const std::vector<double>& x, int64_t c, int64_t h, int64_t w, bool horizontal) {
  std::vector<double> out(x.size());
  for (int64_t k = 0; k < c; ++k)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t xx = 0; xx < w; ++xx)
        out[(k * h + y) * w + xx] =
            x[(k * h + (horizontal ? y : h - 1 - y)) * w + (horizontal ? w - 1 - xx : xx)];
  return out;
}

}  // namespace

TEST(RandomCrop, EveryOutputIsAWindowOfThePaddedImageAndOffsetsAreUniform) {
  const int64_t n = 1500, c = 2, H = 6, W = 5, p = 2;
  const Tensor x = random_images(n, c, H, W);
  const Tensor out = RandomCrop(H, W, p)(x, draws_for(n));
  ASSERT_EQ(out.shape(), Shape({n, c, H, W}));
  std::map<std::pair<int64_t, int64_t>, int64_t> counts;
  for (int64_t i = 0; i < n; ++i) {
    const auto off = find_offset(sample(x, i), sample(out, i), c, H, W, p, H, W);
    ASSERT_GE(off.first, 0) << "sample " << i << " is no window of its padded image";
    ++counts[off];
  }
  // (2p + 1)^2 = 25 offsets, 60 expected each: every one occurs, none more than twice as often.
  EXPECT_EQ(counts.size(), 25u);
  for (const auto& [off, k] : counts) {
    EXPECT_GT(k, 25) << off.first << "," << off.second;
    EXPECT_LT(k, 120) << off.first << "," << off.second;
  }
}

TEST(RandomCrop, SmallerWindowsWithoutPaddingAndFloat32) {
  const int64_t n = 200, c = 3, H = 7, W = 9;
  const Tensor x = random_images(n, c, H, W);
  const Tensor out = RandomCrop(4, 5)(x.to(kFloat32), draws_for(n, 11));
  ASSERT_EQ(out.shape(), Shape({n, c, 4, 5}));
  ASSERT_EQ(out.dtype(), kFloat32);
  std::set<std::pair<int64_t, int64_t>> seen;
  for (int64_t i = 0; i < n; ++i) {
    const auto in = x.to(kFloat32).to(kFloat64).select(0, i).contiguous().to_vector<double>();
    const auto off = find_offset(in, out.to(kFloat64).select(0, i).contiguous().to_vector<double>(), c, H, W, 0, 4, 5);
    ASSERT_GE(off.first, 0) << "sample " << i;
    seen.insert(off);
  }
  EXPECT_EQ(seen.size(), 4u * 5u);  // every offset of [0, 3] x [0, 4]
}

TEST(RandomCrop, FillValueAndIdentityWithoutPadding) {
  const Tensor x = random_images(4, 1, 3, 3);
  EXPECT_EQ(RandomCrop(3, 3)(x, draws_for(4)).to_vector<double>(), x.to_vector<double>());
  // Padding 3 around a 3x3 image, 3x3 crops: some crop lies wholly in the padding, all -1.
  const Tensor many = random_images(400, 1, 3, 3);
  const Tensor out = RandomCrop(3, 3, 3, -1.0)(many, draws_for(400));
  int64_t all_fill = 0;
  for (int64_t i = 0; i < 400; ++i) {
    const auto v = sample(out, i);
    for (double e : v) EXPECT_TRUE(e == -1.0 || (e >= 1.0 && e < 2.0));
    all_fill += std::all_of(v.begin(), v.end(), [](double e) { return e == -1.0; });
  }
  EXPECT_GT(all_fill, 0);
  EXPECT_LT(all_fill, 400);
}

TEST(RandomFlip, FlipsWithProbabilityP) {
  const int64_t n = 2000, c = 2, h = 3, w = 4;
  const Tensor x = random_images(n, c, h, w);
  for (bool horizontal : {true, false}) {
    for (double p : {0.0, 0.3, 1.0}) {
      const Tensor out = horizontal ? RandomHorizontalFlip(p)(x, draws_for(n)) : RandomVerticalFlip(p)(x, draws_for(n));
      int64_t flipped = 0;
      for (int64_t i = 0; i < n; ++i) {
        const auto in = sample(x, i), o = sample(out, i);
        if (o == mirrored(in, c, h, w, horizontal))
          ++flipped;
        else
          ASSERT_EQ(o, in) << "sample " << i << " is neither the image nor its mirror";
      }
      // Binomial(2000, p): within 5 standard deviations (exact at p = 0 and 1).
      EXPECT_NEAR(flipped, p * n, 5 * std::sqrt(n * p * (1 - p)) + 1e-9) << (horizontal ? "horizontal" : "vertical");
    }
  }
}

TEST(Augment, ChoicesDependOnSeedEpochAndIndexOnly) {
  const int64_t n = 64;
  const Tensor x = random_images(n, 1, 8, 8);
  const RandomCrop crop(8, 8, 3);
  const Tensor all = crop(x, draws_for(n, 5, 2));
  // The same samples, alone or in another batch, get the same crops.
  for (int64_t i : {0, 17, 63}) {
    AugmentDraws one = draws_for(1, 5, 2, i);
    EXPECT_EQ(sample(crop(x.slice(0, i, i + 1), one), 0), sample(all, i));
  }
  auto differ = [&](const Tensor& other) {
    int64_t k = 0;
    for (int64_t i = 0; i < n; ++i) k += sample(other, i) != sample(all, i);
    return k;
  };
  EXPECT_EQ(differ(crop(x, draws_for(n, 5, 2))), 0);
  EXPECT_GT(differ(crop(x, draws_for(n, 6, 2))), n / 2);  // another seed
  EXPECT_GT(differ(crop(x, draws_for(n, 5, 3))), n / 2);  // another epoch
}

TEST(Augment, ComposeKeepsEachStepsChoices) {
  const int64_t n = 300;
  const Tensor x = random_images(n, 1, 5, 5);
  auto crop = std::make_shared<RandomCrop>(5, 5, 2);
  auto flip = std::make_shared<RandomHorizontalFlip>(0.5);
  const Tensor cropped = Compose({crop})(x, draws_for(n));
  const Tensor both = Compose({crop, flip})(x, draws_for(n));
  int64_t flipped = 0;
  for (int64_t i = 0; i < n; ++i) {
    const auto c = sample(cropped, i), b = sample(both, i);
    if (b != c) {
      ASSERT_EQ(b, mirrored(c, 1, 5, 5, true)) << "sample " << i;
      ++flipped;
    }
  }
  EXPECT_GT(flipped, 100);
  EXPECT_LT(flipped, 200);
  // The flip draws from its own stream, not the crop's words.
  EXPECT_EQ(Compose({crop, flip}).describe(), "Compose(RandomCrop(size=5x5, padding=2), RandomHorizontalFlip(p=0.5))");
}

TEST(Augment, DataLoaderGivesEachSampleTheSameChoicesWhateverTheBatchingShardOrPrefetch) {
  // Sample i: a random 1x6x6 image; target i identifies it in every batch.
  const int64_t n = 50;
  std::vector<int64_t> ids(n);
  std::iota(ids.begin(), ids.end(), 0);
  auto ds = std::make_shared<TensorDataset>(random_images(n, 1, 6, 6).to(kFloat32), from_vector<int64_t>(ids, {n}));
  auto aug = std::make_shared<Compose>(std::vector<std::shared_ptr<const Augmentation>>{
      std::make_shared<RandomCrop>(6, 6, 2), std::make_shared<RandomHorizontalFlip>()});
  auto images = [&](DataLoaderOptions o, int64_t epoch) {
    DataLoader loader(ds, o.seed(42).augment(aug));
    loader.set_epoch(epoch);
    std::map<int64_t, std::vector<float>> by_id;
    for (const Example& b : loader)
      for (int64_t k = 0; k < b.target.size(0); ++k)
        by_id[b.target.to_vector<int64_t>()[k]] = b.input.select(0, k).contiguous().to_vector<float>();
    return by_id;
  };
  const auto reference = images(DataLoaderOptions(8), 1);
  ASSERT_EQ(reference.size(), static_cast<size_t>(n));
  EXPECT_EQ(images(DataLoaderOptions(13).prefetch(false), 1), reference);
  auto sharded = images(DataLoaderOptions(4).num_shards(2).shard(0), 1);
  for (const auto& [id, img] : images(DataLoaderOptions(4).num_shards(2).shard(1), 1)) sharded[id] = img;
  EXPECT_EQ(sharded, reference);
  // Another epoch augments differently; without augmentation the images are the originals.
  int64_t changed = 0;
  for (const auto& [id, img] : images(DataLoaderOptions(8), 2)) changed += img != reference.at(id);
  EXPECT_GT(changed, n / 2);
}

TEST(Augment, ResumedLoaderDrawsTheSameAugmentations) {
  const int64_t n = 40;
  auto ds = std::make_shared<TensorDataset>(random_images(n, 3, 4, 4).to(kFloat32), zeros({n}, kInt64));
  auto aug = parse_augmentation("crop:1,flip,vflip", 4, 4);
  DataLoader full(ds, DataLoaderOptions(6).seed(9).augment(aug));
  std::vector<std::vector<float>> batches;
  for (const Example& b : full) batches.push_back(b.input.to_vector<float>());
  DataLoader resumed(ds, DataLoaderOptions(6).seed(9).augment(aug));
  resumed.set_position(SamplerPosition{0, 18});  // after three batches
  size_t k = 3;
  for (const Example& b : resumed) EXPECT_EQ(b.input.to_vector<float>(), batches.at(k++));
  EXPECT_EQ(k, batches.size());
}

TEST(Augment, ParseSpec) {
  EXPECT_EQ(parse_augmentation("", 28, 28), nullptr);
  EXPECT_EQ(parse_augmentation("none", 28, 28), nullptr);
  EXPECT_EQ(parse_augmentation("flip", 28, 28)->describe(), "RandomHorizontalFlip(p=0.5)");
  EXPECT_EQ(parse_augmentation("crop:4,flip", 32, 30)->describe(),
            "Compose(RandomCrop(size=32x30, padding=4), RandomHorizontalFlip(p=0.5))");
  EXPECT_EQ(parse_augmentation("vflip", 8, 8)->describe(), "RandomVerticalFlip(p=0.5)");
  EXPECT_THAT(error_of([] { parse_augmentation("crop", 28, 28); }), HasSubstr("unknown augmentation 'crop'"));
  EXPECT_THAT(error_of([] { parse_augmentation("crop:x", 28, 28); }),
              HasSubstr("--augment crop:x: 'crop:P' needs a padding P from 0 to 28, got 'x'"));
  EXPECT_THAT(error_of([] { parse_augmentation("crop:-1", 28, 28); }), HasSubstr("got '-1'"));
  EXPECT_THAT(error_of([] { parse_augmentation("crop:4x", 28, 28); }), HasSubstr("got '4x'"));
  EXPECT_THAT(error_of([] { parse_augmentation("flip,,crop:2", 28, 28); }), HasSubstr("unknown augmentation ''"));
  EXPECT_THAT(error_of([] { parse_augmentation("rotate", 28, 28); }),
              HasSubstr("expected a comma-separated list of crop:P, flip, vflip, transpose, sign; or none"));
}

TEST(Augment, ErrorsNameTheOpAndShapes) {
  EXPECT_THAT(error_of([] { RandomCrop(8, 8, 1)(random_images(2, 1, 5, 5), draws_for(2)); }),
              HasSubstr("RandomCrop(size=8x8, padding=1): images of shape (2, 1, 5, 5) padded by 1 are smaller"));
  EXPECT_THAT(error_of([] { RandomCrop(2, 2)(zeros({2, 5, 5}), draws_for(2)); }),
              HasSubstr("RandomCrop: expected a batch of images (N, C, H, W), got shape (2, 5, 5)"));
  EXPECT_THAT(error_of([] { RandomHorizontalFlip()(zeros({2, 1, 5, 5}, kInt64), draws_for(2)); }),
              HasSubstr("RandomHorizontalFlip: expected a float32 or float64 batch"));
  EXPECT_THAT(error_of([] { RandomVerticalFlip()(zeros({3, 1, 5, 5}), draws_for(2)); }),
              HasSubstr("RandomVerticalFlip: 2 sample indices for a batch of shape (3, 1, 5, 5)"));
  EXPECT_THAT(error_of([] { RandomHorizontalFlip(1.5); }), HasSubstr("p must be in [0, 1], got 1.5"));
  EXPECT_THAT(error_of([] { RandomCrop(0, 3); }), HasSubstr("size must be positive, got 0x3"));
  EXPECT_THAT(error_of([] { RandomCrop(3, 3, -2); }), HasSubstr("padding must be non-negative"));
}

TEST(Augment, FlipsAndTransposeGenerateTheEightSymmetriesOfASquare) {
  const int64_t n = 800, s = 4;
  const Tensor one = random_images(1, 1, s, s);
  const Tensor x = one.expand({n, 1, s, s}).contiguous();  // the same image n times
  const Compose d4({std::make_shared<RandomHorizontalFlip>(), std::make_shared<RandomVerticalFlip>(),
                    std::make_shared<RandomTranspose>()});
  const Tensor out = d4(x, draws_for(n));
  // The eight images of the dihedral group, written out by index.
  const std::vector<double> v = one.to_vector<double>();
  auto at = [&](int64_t r, int64_t c) { return v[r * s + c]; };
  std::vector<std::vector<double>> group;
  for (int k = 0; k < 8; ++k) {
    std::vector<double> img;
    for (int64_t r = 0; r < s; ++r)
      for (int64_t c = 0; c < s; ++c) {
        int64_t rr = r, cc = c;
        if (k & 4) std::swap(rr, cc);      // transpose (applied last, so undone first)
        if (k & 2) rr = s - 1 - rr;        // vertical flip
        if (k & 1) cc = s - 1 - cc;        // horizontal flip
        img.push_back(at(rr, cc));
      }
    group.push_back(img);
  }
  std::vector<int64_t> counts(8, 0);
  for (int64_t i = 0; i < n; ++i) {
    const auto img = sample(out, i);
    const auto it = std::find(group.begin(), group.end(), img);
    ASSERT_NE(it, group.end()) << "sample " << i << " is no symmetry of the square";
    ++counts[it - group.begin()];
  }
  for (int k = 0; k < 8; ++k) EXPECT_GT(counts[k], 60) << k;  // 100 expected each
  EXPECT_THAT(error_of([] { RandomTranspose()(zeros({2, 1, 3, 4}), draws_for(2)); }),
              HasSubstr("RandomTranspose: expected square images, got shape (2, 1, 3, 4)"));
}

TEST(Augment, SignFlipNegatesWholeSamplesOfAnyShape) {
  const int64_t n = 1000;
  const Tensor x = random_images(n, 1, 1, 6).reshape({n, 6, 1});  // e.g. graph inputs (N, nodes, 1)
  const Tensor out = RandomSignFlip(0.25)(x, draws_for(n));
  ASSERT_EQ(out.shape(), x.shape());
  int64_t negated = 0;
  for (int64_t i = 0; i < n; ++i) {
    auto a = sample(x, i), b = sample(out, i);
    if (b != a) {
      for (auto& e : a) e = -e;
      ASSERT_EQ(b, a) << "sample " << i;
      ++negated;
    }
  }
  EXPECT_NEAR(negated, 250, 5 * std::sqrt(1000 * 0.25 * 0.75));
  EXPECT_EQ(parse_augmentation("sign,transpose", 4, 4)->describe(),
            "Compose(RandomSignFlip(p=0.5), RandomTranspose(p=0.5))");
}
