// MpiProcessGroup under mpirun (-np 2 and 3): every collective against hand-computed values,
// uneven sizes, non-blocking waits, a send/recv ring, and the timeout error when a rank is late.
#include <gmock/gmock.h>

#include <thread>

#include "magmadnn/magmadnn.h"
#include "mpi/mpi_test_main.h"

using namespace magmadnn;
using ::testing::HasSubstr;

namespace {
dist::ProcessGroup& pg() { return *mpi_test::group(); }
}  // namespace

TEST(MpiCollectives, AllReduceSumAndAvg) {
  const int r = pg().rank(), p = pg().size();
  Tensor t = from_vector<float>({float(r), float(r + 1), 10.f * r});
  pg().all_reduce(t);
  const float s = p * (p - 1) / 2.f;
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{s, s + p, 10 * s}));
  Tensor d = from_vector<double>({double(r), 1.0});
  pg().all_reduce(d, dist::ReduceOp::Avg);
  EXPECT_DOUBLE_EQ(d.to_vector<double>()[0], (p - 1) / 2.0);
  EXPECT_DOUBLE_EQ(d.to_vector<double>()[1], 1.0);
  Tensor i = from_vector<int64_t>({int64_t(r) * 3});
  pg().all_reduce(i);
  EXPECT_EQ(i.to_vector<int64_t>()[0], 3 * p * (p - 1) / 2);
}

TEST(MpiCollectives, NonBlockingAllReducesWaitedOutOfOrder) {
  const int r = pg().rank(), p = pg().size();
  std::vector<Tensor> ts;
  std::vector<std::shared_ptr<dist::Work>> ws;
  for (int k = 0; k < 4; ++k) {
    ts.push_back(full({1000 + k}, double(r + k), kFloat64));
    ws.push_back(pg().all_reduce_async(ts.back(), k % 2 ? dist::ReduceOp::Avg : dist::ReduceOp::Sum));
  }
  for (int k = 3; k >= 0; --k) ws[k]->wait();
  for (int k = 0; k < 4; ++k) {
    const double sum = p * (p - 1) / 2.0 + double(k) * p;
    const double want = k % 2 ? sum / p : sum;
    auto v = ts[k].to_vector<double>();
    ASSERT_EQ(v.size(), size_t(1000 + k));
    EXPECT_DOUBLE_EQ(v.front(), want);
    EXPECT_DOUBLE_EQ(v.back(), want);
  }
  EXPECT_TRUE(ws[0]->is_completed());
}

TEST(MpiCollectives, BroadcastFromEveryRoot) {
  const int p = pg().size();
  for (int root = 0; root < p; ++root) {
    Tensor t = pg().rank() == root ? from_vector<float>({7.f + root, -1.f}) : zeros({2});
    pg().broadcast(t, root);
    EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{7.f + root, -1.f}));
  }
}

TEST(MpiCollectives, AllGatherEqualAndUneven) {
  const int r = pg().rank(), p = pg().size();
  Tensor in = from_vector<float>({float(r), float(10 * r)});
  Tensor out = empty({2 * p});
  pg().all_gather(in, out);
  std::vector<float> want;
  for (int k = 0; k < p; ++k) want.insert(want.end(), {float(k), float(10 * k)});
  EXPECT_EQ(out.to_vector<float>(), want);

  // Rank k contributes k+1 rows of 2 columns filled with k.
  Tensor mine = full({r + 1, 2}, double(r), kFloat64);
  std::vector<Tensor> parts;
  pg().all_gather(mine, parts);
  ASSERT_EQ(int(parts.size()), p);
  for (int k = 0; k < p; ++k) {
    EXPECT_EQ(parts[k].shape(), Shape({k + 1, 2}));
    EXPECT_EQ(parts[k].to_vector<double>(), std::vector<double>(2 * (k + 1), double(k)));
  }
}

TEST(MpiCollectives, ReduceScatterUnevenChunks) {
  const int r = pg().rank(), p = pg().size();
  const int64_t n = 3 * p + 1;  // not divisible by p: rank 0 gets one extra element
  std::vector<float> v(n);
  for (int64_t j = 0; j < n; ++j) v[j] = float(j + 100 * r);
  auto [b, e] = pg().chunk_range(n, r);
  EXPECT_EQ(e - b, r == 0 ? 4 : 3);
  Tensor out = empty({e - b});
  pg().reduce_scatter(from_vector<float>(v), out);
  const float rank_sum = 100.f * p * (p - 1) / 2;
  std::vector<float> want;
  for (int64_t j = b; j < e; ++j) want.push_back(float(p * j) + rank_sum);
  EXPECT_EQ(out.to_vector<float>(), want);
  Tensor avg = empty({e - b});
  pg().reduce_scatter(from_vector<float>(v), avg, dist::ReduceOp::Avg);
  for (size_t k = 0; k < want.size(); ++k) EXPECT_FLOAT_EQ(avg.to_vector<float>()[k], want[k] / p);
}

TEST(MpiCollectives, SendRecvRing) {
  const int r = pg().rank(), p = pg().size();
  const int next = (r + 1) % p, prev = (r + p - 1) % p;
  Tensor mine = from_vector<int32_t>({r, r * r});
  Tensor got = empty({2}, kInt32);
  auto rw = pg().recv_async(got, prev, 5);
  auto sw = pg().send_async(mine, next, 5);
  sw->wait();
  rw->wait();
  EXPECT_EQ(got.to_vector<int32_t>(), (std::vector<int32_t>{prev, prev * prev}));
  pg().barrier();
}

TEST(MpiCollectives, ArgumentErrors) {
  Tensor t = zeros({2});
  try {
    pg().broadcast(t, pg().size());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("broadcast: rank " + std::to_string(pg().size()) + " out of range"));
  }
}

// Rank 0 joins an all-reduce only after the others' timeout has passed: they get an Error naming
// their rank and the operation; the late all-reduce then completes their abandoned request so
// every rank carries on and exits cleanly.
TEST(MpiCollectives, TimeoutNamesRankAndOperation) {
  const auto saved = pg().timeout();
  pg().set_timeout(std::chrono::milliseconds(300));
  Tensor t = ones({3});
  if (pg().rank() == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    pg().all_reduce(t);
  } else {
    const auto start = std::chrono::steady_clock::now();
    try {
      pg().all_reduce(t);
      FAIL() << "all_reduce completed without rank 0";
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr("rank " + std::to_string(pg().rank()) + " of " + std::to_string(pg().size())));
      EXPECT_THAT(e.what(), HasSubstr("all_reduce(3 elements) did not complete within 300 ms"));
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900));
  }
  pg().set_timeout(saved);
  pg().barrier();
}

MPI_TEST_MAIN
