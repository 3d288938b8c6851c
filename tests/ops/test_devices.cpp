// Mixing devices in one op is an error naming the op, both devices and shapes — never a silent
// copy. A fake "cuda" backend (host memory, CPU kernels) is registered in this test executable
// only, so tensors can live on cuda:0 without a GPU.
#include <cstdlib>

#include "../../src/backend/cpu/cpu_backend.h"  // private header: the fake reuses the CPU kernels
#include "ops/ops_test_util.h"

using namespace optest;

namespace {
void* host_alloc(size_t bytes) {
  return std::malloc(bytes);
}
void host_free(void* p) {
  std::free(p);
}

// The CPU backend under another name and allocator: enough for tensors to live on cuda:0.
// (Deriving from CpuBackend keeps this fake in step with the growing Backend interface.)
class FakeCudaBackend : public cpu::CpuBackend {
 public:
  std::string name() const override { return "fake-cuda"; }
  Allocator& allocator() override { return allocator_; }

 private:
  CachingAllocator allocator_{Device::cuda(0), host_alloc, host_free};
};

class MixedDevices : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!has_backend(DeviceType::CUDA))
      register_backend(DeviceType::CUDA, std::make_unique<FakeCudaBackend>());
  }
};
}  // namespace

TEST_F(MixedDevices, BinaryOpsNameBothDevicesAndShapes) {
  if (backend_for(Device::cuda(0)).name() != "fake-cuda") GTEST_SKIP() << "a real CUDA backend is registered";
  Tensor c = zeros({2, 3});
  Tensor g = empty({3}, kFloat32, Device::cuda(0));
  EXPECT_EQ(g.device(), Device::cuda(0));
  EXPECT_THAT(
      error_of([&] { add(c, g); }),
      HasSubstr("add: tensors are on different devices (cpu for shape (2, 3), cuda:0 for shape (3))"));
  EXPECT_THAT(error_of([&] { mul(g, c); }),
              HasSubstr("mul: tensors are on different devices (cuda:0 for shape (3), cpu"));
  EXPECT_THAT(error_of([&] {
                matmul(c, empty({3, 4}, kFloat32, Device::cuda(0)));
              }),
              HasSubstr("matmul: tensors are on different devices"));
  EXPECT_THAT(error_of([&] {
                concat({c, empty({1, 3}, kFloat32, Device::cuda(0))}, 0);
              }),
              HasSubstr("concat: tensors are on different devices"));
  EXPECT_THAT(error_of([&] {
                linear(c, empty({4, 3}, kFloat32, Device::cuda(0)), Tensor());
              }),
              HasSubstr("linear: tensors are on different devices"));
  EXPECT_THAT(error_of([&] {
                linear(c, zeros({4, 3}), empty({4}, kFloat32, Device::cuda(0)));
              }),
              HasSubstr("linear: tensors are on different devices"));
  EXPECT_THAT(error_of([&] {
                mse_loss(c, empty({2, 3}, kFloat32, Device::cuda(0)));
              }),
              HasSubstr("mse_loss: tensors are on different devices"));
}

TEST_F(MixedDevices, IndexAndTargetTensorsOnAnotherDevice) {
  if (backend_for(Device::cuda(0)).name() != "fake-cuda") GTEST_SKIP() << "a real CUDA backend is registered";
  Tensor c = zeros({3, 5});
  Tensor idx = empty({2}, kInt64, Device::cuda(0));
  EXPECT_THAT(error_of([&] { index_select(c, 0, idx); }),
              HasSubstr("index_select: index is on cuda:0 but input is on cpu"));
  EXPECT_THAT(error_of([&] {
                gather(c, 1, empty({3, 1}, kInt64, Device::cuda(0)));
              }),
              HasSubstr("gather: index is on cuda:0 but input is on cpu"));
  EXPECT_THAT(error_of([&] { cross_entropy(c, empty({3}, kInt64, Device::cuda(0))); }),
              HasSubstr("cross_entropy: target is on cuda:0 but logits are on cpu"));
  EXPECT_THAT(error_of([&] { cross_entropy(c, zeros({3}, kInt64), empty({5}, kFloat32, Device::cuda(0))); }),
              HasSubstr("cross_entropy: tensors are on different devices"));
  // Memory of the fake device is accounted by its own allocator, not the CPU's.
  const size_t before = backend_for(Device::cuda(0)).allocator().stats().bytes_in_use;
  {
    Tensor t = empty({1000}, kFloat32, Device::cuda(0));
    EXPECT_EQ(backend_for(Device::cuda(0)).allocator().stats().bytes_in_use - before, 4096u);
  }
  EXPECT_EQ(backend_for(Device::cuda(0)).allocator().stats().bytes_in_use, before);
}
