// Training and evaluation on a CUDA device: a tiny Trainer run on cuda:0 equals the same run on the
// CPU to 1e-4 (metrics and weights), evaluate() too; a CPU checkpoint resumes on the GPU; pinned
// DataLoader batches and the pinned host allocator's event-guarded reuse. Every test skips
// without a GPU (the no-GPU errors are tested in tests/train/test_trainer.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "cuda/cuda_test_util.h"
#include "magmadnn/magmadnn.h"
#include "magmadnn/train/trainer.h"

using namespace magmadnn;
using namespace cudatest;

namespace {


std::shared_ptr<data::TensorDataset> make_set(uint64_t seed, int64_t n) {
  manual_seed(seed);
  Tensor x = randn({n, 1, 6, 6});
  Tensor y = randint(0, 4, {n});
  return std::make_shared<data::TensorDataset>(x, y);
}

// Built on the CPU from one seed, then moved: both runs start from the same weights.
std::shared_ptr<nn::Sequential> make_model(Device device) {
  manual_seed(11);
  auto m =
      std::make_shared<nn::Sequential>(std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(36, 16),
                                       std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(16, 4));
  m->to(device);
  return m;
}

void expect_close(double got, double want, double tol, const std::string& what) {
  EXPECT_LE(std::abs(got - want), tol) << what << ": cuda " << got << ", cpu " << want;
}

void expect_same_weights(const nn::Module& gpu, const nn::Module& cpu, double tol) {
  const auto g = gpu.state_dict(), c = cpu.state_dict();
  ASSERT_EQ(g.size(), c.size());
  for (const auto& [name, t] : c) {
    const std::vector<double> a = g.at(name).to_vector<double>(), b = t.to_vector<double>();
    double worst = 0;
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
    EXPECT_LE(worst, tol) << name;
  }
}

struct TrainRun {
  std::shared_ptr<nn::Sequential> model;
  std::shared_ptr<optim::SGD> opt;
  std::unique_ptr<train::Trainer> trainer;
  std::ostringstream out;
  TrainRun(Device device, int64_t epochs, int64_t stop_after = 0) {
    model = make_model(device);
    opt = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions(0.05).momentum(0.9));
    train::TrainerOptions o;
    o.epochs = epochs;
    o.progress = train::ProgressMode::Lines;
    o.out = &out;
    o.device = device;
    o.stop_after_steps = stop_after;
    trainer = std::make_unique<train::Trainer>(model, opt, o);
  }
};

data::DataLoaderOptions loader_options(Device device) {
  return data::DataLoaderOptions(16).shuffle(true).seed(5).pin_memory(device.is_cuda());
}

}  // namespace

TEST(CudaTrain, TinyTrainingEqualsTheCpuRun) {
  SKIP_WITHOUT_GPU();
  auto train_set = make_set(1, 100), test_set = make_set(2, 40);
  std::vector<train::EpochMetrics> h[2];
  TrainRun cpu(Device::cpu(), 3), gpu(kGpu, 3);
  for (int i = 0; i < 2; ++i) {
    TrainRun& r = i == 0 ? cpu : gpu;
    const Device d = i == 0 ? Device::cpu() : kGpu;
    data::DataLoader train_loader(train_set, loader_options(d));
    data::DataLoader test_loader(test_set, loader_options(d).shuffle(false));
    h[i] = r.trainer->fit(train_loader, &test_loader);
  }
  ASSERT_EQ(h[0].size(), 3u);
  ASSERT_EQ(h[1].size(), 3u);
  for (size_t e = 0; e < 3; ++e) {
    const std::string ep = "epoch " + std::to_string(e + 1);
    expect_close(h[1][e].train_loss, h[0][e].train_loss, 1e-4, ep + " train loss");
    expect_close(h[1][e].train_accuracy, h[0][e].train_accuracy, 1e-4, ep + " train accuracy");
    expect_close(h[1][e].test_loss, h[0][e].test_loss, 1e-4, ep + " test loss");
    expect_close(h[1][e].test_accuracy, h[0][e].test_accuracy, 1e-4, ep + " test accuracy");
  }
  EXPECT_EQ(gpu.model->parameters()[0].device(), kGpu);
  expect_same_weights(*gpu.model, *cpu.model, 1e-4);
}

TEST(CudaTrain, EvaluateOnTheGpuEqualsTheCpu) {
  SKIP_WITHOUT_GPU();
  auto test_set = make_set(3, 50);
  auto cpu_model = make_model(Device::cpu()), gpu_model = make_model(kGpu);
  data::DataLoader a(test_set, data::DataLoaderOptions(16).shuffle(false));
  data::DataLoader b(test_set, data::DataLoaderOptions(16).shuffle(false).pin_memory(true));
  const train::EvalMetrics c = train::evaluate(*cpu_model, a), g = train::evaluate(*gpu_model, b);
  EXPECT_EQ(g.samples, c.samples);
  expect_close(g.loss, c.loss, 1e-5, "loss");
  expect_close(g.accuracy, c.accuracy, 1e-9, "accuracy");
}

TEST(CudaTrain, CpuCheckpointResumesOnTheGpu) {
  SKIP_WITHOUT_GPU();
  auto train_set = make_set(4, 100);
  // Uninterrupted CPU run; a CPU run stopped after 5 steps, resumed by a GPU trainer.
  TrainRun full(Device::cpu(), 2);
  data::DataLoader l0(train_set, loader_options(Device::cpu()));
  const auto want = full.trainer->fit(l0);
  TrainRun part(Device::cpu(), 2, 5);
  data::DataLoader l1(train_set, loader_options(Device::cpu()));
  part.trainer->fit(l1);
  ASSERT_TRUE(part.trainer->stopped_early());
  const train::TrainingCheckpoint ckpt = part.trainer->checkpoint(l1);
  TrainRun resumed(kGpu, 2);
  resumed.trainer->resume(ckpt);
  data::DataLoader l2(train_set, loader_options(kGpu));
  const auto got = resumed.trainer->fit(l2);
  ASSERT_EQ(got.size(), 2u);
  expect_close(got[1].train_loss, want[1].train_loss, 1e-4, "epoch 2 train loss");
  expect_same_weights(*resumed.model, *full.model, 1e-4);
  // And the GPU trainer's checkpoint holds CPU-loadable tensors.
  const train::TrainingCheckpoint back = resumed.trainer->checkpoint(l2);
  auto cpu_model = make_model(Device::cpu());
  cpu_model->load_state_dict(back.model);
  expect_same_weights(*cpu_model, *resumed.model, 0);
}

TEST(CudaPinnedMemory, LoaderBatchesArePinnedCpuTensorsWithTheSameValues) {
  SKIP_WITHOUT_GPU();
  auto ds = make_set(5, 40);
  data::DataLoader plain(ds, data::DataLoaderOptions(16).shuffle(false));
  data::DataLoader pinned(ds, data::DataLoaderOptions(16).shuffle(false).pin_memory(true));
  const size_t before = cuda::pinned_host_allocator().stats().allocations;
  auto a = plain.begin();
  auto b = pinned.begin();
  for (; a != plain.end() && b != pinned.end(); ++a, ++b) {
    EXPECT_EQ(b->input.device(), Device::cpu());
    EXPECT_TRUE(b->input.is_contiguous());
    EXPECT_TRUE(allclose(a->input, b->input, 0, 0));
    EXPECT_EQ(a->target.to_vector<int64_t>(), b->target.to_vector<int64_t>());
    EXPECT_TRUE(allclose(b->input.to(kGpu).cpu(), a->input, 0, 0));
  }
  EXPECT_GE(cuda::pinned_host_allocator().stats().allocations, before + 6);  // 3 batches, input + target
}

TEST(CudaPinnedMemory, AFreedBlockIsNotReusedWhileItsCopyMayRun) {
  SKIP_WITHOUT_GPU();
  Allocator& pinned = cuda::pinned_host_allocator();
  auto pinned_tensor = [&](int64_t n) {
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = std::make_shared<Storage>(n * sizeof(float), pinned);
    impl->shape = Shape{n};
    impl->strides = contiguous_strides(impl->shape);
    return Tensor(std::move(impl));
  };
  const int64_t n = int64_t(1) << 24;  // 64 MiB: the copy takes a while
  Tensor dev;
  {
    Tensor host = pinned_tensor(n);
    host.fill_(1.0);
    dev = host.to(kGpu);  // asynchronous from pinned memory
  }                       // freed at once, maybe while the copy still reads it
  Tensor again = pinned_tensor(n);
  again.fill_(2.0);  // must not land in the block the copy reads
  EXPECT_EQ(sum(dev).item<double>(), static_cast<double>(n));
  // Once the stream has passed the free, the block is reused.
  cuda::synchronize(0);
  again = Tensor();
  cuda::synchronize(0);
  const size_t hits = pinned.stats().cache_hits;
  Tensor third = pinned_tensor(n);
  EXPECT_EQ(pinned.stats().cache_hits, hits + 1);
  third = Tensor();
  const MemoryStats s = pinned.stats();
  pinned.empty_cache();
  EXPECT_LE(pinned.stats().bytes_cached, s.bytes_cached);
}
