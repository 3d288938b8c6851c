// NcclProcessGroup under mpirun (-np 2 and 3), one GPU per rank (NCCL refuses two ranks on one
// GPU): the id is broadcast over MPI, every collective against hand-computed values, uneven
// gathers and scatters, a send/recv ring, a peer that never joins (timeout, abort), and DDP
// over NCCL against one process. Skipped (every rank alike) without NCCL or with fewer GPUs
// than ranks.
#include <gmock/gmock.h>

#include <cmath>

#include "common/error_of.h"
#include "common/nccl_test_util.h"
#include "magmadnn/backend/backend.h"
#include "magmadnn/backend/cuda.h"
#include "magmadnn/magmadnn.h"
#include "mpi/mpi_test_main.h"

using namespace magmadnn;
using magmadnn::testing::error_of;
using ::testing::HasSubstr;

namespace {
dist::ProcessGroup& mpi() { return *mpi_test::group(); }

#define SKIP_WITHOUT_GPU_PER_RANK()                                                                    \
  if (!dist::nccl_available()) GTEST_SKIP() << "this build has no NCCL; NCCL tests skipped";           \
  if (cuda::device_count() < mpi().size())                                                             \
  GTEST_SKIP() << "NCCL needs one GPU per rank: " << cuda::device_count() << " GPU(s) for " << mpi().size() \
               << " ranks (" << cuda::unavailable_reason() << ")"

Device my_gpu() { return Device::cuda(mpi().rank() % cuda::device_count()); }

std::shared_ptr<dist::ProcessGroup> make_group() { return nccltest::group_on(my_gpu()); }
using nccltest::host;
}  // namespace

TEST(NcclMpi, CollectivesAgainstHandComputedValues) {
  SKIP_WITHOUT_GPU_PER_RANK();
  auto g = make_group();
  const int r = g->rank(), p = g->size();
  ASSERT_EQ(r, mpi().rank());
  ASSERT_EQ(p, mpi().size());
  const Device d = my_gpu();

  Tensor t = from_vector<float>({float(r), float(r + 1), 10.f * r}).to(d);
  g->all_reduce(t);
  const float s = p * (p - 1) / 2.f;
  EXPECT_EQ(host<float>(t), (std::vector<float>{s, s + p, 10 * s}));
  Tensor a = from_vector<double>({double(r), 1.0}).to(d);
  g->all_reduce(a, dist::ReduceOp::Avg);
  EXPECT_DOUBLE_EQ(host<double>(a)[0], (p - 1) / 2.0);
  EXPECT_DOUBLE_EQ(host<double>(a)[1], 1.0);
  Tensor i = from_vector<int64_t>({int64_t(r) * 3}).to(d);
  g->all_reduce(i);
  EXPECT_EQ(host<int64_t>(i)[0], 3 * p * (p - 1) / 2);

  for (int root = 0; root < p; ++root) {
    Tensor b = (r == root ? from_vector<float>({7.f + root, -1.f}) : zeros({2})).to(d);
    g->broadcast(b, root);
    EXPECT_EQ(host<float>(b), (std::vector<float>{7.f + root, -1.f}));
  }

  Tensor in = full({2}, double(r), kFloat32, d), out = zeros({2 * p}, kFloat32, d);
  g->all_gather(in, out);
  const auto gathered = host<float>(out);
  for (int q = 0; q < p; ++q) EXPECT_EQ(gathered[2 * q], float(q));

  // Uneven first dimensions: rank q has q + 1 rows of 2.
  Tensor rows = full({r + 1, 2}, double(r), kFloat64, d);
  std::vector<Tensor> parts;
  g->all_gather(rows, parts);
  ASSERT_EQ(parts.size(), size_t(p));
  for (int q = 0; q < p; ++q) {
    EXPECT_EQ(parts[q].shape(), Shape({q + 1, 2}));
    EXPECT_EQ(host<double>(parts[q]), std::vector<double>(2 * (q + 1), double(q)));
  }

  // Uneven reduce-scatter: 2p + 1 elements, the first rank gets one more.
  const int64_t n = 2 * p + 1;
  Tensor src = arange(0.0, double(n), 1.0, kFloat32, d) * double(r + 1);
  auto [b, e] = g->chunk_range(n, r);
  Tensor mine = zeros({e - b}, kFloat32, d);
  g->reduce_scatter(src, mine);
  const float ranks_sum = p * (p + 1) / 2.f;
  auto got = host<float>(mine);
  for (int64_t k = b; k < e; ++k) EXPECT_FLOAT_EQ(got[k - b], k * ranks_sum);
  Tensor mine_avg = zeros({e - b}, kFloat32, d);
  g->reduce_scatter(src, mine_avg, dist::ReduceOp::Avg);
  got = host<float>(mine_avg);
  for (int64_t k = b; k < e; ++k) EXPECT_FLOAT_EQ(got[k - b], k * ranks_sum / p);

  g->barrier();
}

TEST(NcclMpi, SendRecvRing) {
  SKIP_WITHOUT_GPU_PER_RANK();
  auto g = make_group();
  const int r = g->rank(), p = g->size();
  const Device d = my_gpu();
  Tensor out = full({5}, double(r), kFloat32, d), in = zeros({5}, kFloat32, d);
  // Even ranks send first, odd ranks receive first: NCCL's blocking sends would otherwise wait
  // on each other in the ring.
  if (r % 2 == 0) {
    g->send(out, (r + 1) % p);
    g->recv(in, (r + p - 1) % p);
  } else {
    g->recv(in, (r + p - 1) % p);
    g->send(out, (r + 1) % p);
  }
  EXPECT_EQ(host<float>(in), std::vector<float>(5, float((r + p - 1) % p)));
}

// Rank 0 waits on an all-reduce no peer joins: it times out and aborts its communicator. Then the
// others wait on one rank 0 (aborted) never joins, and time out too; no rank is left to hang in
// the communicator's teardown.
TEST(NcclMpi, PeerThatNeverJoinsTimesOut) {
  SKIP_WITHOUT_GPU_PER_RANK();
  auto g = make_group();
  const Device d = my_gpu();
  Tensor t = ones({8}, kFloat32, d);
  g->all_reduce(t);  // connects the ranks first (NCCL connects lazily, on the host)
  g->barrier();
  const std::string who = "ProcessGroup(nccl): rank " + std::to_string(g->rank()) + " of " + std::to_string(g->size());
  auto lonely_all_reduce = [&] {
    g->set_timeout(std::chrono::milliseconds(1500));
    auto w = g->all_reduce_async(t);
    EXPECT_THAT(error_of([&] { w->synchronize(); }),
                HasSubstr(who + ": all_reduce(8 elements) did not complete within 1500 ms (a peer rank did not join "
                                "it, died, or is stuck); the NCCL communicator was aborted"));
    EXPECT_THAT(error_of([&] { g->all_reduce(t); }), HasSubstr("the NCCL communicator was aborted"));
  };
  if (g->rank() == 0) lonely_all_reduce();
  mpi().barrier();
  if (g->rank() != 0) lonely_all_reduce();
  mpi().barrier();
}

TEST(NcclMpi, DdpMatchesSingleProcess) {
  SKIP_WITHOUT_GPU_PER_RANK();
  auto g = make_group();
  const Device d = my_gpu();
  auto make = [] {
    return std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(6, 16), std::make_shared<nn::ReLU>(),
                                            std::make_shared<nn::Linear>(16, 3));
  };
  auto train = [&](bool ddp) {
    const int64_t B = 12;
    manual_seed(ddp && g->rank() != 0 ? 7 + g->rank() : 100);  // DDP must broadcast rank 0's weights
    auto model = make();
    model->to(d);
    std::shared_ptr<nn::Module> net = model;
    if (ddp) net = std::make_shared<dist::DistributedDataParallel>(model, g, 256);
    optim::SGD opt(net->parameters(), optim::SGDOptions(0.1));
    manual_seed(5);
    for (int s = 0; s < 4; ++s) {
      Tensor x = randn({B, 6}), y = randint(0, 3, {B});
      if (ddp) {
        auto [b, e] = g->chunk_range(B, g->rank());
        x = x.slice(0, b, e).contiguous();
        y = y.slice(0, b, e).contiguous();
      }
      opt.zero_grad();
      cross_entropy(net->forward(x.to(d)), y.to(d)).backward();
      opt.step();
    }
    std::vector<Tensor> out;
    for (const Tensor& p : model->parameters()) out.push_back(p.detach().to(Device::cpu()));
    return out;
  };
  if (12 % g->size() != 0) GTEST_SKIP() << "the batch of 12 does not split evenly";
  const auto reference = train(false), got = train(true);
  ASSERT_EQ(got.size(), reference.size());
  for (size_t k = 0; k < got.size(); ++k) {
    const auto u = got[k].to_vector<float>(), v = reference[k].to_vector<float>();
    for (size_t i = 0; i < u.size(); ++i)
      ASSERT_NEAR(u[i], v[i], 1e-5 * std::max(1.0f, std::fabs(v[i]))) << "parameter " << k << " element " << i;
  }
}

MPI_TEST_MAIN
