// DistributedDataParallel under mpirun: N ranks with B/N samples each reach the same parameters
// as one process with the whole batch B (MLP and CNN, several bucket sizes down to buckets
// smaller than one tensor), buckets start during backward, no_sync accumulates locally, and the
// Trainer's gradient accumulation over DDP equals one process's.
#include <gmock/gmock.h>

#include <cmath>
#include <sstream>

#include "magmadnn/magmadnn.h"
#include "mpi/mpi_test_main.h"

using namespace magmadnn;

namespace {
dist::ProcessGroup& pg() { return *mpi_test::group(); }

std::shared_ptr<nn::Module> make_mlp() {
  return std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(6, 16), std::make_shared<nn::ReLU>(),
                                          std::make_shared<nn::Linear>(16, 8), std::make_shared<nn::ReLU>(),
                                          std::make_shared<nn::Linear>(8, 3));
}
std::shared_ptr<nn::Module> make_cnn() {
  return std::make_shared<nn::Sequential>(std::make_shared<nn::Conv2d>(nn::Conv2dOptions(1, 4, 3)),
                                          std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2),
                                          std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(4 * 3 * 3, 3));
}

// Trains `steps` SGD steps; with ddp the rank uses rows [chunk) of each batch.
std::vector<Tensor> train_steps(const std::function<std::shared_ptr<nn::Module>()>& make, const Shape& sample, bool ddp,
                          size_t bucket_bytes, int steps) {
  const int64_t B = 12;  // divisible by 2 and 3 ranks
  // Ranks other than 0 start from different weights: DDP must broadcast rank 0's.
  manual_seed(ddp && pg().rank() != 0 ? 7 + pg().rank() : 100);
  auto model = make();
  std::shared_ptr<nn::Module> net = model;
  std::shared_ptr<dist::DistributedDataParallel> wrapped;
  if (ddp) net = wrapped = std::make_shared<dist::DistributedDataParallel>(model, mpi_test::group(), bucket_bytes);
  optim::SGD opt(net->parameters(), optim::SGDOptions(0.1));
  manual_seed(5);
  for (int s = 0; s < steps; ++s) {
    std::vector<int64_t> dims{B};
    dims.insert(dims.end(), sample.begin(), sample.end());
    Tensor x = randn(Shape(dims));
    Tensor y = randint(0, 3, {B});
    if (ddp) {
      auto [b, e] = pg().chunk_range(B, pg().rank());
      x = x.slice(0, b, e).contiguous();
      y = y.slice(0, b, e).contiguous();
    }
    opt.zero_grad();
    cross_entropy(net->forward(x), y).backward();
    opt.step();
  }
  std::vector<Tensor> out;
  for (const Tensor& p : model->parameters()) out.push_back(p.detach().clone());
  return out;
}

void expect_close(const std::vector<Tensor>& a, const std::vector<Tensor>& b, double rel) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    auto u = a[k].to_vector<float>(), v = b[k].to_vector<float>();
    ASSERT_EQ(u.size(), v.size());
    for (size_t i = 0; i < u.size(); ++i)
      ASSERT_NEAR(u[i], v[i], rel * std::max(1.0f, std::fabs(v[i]))) << "parameter " << k << " element " << i;
  }
}
}  // namespace

TEST(Ddp, MlpMatchesSingleProcessForSeveralBucketSizes) {
  auto reference = train_steps(make_mlp, {6}, false, 0, 4);
  for (size_t bytes : {size_t(64), size_t(600), size_t(4096), dist::DistributedDataParallel::kDefaultBucketBytes}) {
    SCOPED_TRACE("bucket bytes " + std::to_string(bytes));
    expect_close(train_steps(make_mlp, {6}, true, bytes, 4), reference, 1e-5);
  }
}

TEST(Ddp, CnnMatchesSingleProcess) {
  auto reference = train_steps(make_cnn, {1, 8, 8}, false, 0, 3);
  for (size_t bytes : {size_t(100), size_t(1) << 20}) {
    SCOPED_TRACE("bucket bytes " + std::to_string(bytes));
    expect_close(train_steps(make_cnn, {1, 8, 8}, true, bytes, 3), reference, 1e-5);
  }
}

TEST(Ddp, BucketsSmallerThanATensorHoldOneEach) {
  manual_seed(1);
  dist::DistributedDataParallel ddp(make_mlp(), mpi_test::group(), 16);
  auto buckets = ddp.bucket_assignment();
  ASSERT_EQ(buckets.size(), 6u);
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(buckets[i], std::vector<size_t>{5 - i});  // reverse order
  dist::DistributedDataParallel one(make_mlp(), mpi_test::group());
  ASSERT_EQ(one.bucket_assignment().size(), 1u);
}

TEST(Ddp, FirstBucketStartsBeforeBackwardFinishes) {
  manual_seed(2);
  dist::DistributedDataParallel ddp(make_mlp(), mpi_test::group(), 64);
  Tensor x = randn({4, 6});
  Tensor y = randint(0, 3, {4});
  cross_entropy(ddp.forward(x), y).backward();
  const auto& launches = ddp.last_launches();
  ASSERT_EQ(launches.size(), 6u);
  // The first all-reduce went out when only the last layer's gradients existed.
  EXPECT_EQ(launches.front().bucket, 0u);
  EXPECT_LT(launches.front().grads_ready, 6u);
  EXPECT_EQ(launches.back().grads_ready, 6u);
}

TEST(Ddp, NoSyncAccumulatesThenSynchronisesTheSum) {
  manual_seed(3);
  auto model = make_mlp();
  dist::DistributedDataParallel ddp(model, mpi_test::group());
  const int r = pg().rank(), p = pg().size();
  Tensor x1 = full({2, 6}, 0.1 * (r + 1)), x2 = full({2, 6}, -0.2 * (r + 1));
  Tensor y = from_vector<int64_t>({0, 2});
  {
    auto guard = ddp.no_sync();
    cross_entropy(ddp.forward(x1), y).backward();
  }
  EXPECT_TRUE(ddp.last_launches().empty());
  cross_entropy(ddp.forward(x2), y).backward();
  // Expected: the average over ranks of each rank's (g1 + g2), computed by hand with a plain copy.
  auto plain = make_mlp();
  plain->load_state_dict(model->state_dict());
  double want = 0;
  for (int q = 0; q < p; ++q) {
    plain->zero_grad();
    cross_entropy(plain->forward(full({2, 6}, 0.1 * (q + 1))), y).backward();
    cross_entropy(plain->forward(full({2, 6}, -0.2 * (q + 1))), y).backward();
    want += plain->parameters().back().grad().to_vector<float>()[0] / p;
  }
  EXPECT_NEAR(model->parameters().back().grad().to_vector<float>()[0], want, 1e-5);
}

TEST(Ddp, TrainerAccumulationMatchesSingleProcess) {
  // 48 samples; one process: batches of 12, accumulate 2 (two steps of 24 samples). DDP: each rank
  // reads its strided shard in batches of 12 / N, so the ranks' batch t is the single process's
  // batch t; the Trainer holds DDP's no_sync over the first batch of each group.
  manual_seed(21);
  auto data = std::make_shared<data::TensorDataset>(randn({48, 6}), randint(0, 3, {48}));
  auto run = [&](bool ddp) {
    manual_seed(ddp && pg().rank() != 0 ? 50 + pg().rank() : 40);  // DDP broadcasts rank 0's weights
    auto model = make_mlp();
    std::shared_ptr<nn::Module> net = model;
    train::TrainerOptions o;
    o.progress = train::ProgressMode::None;
    std::ostringstream out;
    o.out = &out;
    o.accumulate_steps = 2;
    auto options = data::DataLoaderOptions(12).shuffle(false).prefetch(false);
    if (ddp) {
      auto wrapped = std::make_shared<dist::DistributedDataParallel>(model, mpi_test::group());
      o.no_sync = [wrapped] { return std::make_shared<dist::DistributedDataParallel::NoSyncGuard>(*wrapped); };
      net = wrapped;
      options.batch_size(12 / pg().size()).num_shards(pg().size()).shard(pg().rank());
    }
    auto opt = std::make_shared<optim::SGD>(net->parameters(), optim::SGDOptions(0.1).momentum(0.9));
    train::Trainer trainer(net, opt, o);
    data::DataLoader loader(data, options);
    trainer.fit(loader);
    EXPECT_EQ(trainer.global_step(), 2);
    std::vector<Tensor> params;
    for (const Tensor& q : model->parameters()) params.push_back(q.detach().clone());
    return params;
  };
  expect_close(run(/*ddp=*/true), run(/*ddp=*/false), 1e-5);
}

MPI_TEST_MAIN
