// NcclProcessGroup with one rank on one GPU (no MPI): every collective against hand-computed
// values (identities with one rank, but through NCCL: Avg, uneven gathers and scatters), non-blocking
// waits, the wrong-device / non-contiguous errors, the timeout that aborts the communicator, and
// DDP over NCCL on the GPU against the single-process CPU run. Skips with a message without NCCL
// or a GPU; the factory's errors are checked everywhere.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "common/error_of.h"
#include "common/nccl_test_util.h"
#include "magmadnn/backend/backend.h"
#include "magmadnn/backend/cuda.h"
#include "magmadnn/magmadnn.h"
#include "magmadnn/dist/sync_batch_norm.h"

using namespace magmadnn;
using magmadnn::testing::error_of;
using ::testing::HasSubstr;

namespace {

#define SKIP_WITHOUT_NCCL_GPU()                                                                          \
  if (!dist::nccl_available()) GTEST_SKIP() << "this build has no NCCL; NCCL tests skipped";             \
  if (cuda::device_count() == 0)                                                                         \
  GTEST_SKIP() << "no CUDA device (" << cuda::unavailable_reason() << "); NCCL tests skipped"

const Device kGpu = Device::cuda(0);

std::shared_ptr<dist::ProcessGroup> make_group() { return nccltest::group_on(kGpu); }

using nccltest::host;

}  // namespace

// ------------------------------------------------------------------------------ everywhere

TEST(NcclFactory, ClearErrorWithoutNcclOrGpu) {
  if (!dist::nccl_available()) {
    EXPECT_THAT(error_of([] { dist::init_process_group("nccl"); }), HasSubstr("this build of MagmaDNN has no NCCL"));
  } else if (cuda::device_count() == 0) {
    EXPECT_THAT(error_of([] { dist::init_process_group("nccl"); }), HasSubstr("init_process_group(\"nccl\"): no CUDA device"));
  } else {
    GTEST_SKIP() << "NCCL and a GPU are present (the group is tested below)";
  }
  EXPECT_FALSE(dist::nccl_available() && !cuda::is_built());
}

// ------------------------------------------------------------------------------ one GPU

TEST(NcclGroup, OneRankOnTheCurrentDevice) {
  SKIP_WITHOUT_NCCL_GPU();
  auto g = make_group();
  EXPECT_EQ(g->rank(), 0);
  EXPECT_EQ(g->size(), 1);
  EXPECT_EQ(g->backend(), "nccl");
}

TEST(NcclGroup, AllReduceSumAndAvg) {
  SKIP_WITHOUT_NCCL_GPU();
  auto g = make_group();
  Tensor t = from_vector<float>({1.f, 2.f, -3.5f}).to(kGpu);
  t = t * 2.0;  // queued on the compute stream before the all-reduce: it must see it
  g->all_reduce(t);
  EXPECT_EQ(host<float>(t), (std::vector<float>{2.f, 4.f, -7.f}));
  g->all_reduce(t, dist::ReduceOp::Avg);
  EXPECT_EQ(host<float>(t), (std::vector<float>{2.f, 4.f, -7.f}));
  Tensor d = from_vector<double>({0.25, 1e300}).to(kGpu);
  g->all_reduce(d, dist::ReduceOp::Avg);
  EXPECT_EQ(host<double>(d), (std::vector<double>{0.25, 1e300}));
  Tensor i = from_vector<int64_t>({int64_t(1) << 40, -5}).to(kGpu);
  g->all_reduce(i);
  EXPECT_EQ(host<int64_t>(i), (std::vector<int64_t>{int64_t(1) << 40, -5}));
  EXPECT_THAT(error_of([&] { g->all_reduce(i, dist::ReduceOp::Avg); }),
              HasSubstr("ProcessGroup(nccl)::all_reduce: ReduceOp::Avg needs a floating tensor, got int64"));
  Tensor none = empty({0}, kFloat32, kGpu);
  g->all_reduce(none);
  EXPECT_EQ(none.numel(), 0);
}

TEST(NcclGroup, NonBlockingAllReducesWaitedOutOfOrder) {
  SKIP_WITHOUT_NCCL_GPU();
  auto g = make_group();
  std::vector<Tensor> ts;
  std::vector<std::shared_ptr<dist::Work>> ws;
  for (int k = 0; k < 4; ++k) {
    ts.push_back(full({1000 + k}, double(k) + 0.5, kFloat64, kGpu));
    ws.push_back(g->all_reduce_async(ts.back(), k % 2 ? dist::ReduceOp::Avg : dist::ReduceOp::Sum));
  }
  for (int k = 3; k >= 0; --k) ws[k]->wait();  // orders the compute stream; no host wait
  for (int k = 0; k < 4; ++k) {
    Tensor after = ts[k] + 1.0;  // compute-stream work after wait() sees the result
    auto v = host<double>(after);
    ASSERT_EQ(v.size(), size_t(1000 + k));
    EXPECT_DOUBLE_EQ(v.front(), k + 1.5);
    EXPECT_DOUBLE_EQ(v.back(), k + 1.5);
  }
  ws[0]->synchronize();
  EXPECT_TRUE(ws[0]->is_completed());
  auto w = g->all_reduce_async(ts[0]);
  w->synchronize();  // the host wait with the deadline
  EXPECT_TRUE(w->is_completed());
  w->wait();
}

TEST(NcclGroup, BroadcastAndRootRange) {
  SKIP_WITHOUT_NCCL_GPU();
  auto g = make_group();
  Tensor t = from_vector<float>({7.f, -1.f}).to(kGpu);
  g->broadcast(t, 0);
  EXPECT_EQ(host<float>(t), (std::vector<float>{7.f, -1.f}));
  EXPECT_THAT(error_of([&] { g->broadcast(t, 1); }),
              HasSubstr("ProcessGroup(nccl)::broadcast: rank 1 out of range for a group of size 1"));
}

TEST(NcclGroup, AllGatherFixedAndUnevenFirstDimensions) {
  SKIP_WITHOUT_NCCL_GPU();
  auto g = make_group();
  Tensor in = from_vector<float>({1.f, 2.f, 3.f}).to(kGpu);
  Tensor out = zeros({3}, kFloat32, kGpu);
  g->all_gather(in, out);
  EXPECT_EQ(host<float>(out), (std::vector<float>{1.f, 2.f, 3.f}));
  Tensor small = zeros({2}, kFloat32, kGpu);
  EXPECT_THAT(error_of([&] { g->all_gather(in, small); }),
              HasSubstr("ProcessGroup::all_gather: output needs 3 elements of float32, got (2) float32"));

  Tensor rows = arange(0.0, 6.0, 1.0, kFloat64).reshape({3, 2}).to(kGpu);
  std::vector<Tensor> parts;
  g->all_gather(rows, parts);
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].shape(), Shape({3, 2}));
  EXPECT_EQ(parts[0].device(), kGpu);
  EXPECT_EQ(host<double>(parts[0]), (std::vector<double>{0, 1, 2, 3, 4, 5}));
  Tensor no_rows = empty({0, 4}, kInt64, kGpu);
  g->all_gather(no_rows, parts);
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].shape(), Shape({0, 4}));
  EXPECT_THAT(error_of([&] { g->all_gather(full({}, 1.0, kFloat32, kGpu), parts); }),
              HasSubstr("needs at least one dimension"));
}

TEST(NcclGroup, ReduceScatterSumAvgAndSizes) {
  SKIP_WITHOUT_NCCL_GPU();
  auto g = make_group();
  Tensor in = from_vector<float>({1, 2, 3, 4, 5, 6, 7}).to(kGpu);  // 7 elements: one rank gets all
  Tensor out = zeros({7}, kFloat32, kGpu);
  g->reduce_scatter(in, out);
  EXPECT_EQ(host<float>(out), (std::vector<float>{1, 2, 3, 4, 5, 6, 7}));
  Tensor avg = zeros({7}, kFloat32, kGpu);
  g->reduce_scatter_async(in, avg, dist::ReduceOp::Avg)->synchronize();
  EXPECT_EQ(host<float>(avg), (std::vector<float>{1, 2, 3, 4, 5, 6, 7}));
  Tensor wrong = zeros({3}, kFloat32, kGpu);
  EXPECT_THAT(error_of([&] { g->reduce_scatter(in, wrong); }),
              HasSubstr("ProcessGroup::reduce_scatter: rank 0 needs an output of 7 float32 elements, got (3) float32"));
}

TEST(NcclGroup, BarrierWaitsOnTheHost) {
  SKIP_WITHOUT_NCCL_GPU();
  auto g = make_group();
  g->barrier();
  auto w = g->barrier_async();
  w->wait();
  EXPECT_TRUE(w->is_completed());
}

TEST(NcclGroup, SendRecvToItselfByTag) {
  SKIP_WITHOUT_NCCL_GPU();
  auto g = make_group();
  Tensor a = from_vector<float>({1.f, 2.f}).to(kGpu), b = from_vector<float>({3.f}).to(kGpu);
  g->send(a, 0, 3);
  g->send(b, 0, 4);
  a.fill_(0.0);  // the message is a copy
  Tensor rb = zeros({1}, kFloat32, kGpu), ra = zeros({2}, kFloat32, kGpu);
  g->recv(rb, 0, 4);
  g->recv(ra, 0, 3);
  EXPECT_EQ(host<float>(ra), (std::vector<float>{1.f, 2.f}));
  EXPECT_EQ(host<float>(rb), (std::vector<float>{3.f}));
  EXPECT_THAT(error_of([&] { g->recv(ra, 0, 3); }), HasSubstr("no message to itself with tag 3"));
  EXPECT_THAT(error_of([&] { g->send(a, 1); }), HasSubstr("ProcessGroup(nccl)::send: rank 1 out of range"));
}

// CPU tensors (the CLI's metrics and serialised state) are staged through the device.
TEST(NcclGroup, CpuTensorsAreStagedThroughTheDevice) {
  SKIP_WITHOUT_NCCL_GPU();
  auto g = make_group();
  Tensor cpu = from_vector<double>({1, 2, 3}, {3});
  g->all_reduce(cpu, dist::ReduceOp::Avg);
  EXPECT_EQ(cpu.device(), Device::cpu());
  EXPECT_EQ(cpu.to_vector<double>(), (std::vector<double>{1, 2, 3}));
  g->broadcast(cpu, 0);
  EXPECT_EQ(cpu.to_vector<double>(), (std::vector<double>{1, 2, 3}));
  Tensor out = zeros({3}, kFloat64);
  g->all_gather(cpu, out);
  EXPECT_EQ(out.to_vector<double>(), (std::vector<double>{1, 2, 3}));
  std::vector<Tensor> parts;
  g->all_gather(from_vector<int64_t>({7, 8}, {2}), parts);
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].device(), Device::cpu());
  EXPECT_EQ(parts[0].to_vector<int64_t>(), (std::vector<int64_t>{7, 8}));
}

TEST(NcclGroup, WrongDeviceAndNonContiguousAreErrors) {
  SKIP_WITHOUT_NCCL_GPU();
  auto g = make_group();
  Tensor strided = zeros({2, 3}, kFloat32, kGpu).t();
  EXPECT_THAT(error_of([&] { g->broadcast(strided, 0); }),
              HasSubstr("ProcessGroup(nccl)::broadcast: needs a contiguous tensor on cuda:0, got shape (3, 2) with "
                        "strides that are not row-major"));
  if (cuda::device_count() > 1) {
    Tensor other = zeros({2}, kFloat32, Device::cuda(1));
    EXPECT_THAT(error_of([&] { g->all_reduce(other); }), HasSubstr("got one on cuda:1"));
    backend_for(kGpu);
  }
}

// ------------------------------------------------------------------------------ DDP over NCCL

namespace {
std::shared_ptr<nn::Module> make_mlp() {
  return std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(6, 16), std::make_shared<nn::ReLU>(),
                                          std::make_shared<nn::Linear>(16, 8), std::make_shared<nn::ReLU>(),
                                          std::make_shared<nn::Linear>(8, 3));
}

// `steps` SGD steps of DDP(MLP) over `group` with the model and data on `device`; parameters
// returned on the CPU.
std::vector<Tensor> train_ddp(const std::shared_ptr<dist::ProcessGroup>& group, Device device, size_t bucket_bytes,
                              int steps) {
  manual_seed(100);
  auto model = make_mlp();
  model->to(device);
  auto ddp = std::make_shared<dist::DistributedDataParallel>(model, group, bucket_bytes);
  optim::SGD opt(ddp->parameters(), optim::SGDOptions(0.1).momentum(0.9));
  manual_seed(5);
  for (int s = 0; s < steps; ++s) {
    Tensor x = randn({12, 6}).to(device);
    Tensor y = randint(0, 3, {12}).to(device);
    opt.zero_grad();
    cross_entropy(ddp->forward(x), y).backward();
    opt.step();
  }
  std::vector<Tensor> out;
  for (const Tensor& p : model->parameters()) out.push_back(p.detach().to(Device::cpu()));
  return out;
}
}  // namespace

// SyncBatchNorm over a one-rank NCCL group on the GPU equals BatchNorm2d on the CPU: outputs,
// input/parameter gradients and running statistics (its statistics stay on the device).
TEST(NcclSyncBatchNorm, OneGpuMatchesBatchNormOnTheCpu) {
  SKIP_WITHOUT_NCCL_GPU();
  auto g = make_group();
  manual_seed(12);
  auto bn = std::make_shared<nn::BatchNorm2d>(3);
  auto sync = std::make_shared<dist::SyncBatchNorm>(nn::BatchNormOptions(3), g);
  sync->load_state_dict(bn->state_dict());
  sync->to(kGpu);
  for (int step = 0; step < 3; ++step) {
    const Tensor x0 = randn({4, 3, 5, 5}) * 2.0 + 1.0, r = randn({4, 3, 5, 5});
    Tensor xc = x0.detach().requires_grad_(true), xg = x0.to(kGpu).detach().requires_grad_(true);
    const Tensor yc = bn->forward(xc), yg = sync->forward(xg);
    sum(yc * r).backward();
    sum(yg * r.to(kGpu)).backward();
    const auto close = [](const Tensor& got, const Tensor& want, const std::string& what) {
      const auto u = got.to_vector<float>(), v = want.to_vector<float>();
      ASSERT_EQ(u.size(), v.size()) << what;
      for (size_t i = 0; i < u.size(); ++i) ASSERT_NEAR(u[i], v[i], 1e-4 * (1 + std::fabs(v[i]))) << what << " " << i;
    };
    close(yg, yc, "output");
    close(xg.grad(), xc.grad(), "grad x");
    close(sync->weight().grad(), bn->weight().grad(), "grad weight");
    close(sync->bias().grad(), bn->bias().grad(), "grad bias");
  }
  const auto a = sync->state_dict(), b = bn->state_dict();
  for (const char* k : {"running_mean", "running_var"}) {
    const auto u = a.at(k).to_vector<double>(), v = b.at(k).to_vector<double>();
    for (size_t i = 0; i < u.size(); ++i) EXPECT_NEAR(u[i], v[i], 1e-5) << k;
  }
  EXPECT_EQ(a.at("num_batches_tracked").to_vector<int64_t>(), b.at("num_batches_tracked").to_vector<int64_t>());
}

TEST(NcclDdp, OneGpuMatchesTheSingleProcessCpuResult) {
  SKIP_WITHOUT_NCCL_GPU();
  const auto reference = train_ddp(dist::init_process_group("local"), Device::cpu(), 600, 5);
  auto g = make_group();
  for (size_t bytes : {size_t(64), size_t(600), dist::DistributedDataParallel::kDefaultBucketBytes}) {
    SCOPED_TRACE("bucket bytes " + std::to_string(bytes));
    const auto got = train_ddp(g, kGpu, bytes, 5);
    ASSERT_EQ(got.size(), reference.size());
    for (size_t k = 0; k < got.size(); ++k) {
      const auto u = got[k].to_vector<float>(), v = reference[k].to_vector<float>();
      ASSERT_EQ(u.size(), v.size());
      for (size_t i = 0; i < u.size(); ++i)
        ASSERT_NEAR(u[i], v[i], 1e-5 * std::max(1.0f, std::fabs(v[i]))) << "parameter " << k << " element " << i;
    }
  }
}

// ------------------------------------------------------------------------------ timeout (last: it aborts)

// The compute stream is kept busy with large matmuls, so an all-reduce queued behind them cannot
// finish within a 1 ms timeout: synchronize() must abort the communicator and say so.
TEST(NcclGroup, TimeoutAbortsTheCommunicator) {
  SKIP_WITHOUT_NCCL_GPU();
  auto g = make_group();
  Tensor x = full({4096, 4096}, 1.0 / 4096, kFloat32, kGpu);
  Tensor w = full({4096, 4096}, 1.0 / 4096, kFloat32, kGpu);
  cuda::synchronize(0);
  g->set_timeout(std::chrono::milliseconds(1));
  for (int k = 0; k < 40; ++k) x = matmul(x, w);  // ~5.5 TFLOP queued
  Tensor t = ones({16}, kFloat32, kGpu);
  auto work = g->all_reduce_async(t);
  const std::string err = error_of([&] { work->synchronize(); });
  if (err == "<no error>") GTEST_SKIP() << "the queued matmuls finished within 1 ms: the timeout was not provoked";
  EXPECT_THAT(err, HasSubstr("ProcessGroup(nccl): rank 0 of 1: all_reduce(16 elements) did not complete within 1 ms "
                             "(a peer rank did not join it, died, or is stuck); the NCCL communicator was aborted"));
  EXPECT_THAT(error_of([&] { work->synchronize(); }), HasSubstr("all_reduce(16 elements) already timed out"));
  EXPECT_THAT(error_of([&] { g->all_reduce(t); }),
              HasSubstr("ProcessGroup(nccl): rank 0 of 1: all_reduce(16 elements): the NCCL communicator was aborted "
                        "(all_reduce(16 elements) did not complete within 1 ms)"));
  work.reset();
  cuda::synchronize(0);  // the device survives the abort
  EXPECT_NEAR(host<float>(sum(x))[0] / (4096.f * 4096.f), 1.f / 4096.f, 1e-6f);
  auto fresh = make_group();
  Tensor u = full({3}, 2.0, kFloat32, kGpu);
  fresh->all_reduce(u, dist::ReduceOp::Avg);
  EXPECT_EQ(host<float>(u), (std::vector<float>{2.f, 2.f, 2.f}));
}
