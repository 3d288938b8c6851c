// DistributedSampler under mpirun: the real ranks' shards, gathered, are disjoint and cover the
// epoch (padding repeats only the permutation's start, dropping leaves out n % size), and each
// rank's DataLoader reads exactly its sampler shard.
#include <gmock/gmock.h>

#include <algorithm>
#include <map>
#include <numeric>

#include "magmadnn/magmadnn.h"
#include "mpi/mpi_test_main.h"

using namespace magmadnn;
using namespace magmadnn::data;

namespace {
dist::ProcessGroup& pg() {
  return *mpi_test::group();
}

std::vector<int64_t> gather(const std::vector<int64_t>& mine) {
  Tensor in = from_vector<int64_t>(mine, {static_cast<int64_t>(mine.size())});
  Tensor out = Tensor::empty({static_cast<int64_t>(mine.size()) * pg().size()}, kInt64);
  pg().all_gather(in, out);
  return out.to_vector<int64_t>();
}
}  // namespace

TEST(DistributedSamplerMpi, ShardsOfAllRanksPartitionTheEpoch) {
  for (int64_t n : {1, 5, 6, 7, 12, 31}) {
    for (auto rem : {ShardRemainder::Pad, ShardRemainder::Drop}) {
      for (int64_t epoch : {0, 3}) {
        SCOPED_TRACE("n=" + std::to_string(n) + " drop=" + std::to_string(rem == ShardRemainder::Drop));
        DistributedSampler s(n, DistributedSamplerOptions(pg().size(), pg().rank()).seed(7).remainder(rem));
        s.set_epoch(epoch);
        auto all = gather(s.indices());
        const int64_t R = pg().size();
        ASSERT_EQ(static_cast<int64_t>(all.size()), s.num_samples() * R);
        std::map<int64_t, int> count;
        for (int64_t i : all) ++count[i];
        if (rem == ShardRemainder::Drop) {
          EXPECT_EQ(static_cast<int64_t>(count.size()), (n / R) * R);  // disjoint
        } else {
          EXPECT_EQ(static_cast<int64_t>(count.size()), n);  // complete
          // The padding is the permutation's first entries again: entry j of the permutation
          // appears once per k in [0, total) with k % n == j.
          auto perm = epoch_permutation(n, 7, epoch);
          for (int64_t j = 0; j < n; ++j) EXPECT_EQ(count[perm[j]], (s.total_size() - j + n - 1) / n) << j;
        }
      }
    }
  }
}

TEST(DistributedSamplerMpi, LoadersReadTheirShards) {
  const int64_t n = 23;
  std::vector<float> in(n);
  std::vector<int64_t> tg(n);
  std::iota(in.begin(), in.end(), 0.0f);
  std::iota(tg.begin(), tg.end(), int64_t{0});
  auto ds = std::make_shared<TensorDataset>(from_vector<float>(in, {n, 1}), from_vector<int64_t>(tg, {n}));
  DataLoader loader(ds, DataLoaderOptions(4).seed(5).num_shards(pg().size()).shard(pg().rank()));
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    std::vector<int64_t> mine;
    for (const Example& b : loader) {
      auto v = b.target.contiguous().to_vector<int64_t>();
      mine.insert(mine.end(), v.begin(), v.end());
    }
    EXPECT_EQ(mine, loader.sampler().indices(epoch));
    auto all = gather(mine);
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    EXPECT_EQ(static_cast<int64_t>(all.size()), n);
  }
}

MPI_TEST_MAIN
