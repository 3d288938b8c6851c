// DataLoader (see data/dataloader.h). Each epoch's order is computed up front from
// (seed, epoch); with prefetch, a worker thread builds batches in that order into a queue of
// kPrefetchDepth, and any exception it hits is handed to the consumer at the batch it belongs to.
#include "magmadnn/data/dataloader.h"

#include <omp.h>

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <numeric>
#include <random>
#include <thread>

#include "magmadnn/autograd/autograd.h"
#include "magmadnn/core/rng.h"

namespace magmadnn::data {

namespace {
constexpr size_t kPrefetchDepth = 2;

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

struct DataLoader::Epoch {
  std::shared_ptr<Dataset> dataset;
  std::vector<int64_t> order;
  int64_t batch_size = 1;
  int64_t num_batches = 0;
  std::function<Example(Example)> transform;

  std::mutex mutex;
  std::condition_variable cv;
  std::deque<Example> ready;
  std::exception_ptr error;
  bool stop = false;
  std::thread worker;

  ~Epoch() {
    if (!worker.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop = true;
    }
    cv.notify_all();
    worker.join();
  }

  Example make(int64_t b) const {
    const int64_t begin = b * batch_size;
    const int64_t end = std::min<int64_t>(begin + batch_size, static_cast<int64_t>(order.size()));
    std::vector<int64_t> indices(order.begin() + begin, order.begin() + end);
    Example e = dataset->get_batch(indices);
    if (transform) e = transform(std::move(e));
    return e;
  }

  void start_worker() {
    worker = std::thread([this] {
      // The consumer's thread owns the cores for compute; one thread is plenty for copying.
      omp_set_num_threads(1);
      autograd::NoGradGuard no_grad;
      for (int64_t b = 0; b < num_batches; ++b) {
        {
          std::unique_lock<std::mutex> lock(mutex);
          cv.wait(lock, [&] { return stop || ready.size() < kPrefetchDepth; });
          if (stop) return;
        }
        try {
          Example e = make(b);
          std::lock_guard<std::mutex> lock(mutex);
          ready.push_back(std::move(e));
        } catch (...) {
          std::lock_guard<std::mutex> lock(mutex);
          error = std::current_exception();
          cv.notify_all();
          return;
        }
        cv.notify_all();
      }
    });
  }

  // Batch b; batches are requested in order.
  Example next(int64_t b) {
    if (!worker.joinable()) {
      autograd::NoGradGuard no_grad;
      return make(b);
    }
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait(lock, [&] { return !ready.empty() || error; });
    if (ready.empty()) std::rethrow_exception(error);
    Example e = std::move(ready.front());
    ready.pop_front();
    lock.unlock();
    cv.notify_all();
    return e;
  }
};

DataLoader::Iterator::Iterator(std::shared_ptr<Epoch> epoch) : epoch_(std::move(epoch)) {
  if (epoch_->num_batches == 0) {
    epoch_.reset();
    return;
  }
  current_ = epoch_->next(0);
}

bool DataLoader::Iterator::done() const {
  return !epoch_ || index_ >= epoch_->num_batches;
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  MAGMADNN_CHECK(!done(), "DataLoader::Iterator: incremented past the end of the epoch");
  if (index_ + 1 >= epoch_->num_batches) {
    // Finished: release the batch and the epoch (joins the worker, which is done by now).
    ++index_;
    current_ = Example();
    epoch_.reset();
    return *this;
  }
  current_ = epoch_->next(index_ + 1);
  ++index_;
  return *this;
}

DataLoader::DataLoader(std::shared_ptr<Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  MAGMADNN_CHECK(dataset_ != nullptr, "DataLoader: the dataset is null");
  MAGMADNN_CHECK(options_.batch_size() >= 1, "DataLoader: batch_size must be at least 1, got ",
                 options_.batch_size());
  MAGMADNN_CHECK(options_.num_shards() >= 1, "DataLoader: num_shards must be at least 1, got ",
                 options_.num_shards());
  MAGMADNN_CHECK(options_.shard() >= 0 && options_.shard() < options_.num_shards(), "DataLoader: shard ",
                 options_.shard(), " is out of range for ", options_.num_shards(), " shards");
  seed_ = options_.seed() ? *options_.seed() : default_generator().next_u64();
}

DataLoader::~DataLoader() = default;

int64_t DataLoader::num_samples() const {
  const int64_t n = dataset_->size(), shards = options_.num_shards();
  if (n == 0) return 0;
  return (n + shards - 1) / shards;
}

int64_t DataLoader::num_batches() const {
  const int64_t m = num_samples(), bs = options_.batch_size();
  return options_.drop_last() ? m / bs : (m + bs - 1) / bs;
}

std::vector<int64_t> DataLoader::epoch_indices(int64_t epoch) const {
  const int64_t n = dataset_->size();
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), int64_t{0});
  if (options_.shuffle() && n > 1) {
    std::mt19937_64 eng(splitmix64(seed_ ^ splitmix64(static_cast<uint64_t>(epoch))));
    for (int64_t i = n - 1; i > 0; --i)
      std::swap(order[i], order[bounded(eng, static_cast<uint64_t>(i) + 1)]);
  }
  const int64_t shards = options_.num_shards();
  if (shards == 1 || n == 0) return order;
  const int64_t per_shard = num_samples();
  std::vector<int64_t> mine;
  mine.reserve(per_shard);
  for (int64_t k = 0; k < per_shard; ++k) mine.push_back(order[(k * shards + options_.shard()) % n]);
  return mine;
}

DataLoader::Iterator DataLoader::begin() {
  const int64_t epoch = next_epoch_++;
  auto state = std::make_shared<Epoch>();
  state->dataset = dataset_;
  state->order = epoch_indices(epoch);
  state->batch_size = options_.batch_size();
  state->num_batches = num_batches();
  state->transform = options_.transform();
  if (options_.prefetch() && state->num_batches > 0) state->start_worker();
  return Iterator(std::move(state));
}

}  // namespace magmadnn::data
