// LocalProcessGroup (size 1) and the backend factory: every collective is the identity over one
// rank, send/recv to oneself round-trips, and bad arguments fail with named errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/error_of.h"
#include "magmadnn/dist/process_group.h"
#include "magmadnn/magmadnn.h"

using namespace magmadnn;
using ::testing::HasSubstr;

namespace {
using magmadnn::testing::error_of;
}  // namespace

TEST(LocalProcessGroup, CollectivesOverOneRank) {
  auto pg = dist::init_process_group("local");
  EXPECT_EQ(pg->rank(), 0);
  EXPECT_EQ(pg->size(), 1);
  EXPECT_EQ(pg->backend(), "local");
  Tensor t = from_vector<float>({1, 2, 3});
  pg->all_reduce(t, dist::ReduceOp::Avg);
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 2, 3}));
  pg->all_reduce_async(t)->wait();
  pg->broadcast(t, 0);
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 2, 3}));
  Tensor out = empty({3});
  pg->all_gather(t, out);
  EXPECT_EQ(out.to_vector<float>(), (std::vector<float>{1, 2, 3}));
  std::vector<Tensor> parts;
  pg->all_gather(t, parts);
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].to_vector<float>(), (std::vector<float>{1, 2, 3}));
  Tensor rs = empty({3});
  pg->reduce_scatter(t, rs);
  EXPECT_EQ(rs.to_vector<float>(), (std::vector<float>{1, 2, 3}));
  pg->barrier();
  EXPECT_EQ(pg->chunk_range(7, 0), (std::pair<int64_t, int64_t>{0, 7}));
}

TEST(LocalProcessGroup, SendRecvToSelf) {
  auto pg = dist::init_process_group("local");
  pg->send(from_vector<double>({4, 5}), 0, 7);
  Tensor r = empty({2}, kFloat64);
  pg->recv(r, 0, 7);
  EXPECT_EQ(r.to_vector<double>(), (std::vector<double>{4, 5}));
  EXPECT_THAT(error_of([&] { pg->recv(r, 0, 7); }), HasSubstr("no message with tag 7"));
}

TEST(LocalProcessGroup, Errors) {
  auto pg = dist::init_process_group("local");
  Tensor t = from_vector<float>({1, 2, 3, 4}).reshape({2, 2}).t();
  EXPECT_THAT(error_of([&] { pg->all_reduce(t); }), HasSubstr("all_reduce: needs a contiguous tensor"));
  Tensor c = t.contiguous();
  EXPECT_THAT(error_of([&] { pg->broadcast(c, 1); }), HasSubstr("rank 1 out of range"));
  EXPECT_THAT(error_of([] { dist::init_process_group("gloo"); }), HasSubstr("unknown backend \"gloo\""));
}

TEST(LocalProcessGroup, AutoIsLocalOutsideMpirun) {
  if (std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMI_SIZE")) GTEST_SKIP() << "launched by mpirun";
  EXPECT_EQ(dist::init_process_group("auto")->backend(), "local");
}
