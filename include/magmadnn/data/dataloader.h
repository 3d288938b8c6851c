// DataLoader: iterates a Dataset in batches, `for (const Example& batch : loader)`.
// The order of an epoch is a pure function of (seed, epoch), so a run can be reproduced or
// resumed with set_epoch(); with prefetch a background thread assembles the next batch while
// the current one is in use. Sharding (num_shards/shard) gives each distributed rank a disjoint
// part of the same permutation, like PyTorch's DistributedSampler.
#pragma once

#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <vector>

#include "magmadnn/data/dataset.h"

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
  // This loader sees only shard `shard` of `num_shards` (one per rank); the permutation is padded
  // by wrapping around so every shard has the same number of samples.
  DataLoaderOptions& num_shards(int64_t v) {
    num_shards_ = v;
    return *this;
  }
  DataLoaderOptions& shard(int64_t v) {
    shard_ = v;
    return *this;
  }

  int64_t batch_size() const { return batch_size_; }
  bool shuffle() const { return shuffle_; }
  bool drop_last() const { return drop_last_; }
  const std::optional<uint64_t>& seed() const { return seed_; }
  bool prefetch() const { return prefetch_; }
  const std::function<Example(Example)>& transform() const { return transform_; }
  int64_t num_shards() const { return num_shards_; }
  int64_t shard() const { return shard_; }

 private:
  int64_t batch_size_ = 128;
  bool shuffle_ = true;
  bool drop_last_ = false;
  std::optional<uint64_t> seed_;
  bool prefetch_ = true;
  std::function<Example(Example)> transform_;
  int64_t num_shards_ = 1;
  int64_t shard_ = 0;
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

  // Starts the next epoch (see set_epoch) and returns its first batch.
  Iterator begin();
  Iterator end() { return Iterator(); }

  // The epoch the next begin() iterates; afterwards it advances by one.
  void set_epoch(int64_t epoch) { next_epoch_ = epoch; }
  int64_t epoch() const { return next_epoch_; }
  int64_t num_batches() const;
  int64_t num_samples() const;  // per epoch, for this shard
  uint64_t seed() const { return seed_; }
  const DataLoaderOptions& options() const { return options_; }
  const std::shared_ptr<Dataset>& dataset() const { return dataset_; }
  // The sample indices of one epoch for this shard, in order (before batching).
  std::vector<int64_t> epoch_indices(int64_t epoch) const;

 private:
  std::shared_ptr<Dataset> dataset_;
  DataLoaderOptions options_;
  uint64_t seed_ = 0;
  int64_t next_epoch_ = 0;
};

}  // namespace magmadnn::data
