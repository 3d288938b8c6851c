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

CachingAllocator::~CachingAllocator() { empty_cache(); }

void* CachingAllocator::allocate(size_t bytes) {
  const size_t size = allocation_size_class(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  ++stats_.allocations;
  void* ptr = nullptr;
  auto it = free_blocks_.find(size);
  if (it != free_blocks_.end() && !it->second.empty()) {
    ptr = it->second.back();
    it->second.pop_back();
    stats_.bytes_cached -= size;
    ++stats_.cache_hits;
  } else {
    ptr = raw_alloc_(size);
    const size_t cached_before = stats_.bytes_cached;
    if (ptr == nullptr) {
      // Give cached memory back and try once more before reporting out-of-memory.
      for (auto& [sz, blocks] : free_blocks_)
        for (void* p : blocks) raw_free_(p);
      free_blocks_.clear();
      stats_.bytes_cached = 0;
      ptr = raw_alloc_(size);
    }
    MAGMADNN_CHECK(ptr != nullptr, "out of memory on ", device_, ": requested ", size, " bytes with ",
                   stats_.bytes_in_use, " bytes in use and ", cached_before, " cached (released before retrying)");
    ++stats_.system_allocations;
  }
  stats_.bytes_in_use += size;
  if (stats_.bytes_in_use > stats_.peak_bytes_in_use) stats_.peak_bytes_in_use = stats_.bytes_in_use;
  return ptr;
}

void CachingAllocator::deallocate(void* ptr, size_t bytes) {
  if (ptr == nullptr) return;
  const size_t size = allocation_size_class(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  free_blocks_[size].push_back(ptr);
  stats_.bytes_in_use -= size;
  stats_.bytes_cached += size;
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
  for (auto& [size, blocks] : free_blocks_)
    for (void* p : blocks) raw_free_(p);
  free_blocks_.clear();
  stats_.bytes_cached = 0;
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
