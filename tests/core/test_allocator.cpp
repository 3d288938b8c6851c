// Tests of the caching allocator (core/allocator.h): block reuse per size class, exact
// statistics, empty_cache, the size-class rule, alignment of host blocks, tensor storage
// going through cpu_allocator(), and a two-thread smoke test.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <set>
#include <thread>

#include "magmadnn/magmadnn.h"

using namespace magmadnn;

namespace {
// Raw functions that count what reaches the "system", so tests see exactly when the cache is used.
std::atomic<int> g_raw_allocs{0}, g_raw_frees{0};
void* counting_alloc(size_t bytes) {
  ++g_raw_allocs;
  return std::malloc(bytes);
}
void counting_free(void* p) {
  ++g_raw_frees;
  std::free(p);
}
void* failing_alloc(size_t) {
  return nullptr;
}

class CachingAllocatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g_raw_allocs = 0;
    g_raw_frees = 0;
  }
};
}  // namespace

TEST_F(CachingAllocatorTest, FreedBlockIsReusedForSameSizeClass) {
  CachingAllocator a(Device::cpu(), counting_alloc, counting_free);
  void* p = a.allocate(1000);
  a.deallocate(p, 1000);
  void* q = a.allocate(1024);  // 1000 and 1024 share the 1024-byte class
  EXPECT_EQ(q, p);
  MemoryStats s = a.stats();
  EXPECT_EQ(s.allocations, 2u);
  EXPECT_EQ(s.cache_hits, 1u);
  EXPECT_EQ(s.system_allocations, 1u);
  EXPECT_EQ(g_raw_allocs, 1);
  // A different class does not take the cached block.
  a.deallocate(q, 1024);
  void* r = a.allocate(1025);
  EXPECT_NE(r, p);
  EXPECT_EQ(a.stats().cache_hits, 1u);
  EXPECT_EQ(g_raw_allocs, 2);
  a.deallocate(r, 1025);
}

TEST_F(CachingAllocatorTest, StatisticsAreExact) {
  CachingAllocator a(Device::cpu(), counting_alloc, counting_free);
  EXPECT_EQ(a.device(), Device::cpu());
  void* p1 = a.allocate(100);       // class 512
  void* p2 = a.allocate(3000);      // class 3072
  void* p3 = a.allocate(1u << 20);  // class 1 MiB
  MemoryStats s = a.stats();
  EXPECT_EQ(s.bytes_in_use, 512u + 3072u + (1u << 20));
  EXPECT_EQ(s.peak_bytes_in_use, s.bytes_in_use);
  EXPECT_EQ(s.bytes_cached, 0u);
  a.deallocate(p3, 1u << 20);
  s = a.stats();
  EXPECT_EQ(s.bytes_in_use, 512u + 3072u);
  EXPECT_EQ(s.peak_bytes_in_use, 512u + 3072u + (1u << 20));
  EXPECT_EQ(s.bytes_cached, 1u << 20);
  a.reset_peak();
  EXPECT_EQ(a.stats().peak_bytes_in_use, 512u + 3072u);
  a.deallocate(p1, 100);
  a.deallocate(p2, 3000);
  s = a.stats();
  EXPECT_EQ(s.bytes_in_use, 0u);
  EXPECT_EQ(s.bytes_cached, 512u + 3072u + (1u << 20));
  EXPECT_EQ(s.allocations, 3u);
  EXPECT_EQ(s.system_allocations, 3u);
  a.deallocate(nullptr, 10);  // a no-op, like free(nullptr)
  EXPECT_EQ(a.stats().bytes_cached, s.bytes_cached);
}

TEST_F(CachingAllocatorTest, EmptyCacheReleasesCachedBlocksOnly) {
  CachingAllocator a(Device::cpu(), counting_alloc, counting_free);
  void* live = a.allocate(512);
  void* p = a.allocate(4096);
  void* q = a.allocate(4096);
  a.deallocate(p, 4096);
  a.deallocate(q, 4096);
  EXPECT_EQ(a.stats().bytes_cached, 8192u);
  a.empty_cache();
  EXPECT_EQ(a.stats().bytes_cached, 0u);
  EXPECT_EQ(a.stats().bytes_in_use, 512u);
  EXPECT_EQ(g_raw_frees, 2);
  // The next allocation of that class goes to the system again.
  void* r = a.allocate(4096);
  EXPECT_EQ(a.stats().system_allocations, 4u);
  a.deallocate(r, 4096);
  a.deallocate(live, 512);
}

TEST_F(CachingAllocatorTest, DestructorReturnsCachedMemory) {
  {
    CachingAllocator a(Device::cpu(), counting_alloc, counting_free);
    a.deallocate(a.allocate(100), 100);
    a.deallocate(a.allocate(10000), 10000);
  }
  EXPECT_EQ(g_raw_allocs, 2);
  EXPECT_EQ(g_raw_frees, 2);
}

TEST_F(CachingAllocatorTest, OutOfMemoryIsAnErrorWithNumbers) {
  CachingAllocator a(Device::cpu(), failing_alloc, counting_free);
  try {
    a.allocate(5000);
    FAIL() << "expected an out-of-memory error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(),
                ::testing::HasSubstr("out of memory on cpu: requested 5120 bytes with 0 bytes in use"));
  }
}

TEST(AllocationSizeClass, FollowsTheDocumentedRule) {
  // Multiples of 512 bytes up to 1 MiB.
  EXPECT_EQ(allocation_size_class(0), 512u);
  EXPECT_EQ(allocation_size_class(1), 512u);
  EXPECT_EQ(allocation_size_class(512), 512u);
  EXPECT_EQ(allocation_size_class(513), 1024u);
  EXPECT_EQ(allocation_size_class(1000000), 1000448u);
  EXPECT_EQ(allocation_size_class(1u << 20), 1u << 20);
  // Above 1 MiB: four classes per power of two.
  const size_t MiB = 1u << 20;
  EXPECT_EQ(allocation_size_class(MiB + 1), MiB + MiB / 4);
  EXPECT_EQ(allocation_size_class(2 * MiB), 2 * MiB);
  EXPECT_EQ(allocation_size_class(2 * MiB + 1), 2 * MiB + MiB / 2);
  EXPECT_EQ(allocation_size_class(7 * MiB), 7 * MiB);
  EXPECT_EQ(allocation_size_class(7 * MiB + 1), 8 * MiB);
  EXPECT_EQ(allocation_size_class(100 * MiB), 112 * MiB);
  // Every class holds the request, is a fixed point, and wastes at most a quarter (above 1 MiB).
  for (size_t bytes = 1; bytes < (size_t(1) << 34); bytes = bytes * 3 / 2 + 7) {
    const size_t c = allocation_size_class(bytes);
    ASSERT_GE(c, bytes);
    ASSERT_EQ(allocation_size_class(c), c) << bytes;
    ASSERT_EQ(c % 512, 0u);
    if (bytes > MiB)
      ASSERT_LE(c - bytes, bytes / 4) << bytes;
    else
      ASSERT_LT(c - bytes, 512u);
  }
}

TEST(CpuAllocator, BlocksAre64ByteAligned) {
  Allocator& a = cpu_allocator();
  EXPECT_EQ(a.device(), Device::cpu());
  std::vector<std::pair<void*, size_t>> blocks;
  for (size_t bytes : {1u, 63u, 65u, 511u, 4097u, 100000u, 3000000u})
    blocks.push_back({a.allocate(bytes), bytes});
  for (auto [p, bytes] : blocks) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u) << bytes;
    std::memset(p, 0xab, allocation_size_class(bytes));  // the whole class is usable
  }
  for (auto [p, bytes] : blocks) a.deallocate(p, bytes);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(zeros({3}, kFloat64).raw_data()) % 64, 0u);
}

TEST(CpuAllocator, TensorStorageGoesThroughIt) {
  Allocator& a = cpu_allocator();
  EXPECT_EQ(&backend_for(Device::cpu()).allocator(), &a);
  a.empty_cache();
  const MemoryStats before = a.stats();
  {
    Tensor t = zeros({1000, 3});  // 12000 bytes -> class 12288
    MemoryStats during = a.stats();
    EXPECT_EQ(during.bytes_in_use - before.bytes_in_use, 12288u);
    EXPECT_EQ(during.allocations - before.allocations, 1u);
    EXPECT_GE(during.peak_bytes_in_use, during.bytes_in_use);
    Tensor v = t.reshape({3000}).slice(0, 0, 10);  // views allocate nothing
    EXPECT_EQ(a.stats().allocations, during.allocations);
  }
  MemoryStats after = a.stats();
  EXPECT_EQ(after.bytes_in_use, before.bytes_in_use);
  EXPECT_EQ(after.bytes_cached - before.bytes_cached, 12288u);
  // The same size again is served from the cache.
  const void* first = nullptr;
  {
    Tensor t = ones({3000});
    first = t.raw_data();
    EXPECT_EQ(a.stats().cache_hits - after.cache_hits, 1u);
  }
  Tensor again = ones({3000});
  EXPECT_EQ(again.raw_data(), first);
  a.empty_cache();
  EXPECT_EQ(a.stats().bytes_cached, 0u);
}

TEST(CpuAllocator, TwoThreadsAllocateAndFree) {
  g_raw_allocs = 0;  // not a CachingAllocatorTest: reset the counters here
  g_raw_frees = 0;
  CachingAllocator a(Device::cpu(), counting_alloc, counting_free);
  auto work = [&a](int seed) {
    std::vector<std::pair<void*, size_t>> live;
    for (int i = 0; i < 2000; ++i) {
      const size_t bytes = 1 + static_cast<size_t>((i * 7919 + seed * 104729) % 20000);
      void* p = a.allocate(bytes);
      static_cast<char*>(p)[0] = static_cast<char>(i);
      static_cast<char*>(p)[bytes - 1] = static_cast<char>(i);
      live.push_back({p, bytes});
      if (i % 3 == 0) {
        a.deallocate(live.front().first, live.front().second);
        live.erase(live.begin());
      }
    }
    for (auto [p, bytes] : live) a.deallocate(p, bytes);
  };
  std::thread t1(work, 1), t2(work, 2);
  t1.join();
  t2.join();
  const MemoryStats s = a.stats();
  EXPECT_EQ(s.bytes_in_use, 0u);
  EXPECT_EQ(s.allocations, 4000u);
  EXPECT_EQ(s.cache_hits + s.system_allocations, s.allocations);
  EXPECT_EQ(static_cast<size_t>(g_raw_allocs.load()), s.system_allocations);
  // Tensors created concurrently share cpu_allocator() safely too.
  auto tensors = [] {
    for (int i = 0; i < 200; ++i) {
      Tensor t = full({64 + i}, 1.0, kFloat64);
      ASSERT_DOUBLE_EQ(t.to_vector<double>().back(), 1.0);
    }
  };
  std::thread t3(tensors), t4(tensors);
  t3.join();
  t4.join();
}

// Private pools (what a CUDA graph's memory lives in): inside a pool, blocks come only from the
// pool and return to it; shared blocks are never taken, pool blocks never leak to the shared
// cache while the pool lives; after release_pool they do.
TEST_F(CachingAllocatorTest, PrivatePoolKeepsItsBlocksUntilReleased) {
  CachingAllocator a(Device::cpu(), counting_alloc, counting_free);
  void* shared = a.allocate(4096);
  a.deallocate(shared, 4096);  // a cached shared block of the same class
  const CachingAllocator::PoolId pool = a.create_pool();
  a.begin_pool(pool);
  void* p = a.allocate(4096);
  EXPECT_NE(p, shared);  // the shared cache is not used inside the pool
  void* live = a.allocate(8192);
  a.deallocate(p, 4096);
  void* p2 = a.allocate(4096);  // reuse inside the pool
  EXPECT_EQ(p2, p);
  a.deallocate(p2, 4096);
  EXPECT_THAT([&] {
    try {
      a.begin_pool(pool);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  }(), ::testing::HasSubstr("is already active"));
  a.end_pool();
  // Outside the pool: the pool's free block is reserved, the shared one is served.
  void* q = a.allocate(4096);
  EXPECT_EQ(q, shared);
  void* q2 = a.allocate(4096);
  EXPECT_NE(q2, p);
  a.empty_cache();  // leaves the pool's block alone
  a.release_pool(pool);
  void* r = a.allocate(4096);
  EXPECT_EQ(r, p);  // released to the shared cache
  a.deallocate(live, 8192);  // a live block of a released pool joins the shared cache when freed
  void* s = a.allocate(8192);
  EXPECT_EQ(s, live);
  for (auto [ptr, n] : {std::pair<void*, size_t>{q, 4096}, {q2, 4096}, {r, 4096}, {s, 8192}}) a.deallocate(ptr, n);
  EXPECT_EQ(a.stats().bytes_in_use, 0u);
  EXPECT_EQ(a.stats().bytes_cached, 4096u * 3 + 8192u);
  a.empty_cache();
  EXPECT_EQ(a.stats().bytes_cached, 0u);
  EXPECT_EQ(g_raw_allocs.load(), g_raw_frees.load());
}
