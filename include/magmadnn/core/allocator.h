// The dynamic memory manager: a caching allocator per device. Freed blocks go back to a bin of
// their size class and are reused without returning to the OS (or driver); statistics tell
// bytes in use, the peak, and bytes cached. empty_cache() releases the cached blocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "magmadnn/core/device.h"

namespace magmadnn {

struct MemoryStats {
  size_t bytes_in_use = 0;    // requested bytes (rounded to the size class) held by live blocks
  size_t peak_bytes_in_use = 0;
  size_t bytes_cached = 0;    // bytes in free blocks kept for reuse
  size_t allocations = 0;     // calls to allocate()
  size_t cache_hits = 0;      // allocations served from the cache
  size_t system_allocations = 0;  // allocations that went to the OS/driver
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* ptr, size_t bytes) = 0;
  virtual MemoryStats stats() const = 0;
  virtual void reset_peak() = 0;
  virtual void empty_cache() = 0;
  virtual Device device() const = 0;
};

// Size classes: multiples of 512 bytes up to 1 MiB, then four classes per power of two, so a
// block wastes at most a quarter of its size.
size_t allocation_size_class(size_t bytes);

// A caching allocator over raw allocate/free functions; the CPU uses 64-byte aligned host
// memory, the CUDA backend plugs in cudaMalloc/cudaFree.
class CachingAllocator : public Allocator {
 public:
  using RawAlloc = void* (*)(size_t bytes);
  using RawFree = void (*)(void* ptr);
  CachingAllocator(Device device, RawAlloc raw_alloc, RawFree raw_free);
  ~CachingAllocator() override;

  void* allocate(size_t bytes) override;
  void deallocate(void* ptr, size_t bytes) override;
  MemoryStats stats() const override;
  void reset_peak() override;
  void empty_cache() override;
  Device device() const override { return device_; }

 private:
  Device device_;
  RawAlloc raw_alloc_;
  RawFree raw_free_;
  mutable std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_blocks_;  // size class -> cached blocks
  MemoryStats stats_;
};

// The host allocator every CPU tensor uses.
Allocator& cpu_allocator();

}  // namespace magmadnn
