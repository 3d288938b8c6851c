// DistributedSampler: disjoint and complete shards for many dataset sizes and world sizes,
// padding vs dropping the remainder, per-epoch determinism, and the DataLoader's saved position
// resuming with exactly the next batch (with and without prefetch, across epochs).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>

#include "common/error_of.h"
#include "magmadnn/magmadnn.h"

using namespace magmadnn;
using namespace magmadnn::data;
using magmadnn::testing::error_of;

namespace {
std::shared_ptr<TensorDataset> numbered(int64_t n) {
  std::vector<float> in(static_cast<size_t>(n));
  std::vector<int64_t> tg(static_cast<size_t>(n));
  std::iota(in.begin(), in.end(), 0.0f);
  std::iota(tg.begin(), tg.end(), int64_t{0});
  return std::make_shared<TensorDataset>(from_vector<float>(in, {n, 1}), from_vector<int64_t>(tg, {n}));
}

std::vector<int64_t> ids(const Example& e) {
  return e.target.contiguous().to_vector<int64_t>();
}

std::vector<int64_t> shard(int64_t n, int64_t R, int64_t r, ShardRemainder rem, int64_t epoch,
                           bool shuffle = true) {
  DistributedSampler s(n, DistributedSamplerOptions(R, r).seed(42).shuffle(shuffle).remainder(rem));
  s.set_epoch(epoch);
  return s.indices();
}
}  // namespace

TEST(DistributedSampler, PaddedShardsAreEqualAndCoverEveryIndex) {
  for (int64_t n : {0, 1, 2, 5, 9, 10, 11, 12, 100, 101}) {
    for (int64_t R : {1, 2, 3, 4, 7}) {
      SCOPED_TRACE("n=" + std::to_string(n) + " R=" + std::to_string(R));
      std::map<int64_t, int> count;
      const int64_t per = (n + R - 1) / R;
      for (int64_t r = 0; r < R; ++r) {
        auto s = shard(n, R, r, ShardRemainder::Pad, 3);
        ASSERT_EQ(static_cast<int64_t>(s.size()), per);
        for (int64_t i : s) ++count[i];
      }
      ASSERT_EQ(static_cast<int64_t>(count.size()), n);  // complete
      // Each index once, except the per*R - n padding entries that repeat the permutation's start.
      int64_t extra = 0;
      for (auto& [i, c] : count) {
        ASSERT_GE(i, 0);
        ASSERT_LT(i, n);
        extra += c - 1;
      }
      EXPECT_EQ(extra, per * R - n);
      if (n >= R) {
        for (auto& [i, c] : count) EXPECT_LE(c, 2);
      }
    }
  }
}

TEST(DistributedSampler, DroppedShardsAreDisjointAndEqual) {
  for (int64_t n : {0, 1, 5, 9, 10, 11, 100, 101}) {
    for (int64_t R : {1, 2, 3, 4, 7}) {
      SCOPED_TRACE("n=" + std::to_string(n) + " R=" + std::to_string(R));
      std::vector<int64_t> all;
      for (int64_t r = 0; r < R; ++r) {
        auto s = shard(n, R, r, ShardRemainder::Drop, 1);
        ASSERT_EQ(static_cast<int64_t>(s.size()), n / R);
        all.insert(all.end(), s.begin(), s.end());
      }
      std::sort(all.begin(), all.end());
      EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end());  // disjoint
      EXPECT_EQ(static_cast<int64_t>(all.size()), (n / R) * R);          // only n % R dropped
    }
  }
}

TEST(DistributedSampler, PyTorchLayoutWithoutShuffle) {
  // PyTorch: indices = [0..9] + [0, 1] padding; rank r takes indices[r::3].
  EXPECT_EQ(shard(10, 3, 0, ShardRemainder::Pad, 0, false), (std::vector<int64_t>{0, 3, 6, 9}));
  EXPECT_EQ(shard(10, 3, 1, ShardRemainder::Pad, 0, false), (std::vector<int64_t>{1, 4, 7, 0}));
  EXPECT_EQ(shard(10, 3, 2, ShardRemainder::Pad, 0, false), (std::vector<int64_t>{2, 5, 8, 1}));
  EXPECT_EQ(shard(10, 3, 2, ShardRemainder::Drop, 0, false), (std::vector<int64_t>{2, 5, 8}));
  EXPECT_EQ(shard(2, 4, 3, ShardRemainder::Pad, 0, false), (std::vector<int64_t>{1}));  // wraps twice
}

TEST(DistributedSampler, DeterministicPerEpochAndDifferentAcrossEpochs) {
  for (int64_t r = 0; r < 3; ++r)
    EXPECT_EQ(shard(50, 3, r, ShardRemainder::Pad, 4), shard(50, 3, r, ShardRemainder::Pad, 4));
  EXPECT_NE(shard(50, 3, 0, ShardRemainder::Pad, 0), shard(50, 3, 0, ShardRemainder::Pad, 1));
  EXPECT_NE(epoch_permutation(50, 42, 0), epoch_permutation(50, 42, 1));
  EXPECT_NE(epoch_permutation(50, 42, 0), epoch_permutation(50, 43, 0));
  auto p = epoch_permutation(50, 42, 7);
  std::sort(p.begin(), p.end());
  for (int64_t i = 0; i < 50; ++i) EXPECT_EQ(p[i], i);
  // The epoch set with set_epoch is the one indices() uses.
  DistributedSampler s(50, DistributedSamplerOptions(3, 1).seed(42));
  s.set_epoch(9);
  EXPECT_EQ(s.epoch(), 9);
  EXPECT_EQ(s.indices(), s.indices(9));
  const auto all = s.indices(9);
  EXPECT_EQ(s.indices(SamplerPosition{9, 5}), std::vector<int64_t>(all.begin() + 5, all.end()));
}

TEST(DistributedSampler, Errors) {
  EXPECT_EQ(error_of([] { DistributedSampler(10, DistributedSamplerOptions(0, 0)); }),
            "DistributedSampler: num_replicas must be at least 1, got 0");
  EXPECT_EQ(error_of([] { DistributedSampler(10, DistributedSamplerOptions(2, 2)); }),
            "DistributedSampler: rank 2 is out of range for 2 replicas");
  EXPECT_EQ(error_of([] {
              DistributedSampler(10, DistributedSamplerOptions(2, 0)).indices(SamplerPosition{0, 6});
            }),
            "DistributedSampler: position index 6 is out of range for an epoch of 5 samples");
}

TEST(DataLoaderSampler, LoaderShardsMatchTheSamplerAndDropOption) {
  for (auto rem : {ShardRemainder::Pad, ShardRemainder::Drop}) {
    for (int64_t r = 0; r < 3; ++r) {
      DataLoader loader(
          numbered(11),
          DataLoaderOptions(4).seed(42).num_shards(3).shard(r).shard_remainder(rem).prefetch(false));
      loader.set_epoch(2);
      std::vector<int64_t> seen;
      for (const Example& b : loader) {
        auto v = ids(b);
        seen.insert(seen.end(), v.begin(), v.end());
      }
      EXPECT_EQ(seen, shard(11, 3, r, rem, 2));
      EXPECT_EQ(loader.num_samples(), rem == ShardRemainder::Pad ? 4 : 3);
    }
  }
}

// Runs `total` batches through a loader and collects them; the loader's state is saved after
// batch `save_after` (as a checkpoint written after a training step would).
TEST(DataLoaderSampler, SavedPositionResumesWithTheNextBatch) {
  for (bool prefetch : {false, true}) {
    for (int64_t save_after : {0, 1, 3, 4, 6}) {  // 4 batches per epoch (10 samples, batch 3 -> 3,3,3,1)
      SCOPED_TRACE("prefetch=" + std::to_string(prefetch) + " save_after=" + std::to_string(save_after));
      auto opts = DataLoaderOptions(3).prefetch(prefetch).num_shards(1);
      manual_seed(3);
      DataLoader full(numbered(10), opts);
      std::vector<std::vector<int64_t>> reference;
      std::map<std::string, Tensor> saved;
      for (int epoch = 0; epoch < 3; ++epoch)
        for (const Example& b : full) {
          reference.push_back(ids(b));
          if (static_cast<int64_t>(reference.size()) == save_after + 1) {
            saved = full.state_dict();
            for (auto& [k, v] : saved) v = v.clone();
          }
        }
      // A fresh loader with another seed: load_state_dict restores the seed and the position.
      manual_seed(99);
      DataLoader resumed(numbered(10), opts);
      resumed.load_state_dict(saved);
      std::vector<std::vector<int64_t>> rest;
      while (static_cast<int64_t>(rest.size()) + save_after + 1 < static_cast<int64_t>(reference.size()))
        for (const Example& b : resumed) rest.push_back(ids(b));
      ASSERT_EQ(rest.size(), reference.size() - save_after - 1);
      for (size_t i = 0; i < rest.size(); ++i)
        EXPECT_EQ(rest[i], reference[save_after + 1 + i]) << "batch " << i;
    }
  }
}

TEST(DataLoaderSampler, PositionAdvancesPerBatchAndWrapsAtTheEnd) {
  DataLoader loader(numbered(10), DataLoaderOptions(4).seed(1).prefetch(false).drop_last(true));
  EXPECT_EQ(loader.position(), (SamplerPosition{0, 0}));
  auto it = loader.begin();
  EXPECT_EQ(loader.position(), (SamplerPosition{0, 4}));
  ++it;
  EXPECT_EQ(loader.position(), (SamplerPosition{1, 0}));  // drop_last: the epoch ends after 2 batches
  ++it;
  EXPECT_TRUE(it == loader.end());
  loader.set_position(SamplerPosition{5, 10});  // a finished epoch continues with the next
  EXPECT_EQ(loader.epoch(), 6);
  EXPECT_EQ(error_of([&] {
              loader.set_position(SamplerPosition{0, 11});
            }),
            "DataLoader: position (epoch 0, index 11) is out of range for an epoch of 10 samples");
}
