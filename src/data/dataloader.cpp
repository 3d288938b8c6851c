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
#include "magmadnn/backend/cuda.h"
#include "magmadnn/core/rng.h"

namespace magmadnn::data {

namespace {
constexpr size_t kPrefetchDepth = 2;

// Validates the options before they build the sampler, so errors name the DataLoader's options.
const DataLoaderOptions& checked(const DataLoaderOptions& o) {
  MAGMADNN_CHECK(o.batch_size() >= 1, "DataLoader: batch_size must be at least 1, got ", o.batch_size());
  MAGMADNN_CHECK(o.num_shards() >= 1, "DataLoader: num_shards must be at least 1, got ", o.num_shards());
  MAGMADNN_CHECK(o.shard() >= 0 && o.shard() < o.num_shards(), "DataLoader: shard ", o.shard(),
                 " is out of range for ", o.num_shards(), " shards");
  if (o.pin_memory()) {
    try {
      cuda::pinned_host_allocator();
    } catch (const Error& e) {
      MAGMADNN_ERROR("DataLoader: pin_memory(true) needs a CUDA device: ", e.what());
    }
  }
  return o;
}

// A contiguous copy of `t` in page-locked host memory (undefined stays undefined).
Tensor pinned_copy(const Tensor& t) {
  if (!t.defined()) return t;
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(t.numel()) * t.element_size(),
                                            cuda::pinned_host_allocator());
  impl->shape = t.shape();
  impl->strides = contiguous_strides(t.shape());
  impl->dtype = t.dtype();
  Tensor out(std::move(impl));
  out.copy_(t);
  return out;
}

DistributedSamplerOptions sampler_options(const DataLoaderOptions& o, uint64_t seed) {
  return DistributedSamplerOptions(o.num_shards(), o.shard())
      .shuffle(o.shuffle())
      .seed(seed)
      .remainder(o.shard_remainder());
}
}  // namespace

struct DataLoader::Epoch {
  std::shared_ptr<Dataset> dataset;
  std::vector<int64_t> order;
  int64_t batch_size = 1;
  int64_t num_batches = 0;
  std::function<Example(Example)> transform;
  std::shared_ptr<const Augmentation> augment;
  uint64_t seed = 0;
  bool pin_memory = false;
  // Advanced as batches reach the consumer: order starts at sample start_index of epoch `epoch`.
  std::shared_ptr<SamplerPosition> position;
  int64_t epoch = 0, start_index = 0;

  void delivered(int64_t b) {
    if (b + 1 >= num_batches)
      *position = SamplerPosition{epoch + 1, 0};
    else
      *position = SamplerPosition{epoch, start_index + (b + 1) * batch_size};
  }

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
    if (augment) e.input = (*augment)(e.input, AugmentDraws{seed, epoch, std::move(indices)});
    if (transform) e = transform(std::move(e));
    if (pin_memory) e = Example{pinned_copy(e.input), pinned_copy(e.target)};
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
  epoch_->delivered(0);
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
  epoch_->delivered(index_);
  return *this;
}

DataLoader::DataLoader(std::shared_ptr<Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)),
      options_(checked(options)),
      seed_(options_.seed() ? *options_.seed() : default_generator().next_u64()),
      sampler_(dataset_ ? dataset_->size() : 0, sampler_options(options_, seed_)),
      position_(std::make_shared<SamplerPosition>()) {
  MAGMADNN_CHECK(dataset_ != nullptr, "DataLoader: the dataset is null");
}

DataLoader::~DataLoader() = default;

int64_t DataLoader::num_samples() const {
  return sampler_.num_samples();
}

int64_t DataLoader::num_batches() const {
  const int64_t m = num_samples(), bs = options_.batch_size();
  return options_.drop_last() ? m / bs : (m + bs - 1) / bs;
}

std::vector<int64_t> DataLoader::epoch_indices(int64_t epoch) const {
  return sampler_.indices(epoch);
}

void DataLoader::set_epoch(int64_t epoch) {
  set_position(SamplerPosition{epoch, 0});
}

void DataLoader::set_position(const SamplerPosition& p) {
  MAGMADNN_CHECK(p.epoch >= 0 && p.index >= 0 && p.index <= num_samples(), "DataLoader: position (epoch ",
                 p.epoch, ", index ", p.index, ") is out of range for an epoch of ", num_samples(),
                 " samples");
  // A finished epoch continues with the next one.
  const bool finished = p.index > 0 && p.index == num_samples();
  next_epoch_ = finished ? p.epoch + 1 : p.epoch;
  resume_index_ = finished ? 0 : p.index;
  *position_ = SamplerPosition{next_epoch_, resume_index_};
}

std::map<std::string, Tensor> DataLoader::state_dict() const {
  return {{"epoch", from_vector<int64_t>({position_->epoch})},
          {"index", from_vector<int64_t>({position_->index})},
          {"seed", from_vector<int64_t>({static_cast<int64_t>(seed_)})}};
}

void DataLoader::load_state_dict(const std::map<std::string, Tensor>& state) {
  auto get = [&](const char* key) {
    auto it = state.find(key);
    MAGMADNN_CHECK(it != state.end(), "DataLoader::load_state_dict: missing key '", key, "'");
    MAGMADNN_CHECK(it->second.defined() && it->second.numel() == 1 && it->second.dtype() == kInt64,
                   "DataLoader::load_state_dict: '", key, "' must be one int64 value");
    return it->second.contiguous().to_vector<int64_t>()[0];
  };
  const int64_t epoch = get("epoch"), index = get("index"), seed = get("seed");
  seed_ = static_cast<uint64_t>(seed);
  sampler_ = DistributedSampler(dataset_->size(), sampler_options(options_, seed_));
  set_position(SamplerPosition{epoch, index});
}

DataLoader::Iterator DataLoader::begin() {
  const int64_t epoch = next_epoch_++, start = resume_index_;
  resume_index_ = 0;
  auto state = std::make_shared<Epoch>();
  state->dataset = dataset_;
  state->order = sampler_.indices(SamplerPosition{epoch, start});
  state->batch_size = options_.batch_size();
  const int64_t m = static_cast<int64_t>(state->order.size()), bs = options_.batch_size();
  state->num_batches = options_.drop_last() ? m / bs : (m + bs - 1) / bs;
  state->position = position_;
  state->epoch = epoch;
  state->start_index = start;
  *position_ = state->num_batches == 0 ? SamplerPosition{epoch + 1, 0} : SamplerPosition{epoch, start};
  state->transform = options_.transform();
  state->augment = options_.augment();
  state->seed = seed_;
  state->pin_memory = options_.pin_memory();
  if (options_.prefetch() && state->num_batches > 0) state->start_worker();
  return Iterator(std::move(state));
}

}  // namespace magmadnn::data
