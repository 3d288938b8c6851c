// Page-locked host memory for host-to-device copies (cuda::pinned_host_allocator, see
// backend/cuda.h): a caching allocator over cudaHostAlloc/cudaFreeHost whose freed blocks wait
// for an event before reuse, because a copy from pinned memory is truly asynchronous. (The idea
// of PyTorch's CachingHostAllocator: remember the stream position at free time, not the copies.)
#include <cuda_runtime.h>

#include <deque>
#include <map>
#include <mutex>
#include <vector>

#include "backend/cuda/cuda_backend.h"
#include "magmadnn/backend/cuda.h"
#include "magmadnn/core/error.h"

namespace magmadnn::cuda {

namespace {

class PinnedHostAllocator final : public Allocator {
 public:
  void* allocate(size_t bytes) override {
    const size_t size = allocation_size_class(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.allocations;
    collect_completed();
    void* ptr = nullptr;
    auto bin = free_.find(size);
    if (bin != free_.end() && !bin->second.empty()) {
      ptr = bin->second.back();
      bin->second.pop_back();
      stats_.bytes_cached -= size;
      ++stats_.cache_hits;
    } else {
      cudaError_t err = cudaHostAlloc(&ptr, size, cudaHostAllocPortable);
      if (err != cudaSuccess) {
        (void)cudaGetLastError();  // so that a later kernel-launch check does not report it
        release_free_blocks();     // give the reusable blocks back to the driver and try again
        ptr = nullptr;
        err = cudaHostAlloc(&ptr, size, cudaHostAllocPortable);
        if (err != cudaSuccess) (void)cudaGetLastError();
      }
      MAGMADNN_CHECK(err == cudaSuccess && ptr != nullptr, "pinned host memory: cudaHostAlloc of ", size,
                     " bytes failed (", cudaGetErrorString(err), ") with ", stats_.bytes_in_use,
                     " bytes in use and ", stats_.bytes_cached, " cached");
      ++stats_.system_allocations;
    }
    stats_.bytes_in_use += size;
    if (stats_.bytes_in_use > stats_.peak_bytes_in_use) stats_.peak_bytes_in_use = stats_.bytes_in_use;
    return ptr;
  }

  // Called from ~Storage: must not throw. The block may still be the source of a copy queued on
  // the stream; it becomes reusable once an event recorded there now has completed. If the event
  // cannot be recorded (e.g. at process exit) the block is never reused.
  void deallocate(void* ptr, size_t bytes) override {
    if (ptr == nullptr) return;
    const size_t size = allocation_size_class(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.bytes_in_use -= size;
    // Events belong to a device: recorded on the current device's stream, from its own pool.
    int device = 0;
    if (cudaGetDevice(&device) != cudaSuccess) {
      (void)cudaGetLastError();
      return;  // leaked: safer than reusing a block a copy may still read
    }
    std::vector<cudaEvent_t>& pool = events_[device];
    cudaEvent_t event = nullptr;
    if (!pool.empty()) {
      event = pool.back();
      pool.pop_back();
    } else if (cudaEventCreateWithFlags(&event, cudaEventDisableTiming) != cudaSuccess) {
      (void)cudaGetLastError();
      return;
    }
    cudaStream_t s = nullptr;
    try {
      s = stream();
    } catch (...) {
      pool.push_back(event);
      return;
    }
    if (cudaEventRecord(event, s) != cudaSuccess) {
      (void)cudaGetLastError();
      pool.push_back(event);
      return;
    }
    pending_.push_back({ptr, size, event, device});
    stats_.bytes_cached += size;
  }

  MemoryStats stats() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }
  void reset_peak() override {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.peak_bytes_in_use = stats_.bytes_in_use;
  }
  // Returns the blocks whose events have completed; blocks still awaited stay until then.
  void empty_cache() override {
    std::lock_guard<std::mutex> lock(mutex_);
    collect_completed();
    release_free_blocks();
  }
  Device device() const override { return Device::cpu(); }

 private:
  struct Pending {
    void* ptr;
    size_t size;
    cudaEvent_t event;
    int device;  // whose pool the event returns to
  };

  // Moves blocks whose events have completed to the free bins, in free order, stopping at the
  // first one still pending (later events on the same stream cannot have completed before it; on
  // another device's stream they wait a little longer than they need to).
  void collect_completed() {
    while (!pending_.empty()) {
      // Not ready, or an error (left for the backend's next synchronising call to report with
      // context): the block waits. cudaErrorNotReady is also stored as the thread's last error:
      // clear it, or the next kernel's launch check (cudaGetLastError) would report it.
      const cudaError_t q = cudaEventQuery(pending_.front().event);
      if (q == cudaErrorNotReady) (void)cudaGetLastError();
      if (q != cudaSuccess) break;
      Pending p = pending_.front();
      pending_.pop_front();
      events_[p.device].push_back(p.event);
      free_[p.size].push_back(p.ptr);
    }
  }

  void release_free_blocks() {
    for (auto& [size, blocks] : free_) {
      for (void* p : blocks) {
        if (cudaFreeHost(p) == cudaSuccess)
          stats_.bytes_cached -= size;
        else
          (void)cudaGetLastError();
      }
      blocks.clear();
    }
  }

  mutable std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_;       // size class -> reusable blocks
  std::deque<Pending> pending_;                     // freed, awaiting their events, in free order
  std::map<int, std::vector<cudaEvent_t>> events_;  // device -> completed events for reuse
  MemoryStats stats_;
};

}  // namespace

Allocator& pinned_host_allocator() {
  MAGMADNN_CHECK(device_count() > 0, "no CUDA device: ", unavailable_reason(),
                 " (pinned host memory needs one)");
  // Leaked with the process, like the streams: blocks may be freed by static tensors at exit.
  static PinnedHostAllocator* allocator = new PinnedHostAllocator();
  return *allocator;
}

}  // namespace magmadnn::cuda
