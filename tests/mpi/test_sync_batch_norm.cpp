// SyncBatchNorm under mpirun: N ranks holding slices of one batch (even and very uneven) give the
// output, input gradient and (summed) parameter gradients of one BatchNorm2d on the whole batch,
// the same running statistics, the same eval output; convert_sync_batchnorm swaps the layers of
// a Sequential and of ResNet's blocks and keeps the state-dict keys; with DDP a small CNN and a
// ResNet train like one process on the whole batch.
#include <gmock/gmock.h>

#include <cmath>
#include <functional>

#include "common/error_of.h"
#include "magmadnn/dist/sync_batch_norm.h"
#include "magmadnn/magmadnn.h"
#include "mpi/mpi_test_main.h"

using namespace magmadnn;

namespace {
// A module that calls its batch norm through a member it does not re-point (no child_replaced).
struct Block : nn::Module {
  Block() { bn = register_module("bn", std::make_shared<nn::BatchNorm2d>(2)); }
  Tensor forward(const Tensor& x) override { return bn->forward(x); }
  std::shared_ptr<nn::BatchNorm2d> bn;
};

dist::ProcessGroup& pg() {
  return *mpi_test::group();
}

void expect_close(const Tensor& a, const Tensor& b, double tol, const std::string& what) {
  auto u = a.contiguous().to_vector<float>(), v = b.contiguous().to_vector<float>();
  ASSERT_EQ(u.size(), v.size()) << what;
  for (size_t i = 0; i < u.size(); ++i)
    ASSERT_NEAR(u[i], v[i], tol * std::max(1.0f, std::fabs(v[i]))) << what << " element " << i;
}

// Rows [begin, end) of the batch for this rank: even chunks, or (first >= 0) `first` rows on
// rank 0 and the rest split over the others.
constexpr int64_t kEven = -1;
std::pair<int64_t, int64_t> rows(int64_t B, int64_t first) {
  const int r = pg().rank(), n = pg().size();
  if (first == kEven) return pg().chunk_range(B, r);
  if (r == 0) return {0, first};
  const int64_t rest = B - first, per = rest / (n - 1), extra = rest % (n - 1);
  const int64_t b = first + (r - 1) * per + std::min<int64_t>(r - 1, extra);
  return {b, b + per + (r - 1 < extra ? 1 : 0)};
}

void check_matches_batch_norm(int64_t B, int64_t first, const Shape& sample) {
  const int64_t C = sample[0];
  manual_seed(11);
  std::vector<int64_t> dims{B};
  dims.insert(dims.end(), sample.begin(), sample.end());
  std::map<std::string, Tensor> init = {{"weight", randn({C})}, {"bias", randn({C})}};

  std::shared_ptr<nn::BatchNormBase> bn_ptr;
  if (sample.size() == 1)
    bn_ptr = std::make_shared<nn::BatchNorm1d>(C);
  else
    bn_ptr = std::make_shared<nn::BatchNorm2d>(C);
  nn::BatchNormBase& bn = *bn_ptr;
  bn.load_state_dict(init, false);
  dist::SyncBatchNorm sync(C, mpi_test::group());
  sync.load_state_dict(init, false);
  auto [b, e] = rows(B, first);

  for (int step = 0; step < 3; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    Tensor x = (randn(Shape(dims)) * 2.0 + 0.5).detach();
    Tensor r = randn(Shape(dims));  // loss = sum(y * r): a generic upstream gradient
    Tensor xf = x.clone().set_requires_grad(true);
    Tensor y = bn(xf);
    sum(y * r).backward();

    Tensor xl = x.slice(0, b, e).contiguous().set_requires_grad(true);
    Tensor yl = sync(xl);
    sum(yl * r.slice(0, b, e)).backward();
    expect_close(yl, y.detach().slice(0, b, e), 1e-5, "output");
    expect_close(xl.grad(), xf.grad().slice(0, b, e), 1e-5, "input gradient");
    Tensor gw = sync.weight().grad().clone(), gb = sync.bias().grad().clone();
    pg().all_reduce(gw);
    pg().all_reduce(gb);
    expect_close(gw, bn.weight().grad(), 1e-5, "weight gradient");
    expect_close(gb, bn.bias().grad(), 1e-5, "bias gradient");
    expect_close(sync.running_mean(), bn.running_mean(), 1e-5, "running_mean");
    expect_close(sync.running_var(), bn.running_var(), 1e-5, "running_var");
    bn.zero_grad();
    sync.zero_grad();
  }
  EXPECT_EQ(sync.state_dict().at("num_batches_tracked").item<int64_t>(), 3);
  bn.eval();
  sync.eval();
  Tensor x = randn(Shape(dims));
  expect_close(sync(x.slice(0, b, e).contiguous()), bn(x).slice(0, b, e), 1e-5, "eval output");
}
}  // namespace

TEST(SyncBatchNorm, EvenSlicesMatchOneBatchNormOnTheWholeBatch) {
  check_matches_batch_norm(12, kEven, {3, 4, 5});
}

TEST(SyncBatchNorm, UnevenSlicesMatch) {
  check_matches_batch_norm(7, kEven, {3, 4, 4});  // chunk sizes differ by one
  check_matches_batch_norm(9, 1, {2, 3, 3});      // rank 0 holds a single sample
}

TEST(SyncBatchNorm, AnEmptyShareAddsNothing) {
  check_matches_batch_norm(9, 0, {2, 3, 3});  // rank 0 holds no sample this time
}

TEST(SyncBatchNorm, TwoDimensionalInput) {
  check_matches_batch_norm(10, 1, {5});
}

TEST(SyncBatchNorm, StateDictKeysMatchBatchNorm2d) {
  nn::BatchNorm2d bn(4);
  dist::SyncBatchNorm sync(4, mpi_test::group());
  auto a = bn.state_dict(), s = sync.state_dict();
  ASSERT_EQ(a.size(), s.size());
  for (auto& [k, v] : a) EXPECT_TRUE(s.count(k)) << k;
  sync.load_state_dict(bn.state_dict());
}

TEST(SyncBatchNorm, ConvertReplacesBatchNormInSequential) {
  auto make = [] {
    manual_seed(3);
    return std::make_shared<nn::Sequential>(
        std::make_shared<nn::Conv2d>(nn::Conv2dOptions(2, 3, 3).padding(1)),
        std::make_shared<nn::BatchNorm2d>(3), std::make_shared<nn::ReLU>(), std::make_shared<nn::Flatten>(),
        std::make_shared<nn::Linear>(3 * 16, 2));
  };
  auto single = make();
  auto converted = make();
  {
    NoGradGuard g;
    converted->at<nn::BatchNorm2d>(1)->running_var().fill_(2.0);  // copied over by the conversion
  }
  auto model = dist::convert_sync_batchnorm(converted, mpi_test::group());
  ASSERT_EQ(model, converted);
  auto sync = converted->at<dist::SyncBatchNorm>(1);
  EXPECT_FLOAT_EQ(sync->running_var().to_vector<float>()[0], 2.0f);
  {
    NoGradGuard g;
    sync->running_var().fill_(1.0);
  }
  EXPECT_EQ(converted->state_dict().size(), single->state_dict().size());
  manual_seed(8);
  Tensor x = randn({8, 2, 4, 4});
  Tensor t = randint(0, 2, {8});
  cross_entropy(single->forward(x), t, Tensor(), Reduction::Sum).backward();
  auto [b, e] = pg().chunk_range(8, pg().rank());
  cross_entropy(model->forward(x.slice(0, b, e).contiguous()), t.slice(0, b, e).contiguous(), Tensor(),
                Reduction::Sum)
      .backward();
  auto p1 = single->named_parameters(), p2 = model->named_parameters();
  ASSERT_EQ(p1.size(), p2.size());
  for (size_t i = 0; i < p1.size(); ++i) {
    EXPECT_EQ(p1[i].first, p2[i].first);
    Tensor g = p2[i].second.grad().clone();
    pg().all_reduce(g);
    expect_close(g, p1[i].second.grad(), 1e-4, p1[i].first);
  }
  // A bare BatchNorm2d is returned converted.
  auto bn = std::make_shared<nn::BatchNorm2d>(3);
  EXPECT_NE(
      std::dynamic_pointer_cast<dist::SyncBatchNorm>(dist::convert_sync_batchnorm(bn, mpi_test::group())),
      nullptr);
}

// With DDP, N ranks each with B/N samples train a model with SyncBatchNorm to the parameters and
// running statistics of one process training it with BatchNorm2d on the whole batch. make()
// builds the model from a fixed seed; inputs are (B, 1, 8, 8), 3 classes.
void check_ddp_with_sync_batch_norm_equals_one_process(const std::function<std::shared_ptr<nn::Module>()>& make,
                                                         double tol) {
  const int64_t B = 12;
  auto run = [&](bool distributed) {
    std::shared_ptr<nn::Module> model = make();
    if (distributed) {
      model = dist::convert_sync_batchnorm(model, mpi_test::group());
      model = std::make_shared<dist::DistributedDataParallel>(model, mpi_test::group());
    }
    optim::SGD opt(model->parameters(), optim::SGDOptions(0.05).momentum(0.9));
    manual_seed(4);
    for (int step = 0; step < 4; ++step) {
      Tensor x = randn({B, 1, 8, 8}) * 1.5 + 0.3;
      Tensor y = randint(0, 3, {B});
      if (distributed) {
        auto [b, e] = pg().chunk_range(B, pg().rank());
        x = x.slice(0, b, e).contiguous();
        y = y.slice(0, b, e).contiguous();
      }
      opt.zero_grad();
      cross_entropy(model->forward(x), y).backward();
      opt.step();
    }
    std::map<std::string, Tensor> out;
    auto inner =
        distributed ? std::dynamic_pointer_cast<dist::DistributedDataParallel>(model)->module() : model;
    for (auto& [k, v] : inner->state_dict()) out.emplace(k, v.clone());
    return out;
  };
  auto ref = run(false), got = run(true);
  ASSERT_EQ(ref.size(), got.size());
  for (auto& [k, v] : ref) {
    ASSERT_TRUE(got.count(k)) << k;
    if (v.dtype() == kInt64)
      EXPECT_EQ(got.at(k).item<int64_t>(), v.item<int64_t>()) << k;
    else
      expect_close(got.at(k), v, tol, k);
  }
}

TEST(SyncBatchNorm, WithDdpTrainsLikeOneProcessOnTheWholeBatch) {
  check_ddp_with_sync_batch_norm_equals_one_process(
      [] {
        manual_seed(21);
        return std::make_shared<nn::Sequential>(
            std::make_shared<nn::Conv2d>(nn::Conv2dOptions(1, 4, 3)), std::make_shared<nn::BatchNorm2d>(4),
            std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2), std::make_shared<nn::Flatten>(),
            std::make_shared<nn::Linear>(4 * 3 * 3, 3));
      },
      1e-5);
}

// ResNet's blocks call their batch norms through members, which they re-point when replaced.
TEST(SyncBatchNorm, WithDdpTrainsAResNetLikeOneProcessOnTheWholeBatch) {
  check_ddp_with_sync_batch_norm_equals_one_process(
      [] {
        manual_seed(22);
        models::ModelConfig c;
        c.in_channels = 1, c.height = 8, c.width = 8, c.num_classes = 3;
        return std::make_shared<models::ResNet>(std::vector<int>{1, 1}, c);  // a projection shortcut too
      },
      1e-4);
}

// A float64 model keeps its dtype: the new layers take the old ones' dtype (and device) before
// their values, and the converted model equals the original in training mode on one batch.
TEST(SyncBatchNorm, ConvertKeepsTheLayersDtype) {
  auto make = [] {
    manual_seed(12);
    auto m = std::make_shared<nn::Sequential>(std::make_shared<nn::Conv2d>(nn::Conv2dOptions(2, 3, 3)),
                                              std::make_shared<nn::BatchNorm2d>(3));
    m->to(kFloat64);
    return m;
  };
  auto plain = make(), converted = make();
  dist::convert_sync_batchnorm(converted, mpi_test::group());
  auto sync = converted->at<dist::SyncBatchNorm>(1);
  EXPECT_EQ(sync->weight().dtype(), kFloat64);
  EXPECT_EQ(sync->running_mean().dtype(), kFloat64);
  manual_seed(13);
  const Tensor x = randn({4, 2, 5, 5}, kFloat64);  // the same batch on every rank
  expect_close(converted->forward(x), plain->forward(x), 1e-12, "float64 SyncBatchNorm output");
}

TEST(SyncBatchNorm, ConvertRecursesIntoNestedSequentialsAndRejectsMemberLayers) {
  auto inner =
      std::make_shared<nn::Sequential>(std::make_shared<nn::BatchNorm2d>(2), std::make_shared<nn::ReLU>());
  auto outer = std::make_shared<nn::Sequential>(inner, std::make_shared<nn::BatchNorm2d>(2));
  dist::convert_sync_batchnorm(outer, mpi_test::group());
  EXPECT_NE(std::dynamic_pointer_cast<dist::SyncBatchNorm>((*inner)[0]), nullptr);
  EXPECT_NE(std::dynamic_pointer_cast<dist::SyncBatchNorm>((*outer)[1]), nullptr);
  EXPECT_EQ(outer->named_parameters()[0].second.raw_data(),
            inner->at<dist::SyncBatchNorm>(0)->weight().raw_data());

  auto mixed =
      std::make_shared<nn::Sequential>(std::make_shared<nn::BatchNorm2d>(2), std::make_shared<Block>());
  EXPECT_EQ(magmadnn::testing::error_of([&] { dist::convert_sync_batchnorm(mixed, mpi_test::group()); }),
            "convert_sync_batchnorm: cannot replace '1.bn' inside Block, which calls it through a member of "
            "its own; only batch-norm layers whose parent accepts a replacement (a Sequential, ResNet's "
            "BasicBlock; see Module::replace_child) can be converted");
  EXPECT_EQ(std::dynamic_pointer_cast<dist::SyncBatchNorm>((*mixed)[0]), nullptr);  // nothing changed
}

MPI_TEST_MAIN
