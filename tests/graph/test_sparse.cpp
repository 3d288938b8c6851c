// CsrMatrix and spmm: construction from edge lists (duplicates summed, symmetric, weights),
// validation errors, transpose, block-diagonal stacks; spmm against dense matmul in float32 and
// float64, 2-D and batched, float64 gradchecks, and shape/dtype errors.
#include "graph/graph_test_util.h"
#include "magmadnn/backend/cuda.h"
#include "magmadnn/nn/graph.h"

using namespace graphtest;

TEST(CsrMatrix, FromEdgesSortsSumsDuplicatesAndKeepsWeights) {
  // edges (row, col): (2,0) (0,1) (0,1) (1,2) (0,0); weights 1..5
  Tensor edges = from_vector<int64_t>({2, 0, 0, 1, 0, 1, 1, 2, 0, 0}, {5, 2});
  Tensor w = from_vector<double>({1, 2, 3, 4, 5}, {5});
  CsrMatrix a = CsrMatrix::from_edges(3, 4, edges, w);
  EXPECT_EQ(a.rows(), 3);
  EXPECT_EQ(a.cols(), 4);
  EXPECT_EQ(a.dtype(), kFloat64);
  EXPECT_EQ(a.row_offsets().to_vector<int64_t>(), (std::vector<int64_t>{0, 2, 3, 4}));
  EXPECT_EQ(a.col_indices().to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 0}));
  EXPECT_EQ(a.values().to_vector<double>(), (std::vector<double>{5, 5, 4, 1}));
  EXPECT_EQ(a.to_dense().to_vector<double>(), (std::vector<double>{5, 5, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0}));
  EXPECT_FALSE(a.is_symmetric());
}

TEST(CsrMatrix, SymmetricAddsReverseEdgesButNotSelfLoopsTwice) {
  Tensor edges = from_vector<int64_t>({0, 1, 1, 2, 2, 2}, {3, 2});
  CsrMatrix a = CsrMatrix::from_edges(3, edges, Tensor(), /*symmetric=*/true);
  EXPECT_EQ(a.dtype(), kFloat32);  // ones without weights
  EXPECT_TRUE(a.is_symmetric());
  EXPECT_EQ(a.to_dense().to_vector<float>(), (std::vector<float>{0, 1, 0, 1, 0, 1, 0, 1, 1}));
  EXPECT_EQ(a.nnz(), 5);
  // A symmetric matrix is its own transpose (no copy).
  EXPECT_TRUE(a.transpose().values().shares_storage(a.values()));
}

TEST(CsrMatrix, TransposeMatchesDenseAndIsCached) {
  CsrMatrix a = CsrMatrix::from_edges(5, 7, random_edges(5, 7, 15, 3), random_values({15}, 4));
  CsrMatrix t = a.transpose();
  EXPECT_EQ(t.rows(), 7);
  EXPECT_EQ(t.cols(), 5);
  EXPECT_EQ(t.to_dense().to_vector<double>(), a.to_dense().t().contiguous().to_vector<double>());
  EXPECT_TRUE(a.transpose().values().shares_storage(t.values()));  // computed once
  CsrMatrix copy = a;
  EXPECT_TRUE(copy.transpose().values().shares_storage(t.values()));  // shared by copies
}

// to(Device): itself where it already is; elsewhere a copy (here only the "no GPU" error is
// reachable; tests/cuda/test_cuda_conv.cpp runs the layers on a GPU). Graph caches per device.
TEST(CsrMatrix, ToDeviceIsItselfOnTheSameDeviceAndClearOtherwise) {
  const CsrMatrix a = CsrMatrix::from_edges(3, from_vector<int64_t>({0, 1, 1, 2}, {2, 2}));
  const CsrMatrix same = a.to(Device::cpu());
  EXPECT_TRUE(same.values().shares_storage(a.values()));
  const nn::Graph g(a);
  EXPECT_TRUE(g.adjacency(kFloat32, Device::cpu()).values().shares_storage(a.values()));
  EXPECT_TRUE(g.gcn_normalized(kFloat64, Device::cpu()).values().shares_storage(g.gcn_normalized(kFloat64).values()));
  if (cuda::device_count() == 0) {
    EXPECT_THAT(error_of([&] { (void)a.to(Device::cuda(0)); }), HasSubstr("no CUDA device"));
    EXPECT_THAT(error_of([&] { (void)g.gcn_normalized(kFloat32, Device::cuda(0)); }), HasSubstr("no CUDA device"));
  }
}

TEST(CsrMatrix, BlockDiagonalPlacesBlocks) {
  CsrMatrix a = CsrMatrix::from_edges(2, 3, from_vector<int64_t>({0, 2, 1, 0}, {2, 2}),
                                      from_vector<double>({1, 2}, {2}));
  CsrMatrix b =
      CsrMatrix::from_edges(1, 1, from_vector<int64_t>({0, 0}, {1, 2}), from_vector<double>({3}, {1}));
  CsrMatrix d = CsrMatrix::block_diagonal({a, b});
  EXPECT_EQ(d.rows(), 3);
  EXPECT_EQ(d.cols(), 4);
  EXPECT_EQ(d.to_dense().to_vector<double>(), (std::vector<double>{0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 3}));
  EXPECT_THAT(error_of([&] {
                CsrMatrix::block_diagonal({a, b.to(kFloat32)});
              }),
              HasSubstr("block 1 has dtype"));
}

TEST(CsrMatrix, ClearErrors) {
  EXPECT_THAT(error_of([] {
                CsrMatrix::from_edges(3, from_vector<int64_t>({0, 1, 1, 3}, {2, 2}));
              }),
              HasSubstr("edge 1 (1, 3) is out of range for a 3 x 3 matrix"));
  EXPECT_THAT(error_of([] {
                CsrMatrix::from_edges(3, from_vector<int64_t>({0, -1}, {1, 2}));
              }),
              HasSubstr("edge 0 (0, -1) is out of range"));
  EXPECT_THAT(error_of([] {
                CsrMatrix::from_edges(3, from_vector<int64_t>({0, 1, 2}, {1, 3}));
              }),
              HasSubstr("expected edges int64 (E, 2), got int64 (1, 3)"));
  EXPECT_THAT(error_of([] {
                CsrMatrix::from_edges(3, zeros({2, 2}));
              }),
              HasSubstr("expected edges int64 (E, 2)"));
  EXPECT_THAT(
      error_of([] {
        CsrMatrix::from_edges(3, from_vector<int64_t>({0, 1, 1, 2}, {2, 2}), from_vector<float>({1}, {1}));
      }),
      HasSubstr("expected weights float32/float64 (2) for 2 edges"));
  EXPECT_THAT(error_of([] {
                CsrMatrix::from_edges(3, from_vector<int64_t>({0, 1, 1, 2}, {2, 2}),
                                      from_vector<double>({1, NAN}, {2}));
              }),
              HasSubstr("weight nan of edge 1 (1, 2) is not finite"));
  EXPECT_THAT(error_of([] {
                CsrMatrix::from_edges(2, 3, from_vector<int64_t>({0, 1}, {1, 2}), Tensor(), true);
              }),
              HasSubstr("symmetric needs a square matrix"));
  // Raw CSR arrays.
  auto i64 = [](std::vector<int64_t> v) { return from_vector<int64_t>(v, {static_cast<int64_t>(v.size())}); };
  EXPECT_THAT(error_of([&] {
                CsrMatrix(2, 2, i64({0, 1, 3}), i64({0, 1}), ones({2}));
              }),
              HasSubstr("must start at 0 and end at nnz = 2, got 0 and 3"));
  EXPECT_THAT(error_of([&] {
                CsrMatrix(2, 2, i64({1, 1, 2}), i64({0, 1}), ones({2}));
              }),
              HasSubstr("must start at 0"));
  EXPECT_THAT(error_of([&] {
                CsrMatrix(2, 2, i64({0, 1, 2}), i64({0, 2}), ones({2}));
              }),
              HasSubstr("column index 2 at entry 1 is out of range for 2 columns"));
  EXPECT_THAT(error_of([&] {
                CsrMatrix(2, 2, i64({0, 2, 1, 3}), i64({0, 1, 0}), ones({3}));
              }),
              HasSubstr("expected row_offsets int64 (3)"));
  EXPECT_THAT(error_of([&] {
                CsrMatrix(3, 2, i64({0, 2, 1, 2}), i64({0, 1}), ones({2}));
              }),
              HasSubstr("row_offsets decrease at row 1"));
  EXPECT_THAT(error_of([&] {
                CsrMatrix(2, 2, i64({0, 1, 2}), i64({0, 1}), ones({3}));
              }),
              HasSubstr("expected values float32/float64 (2)"));
  EXPECT_THAT(error_of([] { CsrMatrix().rows(); }), HasSubstr("undefined"));
}

TEST(Spmm, MatchesDenseMatmul2DAndBatched) {
  for (DType dt : {kFloat32, kFloat64}) {
    CsrMatrix a = CsrMatrix::from_edges(5, 7, random_edges(5, 7, 20, 11), random_values({20}, 12, dt));
    Tensor dense = a.to_dense();
    Tensor x = random_values({7, 3}, 13, dt);
    const double tol = dt == kFloat32 ? 1e-5 : 1e-12;
    EXPECT_LT(max_abs_diff(spmm(a, x), matmul(dense, x)), tol);
    Tensor xb = random_values({4, 7, 3}, 14, dt);
    Tensor yb = spmm(a, xb);
    EXPECT_EQ(yb.shape(), Shape({4, 5, 3}));
    EXPECT_LT(max_abs_diff(yb, matmul(dense, xb)), tol);
    // Non-contiguous x (a transposed view).
    Tensor xt = random_values({3, 7}, 15, dt).t();
    EXPECT_LT(max_abs_diff(spmm(a, xt), matmul(dense, xt)), tol);
  }
}

TEST(Spmm, LargeBatchUsesThreadsAndStaysExact) {
  // The Ising workload: 8x8 periodic lattice, B = 256 graphs, F = 32 (the parallel path).
  CsrMatrix a = CsrMatrix::from_edges(64, lattice_edges(8), Tensor(), true).to(kFloat64);
  Tensor x = random_values({256, 64, 32}, 21);
  EXPECT_LT(max_abs_diff(spmm(a, x), matmul(a.to_dense(), x)), 1e-12);
}

TEST(Spmm, EmptyRowsAndEmptyMatrix) {
  CsrMatrix a =
      CsrMatrix::from_edges(4, 3, from_vector<int64_t>({1, 2}, {1, 2}), from_vector<double>({2}, {1}));
  Tensor x = random_values({3, 2}, 5);
  EXPECT_EQ(max_abs_diff(spmm(a, x), matmul(a.to_dense(), x)), 0.0);
  CsrMatrix e = CsrMatrix::from_edges(3, 3, zeros({0, 2}, kInt64), zeros({0}, kFloat64));
  EXPECT_EQ(spmm(e, x).to_vector<double>(), std::vector<double>(6, 0.0));
}

TEST(Spmm, GradcheckFloat64) {
  CsrMatrix a = CsrMatrix::from_edges(5, 6, random_edges(5, 6, 14, 31), random_values({14}, 32));
  manual_seed(33);
  Tensor x = uniform({6, 3}, -1, 1, kFloat64).set_requires_grad();
  EXPECT_TRUE(gradcheck_ok([&](const std::vector<Tensor>& in) { return spmm(a, in[0]); }, {x}));
  manual_seed(34);
  Tensor xb = uniform({2, 6, 3}, -1, 1, kFloat64).set_requires_grad();
  EXPECT_TRUE(gradcheck_ok([&](const std::vector<Tensor>& in) { return spmm(a, in[0]); }, {xb}));
  // Gradient of sum(A x) w.r.t. x is A^T 1: the column sums of A.
  Tensor x2 = zeros({6, 1}, kFloat64).set_requires_grad();
  sum(spmm(a, x2)).backward();
  EXPECT_LT(max_abs_diff(x2.grad().reshape({6}), sum(a.to_dense(), {0})), 1e-12);
}

TEST(Spmm, AddedTermValuesAndGradients) {
  CsrMatrix a = CsrMatrix::from_edges(5, 6, random_edges(5, 6, 14, 41), random_values({14}, 42));
  Tensor dense = a.to_dense();
  for (Shape xs : {Shape{6, 3}, Shape{2, 6, 3}}) {
    Shape os = xs;
    os[os.dim() - 2] = 5;
    for (Shape cs : {Shape{3}, os, Shape{5, 1}}) {  // a bias, a full tensor, a per-row column
      manual_seed(43);
      Tensor x = uniform(xs, -1, 1, kFloat64).set_requires_grad();
      Tensor c = uniform(cs, -1, 1, kFloat64).set_requires_grad();
      Tensor y = spmm(a, x, c);
      EXPECT_EQ(y.shape(), os);
      EXPECT_LT(max_abs_diff(y, add(matmul(dense, x), c)), 1e-14);
      EXPECT_TRUE(gradcheck_ok([&](const std::vector<Tensor>& in) { return spmm(a, in[0], in[1]); }, {x, c}))
          << "x " << xs << " c " << cs;
    }
  }
  // float32, and the transposed (strided) added tensor.
  CsrMatrix a32 = a.to(kFloat32);
  Tensor x = random_values({6, 4}, 44, kFloat32), ct = random_values({4, 5}, 45, kFloat32).t();
  EXPECT_LT(max_abs_diff(spmm(a32, x, ct), add(matmul(a32.to_dense(), x), ct)), 1e-5);
  EXPECT_THAT(error_of([&] { spmm(a32, x, zeros({4, 4})); }), HasSubstr("spmm"));
  EXPECT_THAT(error_of([&] { spmm(a32, x, zeros({4}, kFloat64)); }), HasSubstr("dtypes differ"));
}

TEST(Spmm, ClearErrors) {
  CsrMatrix a = CsrMatrix::from_edges(5, 7, random_edges(5, 7, 10, 1), random_values({10}, 2, kFloat32));
  EXPECT_THAT(error_of([&] {
                spmm(a, zeros({5, 3}));
              }),
              HasSubstr("spmm: expected x (7, F) or (B, 7, F) for a 5 x 7 sparse matrix, got (5, 3)"));
  EXPECT_THAT(error_of([&] { spmm(a, zeros({7})); }), HasSubstr("got (7)"));
  EXPECT_THAT(error_of([&] {
                spmm(a, zeros({7, 2}, kFloat64));
              }),
              HasSubstr("x has dtype float64 but the sparse matrix (5 x 7) has float32"));
  EXPECT_THAT(error_of([&] { spmm(CsrMatrix(), zeros({7, 2})); }), HasSubstr("undefined"));
}
