// DistributedSampler: the sample indices one rank reads in one epoch. Every rank computes the same
// seeded permutation of the dataset (a pure function of seed and epoch) and takes every
// num_replicas-th entry starting at its rank, so the ranks' shards are disjoint and together cover
// the epoch. The remainder (dataset size not divisible by num_replicas) is padded by repeating the
// permutation from its start (PyTorch's default: every rank gets the same number of samples) or
// dropped. The data layer knows nothing of dist: num_replicas and rank are plain numbers.
#pragma once

#include <cstdint>
#include <vector>

namespace magmadnn::data {

enum class ShardRemainder { Pad, Drop };

class DistributedSamplerOptions {
 public:
  DistributedSamplerOptions() = default;
  DistributedSamplerOptions(int64_t num_replicas, int64_t rank) : num_replicas_(num_replicas), rank_(rank) {}

  DistributedSamplerOptions& num_replicas(int64_t v) {
    num_replicas_ = v;
    return *this;
  }
  DistributedSamplerOptions& rank(int64_t v) {
    rank_ = v;
    return *this;
  }
  DistributedSamplerOptions& shuffle(bool v) {
    shuffle_ = v;
    return *this;
  }
  // Must be the same on every rank.
  DistributedSamplerOptions& seed(uint64_t v) {
    seed_ = v;
    return *this;
  }
  DistributedSamplerOptions& remainder(ShardRemainder v) {
    remainder_ = v;
    return *this;
  }

  int64_t num_replicas() const { return num_replicas_; }
  int64_t rank() const { return rank_; }
  bool shuffle() const { return shuffle_; }
  uint64_t seed() const { return seed_; }
  ShardRemainder remainder() const { return remainder_; }

 private:
  int64_t num_replicas_ = 1;
  int64_t rank_ = 0;
  bool shuffle_ = true;
  uint64_t seed_ = 0;
  ShardRemainder remainder_ = ShardRemainder::Pad;
};

// Where a run stands in its data: the epoch and how many of this rank's samples of that epoch
// have been consumed. Saved in a checkpoint, it lets a resumed run continue with the next batch.
struct SamplerPosition {
  int64_t epoch = 0;
  int64_t index = 0;
  bool operator==(const SamplerPosition& o) const { return epoch == o.epoch && index == o.index; }
  bool operator!=(const SamplerPosition& o) const { return !(*this == o); }
};

// The permutation of [0, n) for (seed, epoch): Fisher-Yates over a splitmix-seeded mt19937_64,
// identical with every standard library. The identity when shuffle is false.
std::vector<int64_t> epoch_permutation(int64_t n, uint64_t seed, int64_t epoch, bool shuffle = true);

class DistributedSampler {
 public:
  DistributedSampler(int64_t dataset_size,
                     const DistributedSamplerOptions& options = DistributedSamplerOptions());

  // The epoch indices() uses; call with the same value on every rank at the start of each epoch.
  void set_epoch(int64_t epoch) { epoch_ = epoch; }
  int64_t epoch() const { return epoch_; }

  int64_t dataset_size() const { return dataset_size_; }
  // Samples this rank reads per epoch: ceil(N / replicas) with padding, floor(N / replicas) when
  // dropping.
  int64_t num_samples() const { return num_samples_; }
  // num_samples() * num_replicas: the padded or truncated epoch length over all ranks.
  int64_t total_size() const { return num_samples_ * options_.num_replicas(); }
  const DistributedSamplerOptions& options() const { return options_; }

  // This rank's indices of the current epoch / of `epoch`, in order.
  std::vector<int64_t> indices() const { return indices(epoch_); }
  std::vector<int64_t> indices(int64_t epoch) const;
  // The rest of an epoch from a saved position: indices(p.epoch) without its first p.index.
  std::vector<int64_t> indices(const SamplerPosition& from) const;

 private:
  int64_t dataset_size_;
  DistributedSamplerOptions options_;
  int64_t num_samples_ = 0;
  int64_t epoch_ = 0;
};

}  // namespace magmadnn::data
