// The dynamic memory manager: a caching allocator per device. Freed blocks go back to a bin of
// their size class and are reused without returning to the OS (or driver); statistics tell
// bytes in use, the peak, and bytes cached. empty_cache() releases the cached blocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>
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

  // Private pools (for CUDA graphs): while a pool is active, every allocation comes from it, and
  // a block allocated there returns to it when freed, so the memory a captured graph replays into
  // is never handed to other tensors. Blocks freed and reused inside the pool stay ordered by the
  // one stream the work runs on. release_pool() gives the pool's free blocks to the shared cache;
  // its blocks still in use join it when freed. empty_cache() leaves live pools alone.
  using PoolId = uint64_t;
  PoolId create_pool();
  void begin_pool(PoolId pool);  // one active pool at a time
  void end_pool();
  void release_pool(PoolId pool);

 private:
  using Bins = std::map<size_t, std::vector<void*>>;  // size class -> cached blocks
  void* take_from(Bins& bins, size_t size);
  void release_bins(Bins& bins);  // raw-frees every block of `bins`
  Device device_;
  RawAlloc raw_alloc_;
  RawFree raw_free_;
  mutable std::mutex mutex_;
  Bins free_blocks_;
  MemoryStats stats_;
  PoolId next_pool_ = 1, active_pool_ = 0;  // 0: the shared cache
  std::map<PoolId, Bins> pools_;               // live pools and their free blocks
  std::unordered_map<void*, PoolId> pool_of_;  // blocks allocated in a pool
};

// The host allocator every CPU tensor uses.
Allocator& cpu_allocator();

}  // namespace magmadnn
