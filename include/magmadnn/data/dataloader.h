// DataLoader: iterates a Dataset in batches, `for (const Example& batch : loader)`.
// The order of an epoch is a pure function of (seed, epoch), so a run can be reproduced or
// resumed with set_epoch(); with prefetch a background thread assembles the next batch while
// the current one is in use. Sharding (num_shards/shard) gives each distributed rank a disjoint
// part of the same permutation through a DistributedSampler (data/sampler.h); position() /
// state_dict() record how far the run has read, so a resumed run continues with the next batch.
#pragma once

#include <cstdint>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "magmadnn/data/augment.h"
#include "magmadnn/data/dataset.h"
#include "magmadnn/data/sampler.h"

namespace magmadnn::data {

class DataLoaderOptions {
 public:
  DataLoaderOptions() = default;
  explicit DataLoaderOptions(int64_t batch_size) : batch_size_(batch_size) {}

  DataLoaderOptions& batch_size(int64_t v) {
    batch_size_ = v;
    return *this;
  }
  DataLoaderOptions& shuffle(bool v) {
    shuffle_ = v;
    return *this;
  }
  DataLoaderOptions& drop_last(bool v) {
    drop_last_ = v;
    return *this;
  }
  // Unset: drawn from magmadnn::default_generator() when the DataLoader is constructed, so
  // manual_seed() makes the order reproducible.
  DataLoaderOptions& seed(uint64_t v) {
    seed_ = v;
    return *this;
  }
  DataLoaderOptions& prefetch(bool v) {
    prefetch_ = v;
    return *this;
  }
  // Applied to every batch (in the prefetch thread when prefetching).
  DataLoaderOptions& transform(std::function<Example(Example)> f) {
    transform_ = std::move(f);
    return *this;
  }
  // Random augmentation of every batch's input (data/augment.h), before the transform; sample i's
  // choices depend only on (the loader's seed, the epoch, the sample's index in the data set).
  DataLoaderOptions& augment(std::shared_ptr<const Augmentation> a) {
    augment_ = std::move(a);
    return *this;
  }
  // This loader sees only shard `shard` of `num_shards` (one per rank). By default the
  // permutation is padded by wrapping around so every shard has the same number of samples;
  // shard_remainder(ShardRemainder::Drop) drops the last dataset_size % num_shards instead.
  DataLoaderOptions& num_shards(int64_t v) {
    num_shards_ = v;
    return *this;
  }
  DataLoaderOptions& shard(int64_t v) {
    shard_ = v;
    return *this;
  }
  DataLoaderOptions& shard_remainder(ShardRemainder v) {
    shard_remainder_ = v;
    return *this;
  }
  // Batches (input and target) are copied into page-locked host memory
  // (cuda::pinned_host_allocator) after the transform, in the prefetch thread when prefetching,
  // so their copies to a CUDA device run asynchronously. Only useful when batches go to a CUDA
  // device; the DataLoader's constructor throws an Error when no CUDA device can be used.
  DataLoaderOptions& pin_memory(bool v) {
    pin_memory_ = v;
    return *this;
  }

  int64_t batch_size() const { return batch_size_; }
  bool shuffle() const { return shuffle_; }
  bool drop_last() const { return drop_last_; }
  const std::optional<uint64_t>& seed() const { return seed_; }
  bool prefetch() const { return prefetch_; }
  const std::function<Example(Example)>& transform() const { return transform_; }
  const std::shared_ptr<const Augmentation>& augment() const { return augment_; }
  int64_t num_shards() const { return num_shards_; }
  int64_t shard() const { return shard_; }
  ShardRemainder shard_remainder() const { return shard_remainder_; }
  bool pin_memory() const { return pin_memory_; }

 private:
  int64_t batch_size_ = 128;
  bool shuffle_ = true;
  bool drop_last_ = false;
  std::optional<uint64_t> seed_;
  bool prefetch_ = true;
  std::function<Example(Example)> transform_;
  std::shared_ptr<const Augmentation> augment_;
  int64_t num_shards_ = 1;
  int64_t shard_ = 0;
  ShardRemainder shard_remainder_ = ShardRemainder::Pad;
  bool pin_memory_ = false;
};

class DataLoader {
  struct Epoch;  // the batches of one pass and, with prefetch, its worker thread

 public:
  DataLoader(std::shared_ptr<Dataset> dataset, DataLoaderOptions options = DataLoaderOptions());
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Input iterator over one epoch. It owns that epoch: leaving the loop early (break, exception)
  // destroys it and stops the prefetch thread.
  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Example;
    using difference_type = std::ptrdiff_t;
    using pointer = const Example*;
    using reference = const Example&;

    Iterator() = default;
    const Example& operator*() const { return current_; }
    const Example* operator->() const { return &current_; }
    Iterator& operator++();
    bool operator==(const Iterator& o) const { return done() == o.done() && (done() || index_ == o.index_); }
    bool operator!=(const Iterator& o) const { return !(*this == o); }
    int64_t batch_index() const { return index_; }

   private:
    friend class DataLoader;
    explicit Iterator(std::shared_ptr<Epoch> epoch);
    bool done() const;
    std::shared_ptr<Epoch> epoch_;
    int64_t index_ = 0;
    Example current_;
  };

  // Starts the next epoch (see set_epoch) and returns its first batch. After set_position() the
  // epoch starts at the saved sample instead of its beginning (its batches are counted from there).
  Iterator begin();
  Iterator end() { return Iterator(); }

  // The epoch the next begin() iterates; afterwards it advances by one.
  void set_epoch(int64_t epoch);
  int64_t epoch() const { return next_epoch_; }
  int64_t num_batches() const;  // of a whole epoch
  int64_t num_samples() const;  // per epoch, for this shard
  uint64_t seed() const { return seed_; }

  // The position after the last batch handed out: (epoch, samples of it consumed), or
  // (next epoch, 0) once an epoch is finished. A checkpoint written after a training step saves
  // it; set_position() on a fresh loader (same dataset, seed and options) makes the next begin()
  // continue with exactly the batch that would have come next.
  SamplerPosition position() const { return *position_; }
  void set_position(const SamplerPosition& position);
  // The position and the seed as int64 scalars {"epoch", "index", "seed"}, for checkpoints;
  // load_state_dict restores both (so a loader seeded from the generator resumes its order too).
  std::map<std::string, Tensor> state_dict() const;
  void load_state_dict(const std::map<std::string, Tensor>& state);
  const DistributedSampler& sampler() const { return sampler_; }
  const DataLoaderOptions& options() const { return options_; }
  const std::shared_ptr<Dataset>& dataset() const { return dataset_; }
  // The sample indices of one epoch for this shard, in order (before batching).
  std::vector<int64_t> epoch_indices(int64_t epoch) const;

 private:
  std::shared_ptr<Dataset> dataset_;
  DataLoaderOptions options_;
  uint64_t seed_ = 0;
  DistributedSampler sampler_;
  int64_t next_epoch_ = 0;
  int64_t resume_index_ = 0;                   // first sample of the next begin()'s epoch
  std::shared_ptr<SamplerPosition> position_;  // shared with the running epoch, which advances it
};

}  // namespace magmadnn::data
