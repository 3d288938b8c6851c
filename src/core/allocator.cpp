// The caching allocator behind all tensor storage; see core/allocator.h.
#include "magmadnn/core/allocator.h"

#include <cstdlib>

#include "magmadnn/core/error.h"

namespace magmadnn {

size_t allocation_size_class(size_t bytes) {
  if (bytes == 0) bytes = 1;
  constexpr size_t kSmall = 512, kLarge = size_t(1) << 20;
  if (bytes <= kLarge) return (bytes + kSmall - 1) / kSmall * kSmall;
  size_t power = kLarge;
  while (power * 2 < bytes) power *= 2;
  const size_t step = power / 4;  // four classes between power and 2 * power
  return (bytes + step - 1) / step * step;
}

CachingAllocator::CachingAllocator(Device device, RawAlloc raw_alloc, RawFree raw_free)
    : device_(device), raw_alloc_(raw_alloc), raw_free_(raw_free) {}

CachingAllocator::~CachingAllocator() {
  release_bins(free_blocks_);
  for (auto& [id, bins] : pools_) release_bins(bins);
}

void* CachingAllocator::take_from(Bins& bins, size_t size) {
  auto it = bins.find(size);
  if (it == bins.end() || it->second.empty()) return nullptr;
  void* ptr = it->second.back();
  it->second.pop_back();
  return ptr;
}

void CachingAllocator::release_bins(Bins& bins) {
  for (auto& [sz, blocks] : bins)
    for (void* p : blocks) raw_free_(p);
  bins.clear();
}

void* CachingAllocator::allocate(size_t bytes) {
  const size_t size = allocation_size_class(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  ++stats_.allocations;
  Bins& bins = active_pool_ ? pools_[active_pool_] : free_blocks_;
  void* ptr = take_from(bins, size);
  if (ptr) {
    stats_.bytes_cached -= size;
    ++stats_.cache_hits;
  } else {
    ptr = raw_alloc_(size);
    const size_t cached_before = stats_.bytes_cached;
    if (ptr == nullptr) {
      // Give the shared cache back and try once more before reporting out-of-memory.
      size_t shared = 0;
      for (auto& [sz, blocks] : free_blocks_) shared += sz * blocks.size();
      release_bins(free_blocks_);
      stats_.bytes_cached -= shared;
      ptr = raw_alloc_(size);
    }
    MAGMADNN_CHECK(ptr != nullptr, "out of memory on ", device_, ": requested ", size, " bytes with ",
                   stats_.bytes_in_use, " bytes in use and ", cached_before, " cached (released before retrying)");
    ++stats_.system_allocations;
    if (active_pool_) pool_of_[ptr] = active_pool_;
  }
  stats_.bytes_in_use += size;
  if (stats_.bytes_in_use > stats_.peak_bytes_in_use) stats_.peak_bytes_in_use = stats_.bytes_in_use;
  return ptr;
}

void CachingAllocator::deallocate(void* ptr, size_t bytes) {
  if (ptr == nullptr) return;
  const size_t size = allocation_size_class(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  Bins* bins = &free_blocks_;
  if (!pool_of_.empty()) {
    auto it = pool_of_.find(ptr);
    if (it != pool_of_.end()) {
      auto pool = pools_.find(it->second);
      if (pool != pools_.end()) bins = &pool->second;
      else pool_of_.erase(it);  // its pool was released: the block joins the shared cache
    }
  }
  (*bins)[size].push_back(ptr);
  stats_.bytes_in_use -= size;
  stats_.bytes_cached += size;
}

CachingAllocator::PoolId CachingAllocator::create_pool() {
  std::lock_guard<std::mutex> lock(mutex_);
  const PoolId id = next_pool_++;
  pools_[id];
  return id;
}

void CachingAllocator::begin_pool(PoolId pool) {
  std::lock_guard<std::mutex> lock(mutex_);
  MAGMADNN_CHECK(active_pool_ == 0, "allocator on ", device_, ": pool ", active_pool_, " is already active");
  MAGMADNN_CHECK(pools_.count(pool), "allocator on ", device_, ": no pool ", pool);
  active_pool_ = pool;
}

void CachingAllocator::end_pool() {
  std::lock_guard<std::mutex> lock(mutex_);
  active_pool_ = 0;
}

void CachingAllocator::release_pool(PoolId pool) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = pools_.find(pool);
  if (it == pools_.end()) return;
  if (active_pool_ == pool) active_pool_ = 0;
  for (auto& [size, blocks] : it->second)
    for (void* p : blocks) {
      pool_of_.erase(p);
      free_blocks_[size].push_back(p);
    }
  pools_.erase(it);
}

MemoryStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void CachingAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_bytes_in_use = stats_.bytes_in_use;
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t shared = 0;
  for (auto& [size, blocks] : free_blocks_) shared += size * blocks.size();
  release_bins(free_blocks_);
  stats_.bytes_cached -= shared;
}

namespace {
void* aligned_host_alloc(size_t bytes) { return std::aligned_alloc(64, (bytes + 63) / 64 * 64); }
void host_free(void* p) { std::free(p); }
}  // namespace

Allocator& cpu_allocator() {
  // Leaked on purpose: tensors in static objects may outlive any destruction order.
  static CachingAllocator* allocator = new CachingAllocator(Device::cpu(), aligned_host_alloc, host_free);
  return *allocator;
}

}  // namespace magmadnn
