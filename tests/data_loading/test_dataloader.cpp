// TensorDataset and DataLoader: batch shapes and contents, drop_last, shuffle as a pure function
// of (seed, epoch), prefetch giving the same batches as the synchronous path, shutdown when a loop
// is abandoned, worker exceptions reaching the consumer, sharding, and transforms.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <numeric>
#include <set>
#include <thread>

#include "common/error_of.h"
#include "magmadnn/magmadnn.h"

using namespace magmadnn;
using namespace magmadnn::data;
using ::testing::HasSubstr;

namespace {

// Sample i has input [i, i + 0.5] and target 100 + i, so every batch tells which samples it holds.
std::shared_ptr<TensorDataset> numbered(int64_t n) {
  std::vector<float> in;
  std::vector<int64_t> tg;
  for (int64_t i = 0; i < n; ++i) {
    in.push_back(static_cast<float>(i));
    in.push_back(static_cast<float>(i) + 0.5f);
    tg.push_back(100 + i);
  }
  return std::make_shared<TensorDataset>(from_vector<float>(in, {n, 2}), from_vector<int64_t>(tg, {n}));
}

// Sample ids of a batch, checking input and target agree.
std::vector<int64_t> ids_of(const Example& b) {
  std::vector<int64_t> ids;
  auto in = b.input.to_vector<float>();
  auto tg = b.target.to_vector<int64_t>();
  EXPECT_EQ(in.size(), tg.size() * 2);
  for (size_t k = 0; k < tg.size(); ++k) {
    EXPECT_EQ(in[2 * k], static_cast<float>(tg[k] - 100));
    EXPECT_EQ(in[2 * k + 1], static_cast<float>(tg[k] - 100) + 0.5f);
    ids.push_back(tg[k] - 100);
  }
  return ids;
}

std::vector<std::vector<int64_t>> epoch_batches(DataLoader& loader) {
  std::vector<std::vector<int64_t>> out;
  for (const Example& b : loader) out.push_back(ids_of(b));
  return out;
}

std::vector<int64_t> flat(const std::vector<std::vector<int64_t>>& bs) {
  std::vector<int64_t> v;
  for (const auto& b : bs) v.insert(v.end(), b.begin(), b.end());
  return v;
}

using magmadnn::testing::error_of;

// A dataset through the default get_batch (stacking single examples), with hooks for tests.
class SlowDataset : public Dataset {
 public:
  SlowDataset(int64_t n, int64_t throw_at = -1, int sleep_ms = 0)
      : n_(n), throw_at_(throw_at), sleep_ms_(sleep_ms) {}
  int64_t size() const override { return n_; }
  Example get(int64_t i) const override {
    ++calls;
    if (sleep_ms_) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms_));
    if (i == throw_at_) MAGMADNN_ERROR("SlowDataset: sample ", i, " is broken");
    return {from_vector<float>({float(i), float(i) + 0.5f}, {2}), scalar_tensor(100 + i, kInt64)};
  }
  mutable std::atomic<int64_t> calls{0};

 private:
  int64_t n_, throw_at_;
  int sleep_ms_;
};

}  // namespace

TEST(TensorDataset, GetAndShapes) {
  auto ds = numbered(5);
  EXPECT_EQ(ds->size(), 5);
  Example e = ds->get(3);
  EXPECT_EQ(e.input.shape(), Shape({2}));
  EXPECT_EQ(e.input.to_vector<float>(), (std::vector<float>{3.0f, 3.5f}));
  EXPECT_EQ(e.target.item<int64_t>(), 103);
  Example b = ds->get_batch({4, 0, 4});
  EXPECT_EQ(b.input.shape(), Shape({3, 2}));
  EXPECT_EQ(ids_of(b), (std::vector<int64_t>{4, 0, 4}));
}

TEST(TensorDataset, Errors) {
  EXPECT_EQ(error_of([] {
              TensorDataset(zeros({4, 3}), zeros({5}, kInt64));
            }),
            "TensorDataset: inputs of shape (4, 3) and targets of shape (5) differ in their first dimension");
  auto ds = numbered(5);
  EXPECT_THAT(error_of([&] { ds->get(5); }),
              HasSubstr("TensorDataset::get: index 5 is out of range for 5 examples"));
  EXPECT_THAT(error_of([&] {
                ds->get_batch({1, -1});
              }),
              HasSubstr("index -1 is out of range for 5 examples"));
  EXPECT_THAT(error_of([&] { ds->set_inputs(zeros({4, 2})); }), HasSubstr("differ in their first dimension"));
}

TEST(Dataset, DefaultGetBatchStacksLikeTensorDataset) {
  SlowDataset slow(7);
  auto fast = numbered(7);
  const std::vector<int64_t> idx{6, 2, 3};
  Example a = slow.get_batch(idx), b = fast->get_batch(idx);
  EXPECT_EQ(a.input.shape(), b.input.shape());
  EXPECT_EQ(a.target.shape(), b.target.shape());
  EXPECT_EQ(a.input.to_vector<float>(), b.input.to_vector<float>());
  EXPECT_EQ(a.target.to_vector<int64_t>(), b.target.to_vector<int64_t>());
}

TEST(DataLoader, SequentialBatchesAndLastPartialBatch) {
  DataLoader loader(numbered(10), DataLoaderOptions().batch_size(4).shuffle(false));
  EXPECT_EQ(loader.num_batches(), 3);
  std::vector<Shape> shapes;
  std::vector<std::vector<int64_t>> ids;
  for (const Example& b : loader) {
    shapes.push_back(b.input.shape());
    EXPECT_EQ(b.target.shape(), Shape({b.input.size(0)}));
    EXPECT_EQ(b.target.dtype(), kInt64);
    ids.push_back(ids_of(b));
  }
  EXPECT_EQ(shapes, (std::vector<Shape>{{4, 2}, {4, 2}, {2, 2}}));
  EXPECT_EQ(ids, (std::vector<std::vector<int64_t>>{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}}));
}

TEST(DataLoader, DropLast) {
  DataLoader loader(numbered(10), DataLoaderOptions().batch_size(4).shuffle(true).seed(1).drop_last(true));
  EXPECT_EQ(loader.num_batches(), 2);
  auto bs = epoch_batches(loader);
  ASSERT_EQ(bs.size(), 2u);
  for (const auto& b : bs) EXPECT_EQ(b.size(), 4u);
  DataLoader exact(numbered(8), DataLoaderOptions().batch_size(4).drop_last(true));
  EXPECT_EQ(exact.num_batches(), 2);
  DataLoader none(numbered(3), DataLoaderOptions().batch_size(4).drop_last(true));
  EXPECT_EQ(none.num_batches(), 0);
  int count = 0;
  for (const Example& b : none) count += static_cast<int>(b.input.size(0));
  EXPECT_EQ(count, 0);
}

TEST(DataLoader, ShuffleIsAPermutationSeenOncePerEpoch) {
  DataLoader loader(numbered(103), DataLoaderOptions().batch_size(10).seed(42));
  for (int epoch = 0; epoch < 3; ++epoch) {
    auto ids = flat(epoch_batches(loader));
    ASSERT_EQ(ids.size(), 103u);
    std::vector<int64_t> sorted = ids;
    std::sort(sorted.begin(), sorted.end());
    for (int64_t i = 0; i < 103; ++i) EXPECT_EQ(sorted[i], i);
    std::vector<int64_t> identity(103);
    std::iota(identity.begin(), identity.end(), 0);
    EXPECT_NE(ids, identity);
  }
}

TEST(DataLoader, OrderIsAFunctionOfSeedAndEpoch) {
  DataLoader a(numbered(50), DataLoaderOptions().batch_size(8).seed(7));
  DataLoader b(numbered(50), DataLoaderOptions().batch_size(8).seed(7).prefetch(false));
  DataLoader c(numbered(50), DataLoaderOptions().batch_size(8).seed(8));
  auto a0 = epoch_batches(a), a1 = epoch_batches(a), a2 = epoch_batches(a);
  EXPECT_NE(a0, a1);
  EXPECT_NE(a1, a2);
  // Resuming at epoch 2 reproduces it exactly; the epoch then advances to 3.
  b.set_epoch(2);
  EXPECT_EQ(epoch_batches(b), a2);
  EXPECT_EQ(b.epoch(), 3);
  b.set_epoch(0);
  EXPECT_EQ(epoch_batches(b), a0);
  EXPECT_EQ(flat(a0), a.epoch_indices(0));
  EXPECT_NE(epoch_batches(c), a0);
}

TEST(DataLoader, DefaultSeedFollowsManualSeed) {
  manual_seed(123);
  DataLoader a(numbered(40), DataLoaderOptions().batch_size(40));
  manual_seed(123);
  DataLoader b(numbered(40), DataLoaderOptions().batch_size(40));
  EXPECT_EQ(a.seed(), b.seed());
  EXPECT_EQ(epoch_batches(a), epoch_batches(b));
  manual_seed(124);
  DataLoader c(numbered(40), DataLoaderOptions().batch_size(40));
  EXPECT_NE(epoch_batches(c), epoch_batches(b));
}

TEST(DataLoader, PrefetchGivesIdenticalBatches) {
  auto ds = numbered(37);
  DataLoader on(ds, DataLoaderOptions().batch_size(5).seed(9).prefetch(true));
  DataLoader off(ds, DataLoaderOptions().batch_size(5).seed(9).prefetch(false));
  for (int epoch = 0; epoch < 2; ++epoch) {
    std::vector<Example> x, y;
    for (const Example& b : on) x.push_back(b);
    for (const Example& b : off) y.push_back(b);
    ASSERT_EQ(x.size(), y.size());
    for (size_t i = 0; i < x.size(); ++i) {
      EXPECT_EQ(x[i].input.shape(), y[i].input.shape());
      EXPECT_EQ(x[i].input.to_vector<float>(), y[i].input.to_vector<float>());
      EXPECT_EQ(x[i].target.to_vector<int64_t>(), y[i].target.to_vector<int64_t>());
    }
  }
}

TEST(DataLoader, EarlyBreakAndDestructionDoNotHang) {
  auto slow = std::make_shared<SlowDataset>(1000, -1, 1);
  const auto start = std::chrono::steady_clock::now();
  {
    DataLoader loader(slow, DataLoaderOptions().batch_size(10).prefetch(true).seed(0));
    int seen = 0;
    for (const Example& b : loader) {
      EXPECT_EQ(b.input.size(0), 10);
      if (++seen == 2) break;  // the worker is blocked on a full queue or mid-batch here
    }
    // A second pass after the break starts cleanly from a fresh epoch.
    for (const Example& b : loader) {
      EXPECT_EQ(b.input.size(0), 10);
      break;
    }
  }
  // The worker stopped after at most the queue depth plus the batch in progress.
  const int64_t calls = slow->calls.load();
  EXPECT_LE(calls, 2 * 10 * 5);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(slow->calls.load(), calls) << "the worker is still running after the loader is gone";
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(DataLoader, LoaderDestroyedWhileIteratorLives) {
  auto it_holder =
      std::make_unique<DataLoader>(numbered(20), DataLoaderOptions().batch_size(6).shuffle(false));
  DataLoader::Iterator it = it_holder->begin();
  it_holder.reset();  // the iterator keeps its epoch (and the dataset) alive
  std::vector<int64_t> ids;
  for (; it != DataLoader::Iterator(); ++it) {
    auto b = ids_of(*it);
    ids.insert(ids.end(), b.begin(), b.end());
  }
  EXPECT_EQ(ids.size(), 20u);
}

TEST(DataLoader, WorkerExceptionReachesConsumer) {
  for (bool prefetch : {true, false}) {
    auto broken = std::make_shared<SlowDataset>(40, /*throw_at=*/25);
    DataLoader loader(broken, DataLoaderOptions().batch_size(10).shuffle(false).prefetch(prefetch));
    std::vector<int64_t> delivered;
    const std::string msg = error_of([&] {
      for (const Example& b : loader) {
        auto ids = ids_of(b);
        delivered.insert(delivered.end(), ids.begin(), ids.end());
      }
    });
    EXPECT_EQ(msg, "SlowDataset: sample 25 is broken") << "prefetch=" << prefetch;
    EXPECT_EQ(delivered.size(), 20u) << "batches before the broken one arrive first";
    // The loader is still usable for the next epoch (which fails at the same sample again).
    EXPECT_THAT(error_of([&] {
                  for (const Example& b : loader) (void)b;
                }),
                HasSubstr("sample 25 is broken"));
  }
}

TEST(DataLoader, FirstBatchFailureThrowsFromBegin) {
  for (bool prefetch : {true, false}) {
    DataLoader loader(std::make_shared<SlowDataset>(8, /*throw_at=*/0),
                      DataLoaderOptions().batch_size(4).shuffle(false).prefetch(prefetch));
    EXPECT_EQ(error_of([&] { loader.begin(); }), "SlowDataset: sample 0 is broken") << "prefetch=" << prefetch;
  }
}

TEST(DataLoader, TransformAppliedPerBatchAndItsErrorsPropagate) {
  auto ds = numbered(9);
  DataLoader loader(ds, DataLoaderOptions().batch_size(4).shuffle(false).transform([](Example e) {
    e.input = mul(e.input, 2.0);
    return e;
  }));
  std::vector<float> got;
  for (const Example& b : loader) {
    auto v = b.input.to_vector<float>();
    got.insert(got.end(), v.begin(), v.end());
  }
  ASSERT_EQ(got.size(), 18u);
  for (int i = 0; i < 9; ++i) {
    EXPECT_EQ(got[2 * i], 2.0f * i);
    EXPECT_EQ(got[2 * i + 1], 2.0f * i + 1.0f);
  }
  DataLoader bad(ds, DataLoaderOptions().batch_size(4).transform([](Example e) -> Example {
    MAGMADNN_ERROR("transform failed on a batch of ", e.input.shape());
  }));
  EXPECT_EQ(error_of([&] {
              for (const Example& b : bad) (void)b;
            }),
            "transform failed on a batch of (4, 2)");
}

TEST(DataLoader, ShardsPartitionTheEpoch) {
  auto ds = numbered(10);
  std::vector<int64_t> all;
  for (int64_t r = 0; r < 3; ++r) {
    DataLoader loader(ds, DataLoaderOptions().batch_size(2).seed(5).num_shards(3).shard(r));
    EXPECT_EQ(loader.num_samples(), 4);
    EXPECT_EQ(loader.num_batches(), 2);
    loader.set_epoch(4);
    auto ids = flat(epoch_batches(loader));
    EXPECT_EQ(ids.size(), 4u);
    all.insert(all.end(), ids.begin(), ids.end());
  }
  // 12 slots for 10 samples: every sample appears, two of them twice (the wrap-around padding).
  std::set<int64_t> distinct(all.begin(), all.end());
  EXPECT_EQ(distinct.size(), 10u);
  EXPECT_EQ(all.size(), 12u);
  DataLoader full(ds, DataLoaderOptions().seed(5));
  const auto order = full.epoch_indices(4);
  EXPECT_EQ(all[0], order[0]);   // shard 0 takes order[0], order[3], ...
  EXPECT_EQ(all[4], order[1]);   // shard 1 takes order[1], order[4], ...
  EXPECT_EQ(all[11], order[1]);  // shard 2's last slot wraps to order[(3 * 3 + 2) % 10]
}

TEST(DataLoader, OptionErrors) {
  EXPECT_EQ(error_of([] { DataLoader(nullptr); }), "DataLoader: the dataset is null");
  EXPECT_EQ(error_of([] { DataLoader(numbered(3), DataLoaderOptions().batch_size(0)); }),
            "DataLoader: batch_size must be at least 1, got 0");
  EXPECT_EQ(error_of([] { DataLoader(numbered(3), DataLoaderOptions().num_shards(2).shard(2)); }),
            "DataLoader: shard 2 is out of range for 2 shards");
}

TEST(Normalize, PerChannelValues) {
  // (N=2, C=2, 3) batch.
  std::vector<float> v{0.f, 0.5f, 1.f, 2.f, 3.f, 4.f, -1.f, 0.25f, 0.75f, 10.f, 20.f, 30.f};
  Tensor x = from_vector<float>(v, {2, 2, 3});
  Normalize norm({0.5, 2.0}, {0.25, 4.0});
  Tensor y = norm(x);
  EXPECT_EQ(y.shape(), x.shape());
  auto out = y.to_vector<float>();
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 2; ++c)
      for (int j = 0; j < 3; ++j) {
        const int k = (n * 2 + c) * 3 + j;
        const float m = c == 0 ? 0.5f : 2.0f, s = c == 0 ? 0.25f : 4.0f;
        EXPECT_FLOAT_EQ(out[k], (v[k] - m) / s) << k;
      }
  // Non-contiguous input gives the same result.
  Tensor xt = from_vector<float>(v, {2, 3, 2}).transpose(1, 2);
  Tensor yt = norm(xt);
  EXPECT_TRUE(allclose(yt, norm(xt.contiguous())));
  // One mean/std for every channel; float64 stays float64.
  Tensor d = from_vector<double>({1.0, 2.0, 3.0, 4.0}, {1, 4});
  Tensor nd = Normalize({1.0}, {2.0})(d);
  EXPECT_EQ(nd.dtype(), kFloat64);
  EXPECT_EQ(nd.to_vector<double>(), (std::vector<double>{0.0, 0.5, 1.0, 1.5}));
}

TEST(Normalize, Errors) {
  EXPECT_EQ(error_of([] {
              Normalize({0.5, 0.5}, {1.0});
            }),
            "Normalize: mean [0.5, 0.5] and std [1] must be non-empty and of the same length");
  EXPECT_EQ(error_of([] { Normalize({0.5}, {0.0}); }),
            "Normalize: std [0] contains zero or a non-finite value");
  EXPECT_EQ(error_of([] {
              Normalize({0.1, 0.2}, {1.0, 1.0})(zeros({4, 3, 5}));
            }),
            "Normalize: 2 mean/std values for a batch of shape (4, 3, 5) with 3 channels");
  EXPECT_THAT(error_of([] {
                Normalize({0.1}, {1.0})(zeros({4, 3}, kInt64));
              }),
              HasSubstr("expected a float32 or float64 batch, got int64"));
  EXPECT_THAT(error_of([] { Normalize({0.1}, {1.0})(zeros({4})); }),
              HasSubstr("expected a batch (N, C, ...)"));
}

TEST(Normalize, InplaceOnDatasetAndAsTransform) {
  auto ds = numbered(6);
  auto ds2 = numbered(6);
  Normalize norm({1.0, 2.0}, {2.0, 0.5});
  normalize_inplace(*ds, norm);
  DataLoader a(ds, DataLoaderOptions().batch_size(6).shuffle(false));
  DataLoader b(ds2, DataLoaderOptions().batch_size(6).shuffle(false).transform(norm.as_transform()));
  std::vector<float> va, vb;
  for (const Example& e : a) va = e.input.to_vector<float>();
  for (const Example& e : b) vb = e.input.to_vector<float>();
  ASSERT_EQ(va.size(), 12u);
  EXPECT_EQ(va, vb);
  EXPECT_FLOAT_EQ(va[2 * 3], (3.0f - 1.0f) / 2.0f);
  EXPECT_FLOAT_EQ(va[2 * 3 + 1], (3.5f - 2.0f) / 0.5f);
}

TEST(RandomSplit, DisjointReproduciblePartsOfTheRequestedSizes) {
  auto ds = numbered(50);
  auto [rest, held] = random_split(*ds, 0.2, 7);
  ASSERT_EQ(rest->size(), 40);
  ASSERT_EQ(held->size(), 10);
  std::vector<int64_t> all;
  for (int64_t i = 0; i < rest->size(); ++i) all.push_back(rest->get(i).target.item<int64_t>());
  for (int64_t i = 0; i < held->size(); ++i) all.push_back(held->get(i).target.item<int64_t>());
  for (int64_t i = 0; i < 50; ++i)  // inputs still match their targets
    EXPECT_EQ(i < 40 ? rest->get(i).input.to_vector<float>()[0] : held->get(i - 40).input.to_vector<float>()[0],
              static_cast<float>(all[i] - 100));
  std::sort(all.begin(), all.end());
  for (int64_t i = 0; i < 50; ++i) EXPECT_EQ(all[i], 100 + i);  // every sample once
  auto again = random_split(*ds, 0.2, 7).second;
  auto other = random_split(*ds, 0.2, 8).second;
  EXPECT_EQ(again->targets().to_vector<int64_t>(), held->targets().to_vector<int64_t>());
  EXPECT_NE(other->targets().to_vector<int64_t>(), held->targets().to_vector<int64_t>());
  EXPECT_THAT(error_of([&] { random_split(*ds, 0.001, 7, "--val-fraction"); }),
              HasSubstr("--val-fraction 0.001 of 50 samples leaves no training or no held-out sample"));
  EXPECT_THAT(error_of([&] { random_split(*ds, 1.0, 7); }), HasSubstr("random_split 1 of 50 samples"));
}
