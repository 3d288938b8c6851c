// DistributedSampler (see data/sampler.h): the seeded per-epoch permutation and each rank's
// strided shard of it, PyTorch's layout (rank r takes positions r, r + R, r + 2R, ...).
#include "magmadnn/data/sampler.h"

#include <numeric>
#include <random>

#include "magmadnn/core/error.h"

namespace magmadnn::data {

namespace {
uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Uniform in [0, range) without the implementation-defined std::uniform_int_distribution, so
// the order is the same with every standard library.
uint64_t bounded(std::mt19937_64& eng, uint64_t range) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % range;
  uint64_t r;
  do r = eng();
  while (r >= limit);
  return r % range;
}
}  // namespace

std::vector<int64_t> epoch_permutation(int64_t n, uint64_t seed, int64_t epoch, bool shuffle) {
  MAGMADNN_CHECK(n >= 0, "epoch_permutation: n must be non-negative, got ", n);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  if (shuffle && n > 1) {
    std::mt19937_64 eng(splitmix64(seed ^ splitmix64(static_cast<uint64_t>(epoch))));
    for (int64_t i = n - 1; i > 0; --i)
      std::swap(order[i], order[bounded(eng, static_cast<uint64_t>(i) + 1)]);
  }
  return order;
}

DistributedSampler::DistributedSampler(int64_t dataset_size, const DistributedSamplerOptions& options)
    : dataset_size_(dataset_size), options_(options) {
  const int64_t R = options_.num_replicas();
  MAGMADNN_CHECK(dataset_size >= 0, "DistributedSampler: dataset size must be non-negative, got ",
                 dataset_size);
  MAGMADNN_CHECK(R >= 1, "DistributedSampler: num_replicas must be at least 1, got ", R);
  MAGMADNN_CHECK(options_.rank() >= 0 && options_.rank() < R, "DistributedSampler: rank ", options_.rank(),
                 " is out of range for ", R, " replicas");
  num_samples_ = options_.remainder() == ShardRemainder::Pad ? (dataset_size + R - 1) / R : dataset_size / R;
}

std::vector<int64_t> DistributedSampler::indices(int64_t epoch) const {
  const int64_t n = dataset_size_, R = options_.num_replicas();
  std::vector<int64_t> order = epoch_permutation(n, options_.seed(), epoch, options_.shuffle());
  if (R == 1) return order;  // padding and dropping change nothing with one replica
  std::vector<int64_t> mine;
  mine.reserve(static_cast<size_t>(num_samples_));
  // Position k * R + rank of the epoch; past n (padding only) it wraps to the permutation's start.
  for (int64_t k = 0; k < num_samples_; ++k) mine.push_back(order[(k * R + options_.rank()) % n]);
  return mine;
}

std::vector<int64_t> DistributedSampler::indices(const SamplerPosition& from) const {
  MAGMADNN_CHECK(from.index >= 0 && from.index <= num_samples_, "DistributedSampler: position index ",
                 from.index, " is out of range for an epoch of ", num_samples_, " samples");
  std::vector<int64_t> all = indices(from.epoch);
  all.erase(all.begin(), all.begin() + from.index);
  return all;
}

}  // namespace magmadnn::data
