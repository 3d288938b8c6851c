// matmul and linear: values against a triple-loop reference for 1-D, 2-D, batched and
// broadcast-batch operands, transposed views, float32 (oneDNN sgemm) and float64; float64
// gradchecks of every form; shape errors naming both shapes.
#include "ops/ops_test_util.h"

using namespace optest;

namespace {

// Reference matmul following NumPy/PyTorch rules: 1-D operands are promoted and the added
// dimension dropped; batch dimensions broadcast.
std::vector<double> ref_matmul(const Tensor& a_in, const Tensor& b_in, Shape* out_shape) {
  Shape sa = a_in.shape(), sb = b_in.shape();
  const bool a_vec = sa.dim() == 1, b_vec = sb.dim() == 1;
  if (a_vec) sa = Shape({1, sa[0]});
  if (b_vec) sb = Shape({sb[0], 1});
  const int64_t M = sa[sa.size() - 2], K = sa[sa.size() - 1], N = sb[sb.size() - 1];
  const Shape ba(std::vector<int64_t>(sa.begin(), sa.end() - 2)),
      bb(std::vector<int64_t>(sb.begin(), sb.end() - 2));
  const Shape batch = ref_broadcast_shape(ba, bb);
  const auto va = a_in.to_vector<double>(), vb = b_in.to_vector<double>();
  std::vector<double> out(batch.numel() * M * N);
  for (int64_t bi = 0; bi < batch.numel(); ++bi) {
    const auto idx = unravel(bi, batch);
    const int64_t oa = broadcast_source(idx, ba) * M * K, ob = broadcast_source(idx, bb) * K * N;
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double acc = 0;
        for (int64_t k = 0; k < K; ++k) acc += va[oa + i * K + k] * vb[ob + k * N + j];
        out[(bi * M + i) * N + j] = acc;
      }
  }
  std::vector<int64_t> os(batch.begin(), batch.end());
  if (!a_vec) os.push_back(M);
  if (!b_vec) os.push_back(N);
  *out_shape = Shape(os);
  return out;
}

const std::vector<std::pair<Shape, Shape>> kMatmulShapes = {
    {{3, 4}, {4, 5}},           // 2-D
    {{4}, {4, 5}},              // 1-D @ 2-D
    {{3, 4}, {4}},              // 2-D @ 1-D
    {{4}, {4}},                 // dot product
    {{2, 3, 4}, {2, 4, 5}},     // batched
    {{2, 3, 4}, {4, 5}},        // batched @ matrix
    {{3, 4}, {2, 4, 5}},        // matrix @ batched
    {{2, 1, 3, 4}, {5, 4, 2}},  // broadcast batch dims
    {{4}, {2, 4, 3}},           // vector @ batched
    {{2, 3, 4}, {4}},           // batched @ vector
    {{1, 1}, {1, 1}},
    {{5, 1}, {1, 6}},  // K = 1 (outer product)
};

}  // namespace

TEST(Matmul, ValuesMatchReference) {
  for (DType dt : {kFloat32, kFloat64}) {
    uint64_t seed = 1;
    for (const auto& [sa, sb] : kMatmulShapes) {
      Tensor a = values(sa, ++seed, dt), b = values(sb, ++seed, dt);
      Shape s;
      const auto expected = ref_matmul(a, b, &s);
      Tensor y = matmul(a, b);
      EXPECT_EQ(y.shape(), s) << sa << " @ " << sb;
      EXPECT_EQ(y.dtype(), dt);
      const double tol = dt == kFloat32 ? 1e-5 : 1e-13;
      EXPECT_TRUE(values_near(y, expected, tol, tol)) << sa << " @ " << sb << " " << dt;
    }
  }
}

TEST(Matmul, TransposedAndStridedOperands) {
  for (DType dt : {kFloat32, kFloat64}) {
    const double tol = dt == kFloat32 ? 1e-5 : 1e-13;
    Tensor at = values({4, 3}, 1, dt), bt = values({5, 4}, 2, dt);
    Tensor a = at.t(), b = bt.t();  // (3, 4), (4, 5) stored transposed
    Shape s;
    EXPECT_TRUE(values_near(matmul(a, b), ref_matmul(a.contiguous(), b.contiguous(), &s), tol, tol)) << dt;
    EXPECT_TRUE(values_near(matmul(a, bt.t().contiguous()), ref_matmul(a.contiguous(), b.contiguous(), &s),
                            tol, tol));
    // Batched transposes, a column slice, and a row slice with step (neither layout is unit-stride).
    Tensor ab = values({2, 4, 3}, 3, dt).transpose(1, 2);
    Tensor bb = values({2, 5, 4}, 4, dt).transpose(-1, -2);
    EXPECT_TRUE(values_near(matmul(ab, bb), ref_matmul(ab.contiguous(), bb.contiguous(), &s), tol, tol));
    Tensor wide = values({3, 10}, 5, dt);
    Tensor cols = wide.slice(1, 2, 6);  // (3, 4) with row stride 10
    EXPECT_TRUE(values_near(matmul(cols, b), ref_matmul(cols.contiguous(), b.contiguous(), &s), tol, tol));
    Tensor stepped = values({3, 8}, 6, dt).slice(1, 0, 8, 2);  // column stride 2
    EXPECT_TRUE(
        values_near(matmul(stepped, b), ref_matmul(stepped.contiguous(), b.contiguous(), &s), tol, tol));
    Tensor expanded = values({1, 4, 5}, 7, dt).expand({3, 4, 5});  // batch stride 0
    Tensor a3 = values({3, 2, 4}, 8, dt);
    EXPECT_TRUE(values_near(matmul(a3, expanded), ref_matmul(a3, expanded.contiguous(), &s), tol, tol));
  }
}

TEST(Matmul, LargerFloat32AgainstDoubleReference) {
  Tensor a = values({65, 70}, 9, kFloat32), b = values({70, 33}, 10, kFloat32);
  Shape s;
  EXPECT_TRUE(values_near(matmul(a, b), ref_matmul(a, b, &s), 1e-4, 1e-4));
  EXPECT_TRUE(
      values_near(matmul(b.t(), a.t()), ref_matmul(b.t().contiguous(), a.t().contiguous(), &s), 1e-4, 1e-4));
  EXPECT_TRUE(values_near(matmul(zeros({3, 0}), zeros({0, 4})), std::vector<double>(12, 0.0)));
  EXPECT_EQ(matmul(zeros({0, 3}), zeros({3, 4})).shape(), Shape({0, 4}));
}

TEST(Matmul, Gradcheck) {
  uint64_t seed = 50;
  for (const auto& [sa, sb] : kMatmulShapes) {
    Tensor a = leaf(sa, ++seed), b = leaf(sb, ++seed);
    EXPECT_TRUE(gradcheck_ok([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {a, b}))
        << sa << " @ " << sb;
  }
  // Transposed operands: the backward of a transposed view.
  Tensor a = leaf({4, 3}, 70), b = leaf({5, 4}, 71);
  EXPECT_TRUE(
      gradcheck_ok([](const std::vector<Tensor>& in) { return matmul(in[0].t(), in[1].t()); }, {a, b}));
  Tensor c = leaf({2, 4, 3}, 72), d = leaf({4, 5}, 73);
  EXPECT_TRUE(gradcheck_ok([](const std::vector<Tensor>& in) { return matmul(in[0].transpose(1, 2), in[1]); },
                           {c, d}));
  // Same tensor on both sides.
  Tensor sq = leaf({3, 3}, 74);
  EXPECT_TRUE(gradcheck_ok([](const std::vector<Tensor>& in) { return matmul(in[0], in[0].t()); }, {sq}));
}

TEST(Matmul, Errors) {
  EXPECT_THAT(error_of([] {
                matmul(zeros({2, 3}), zeros({4, 5}));
              }),
              HasSubstr("matmul: inner dimensions differ: (2, 3) @ (4, 5)"));
  EXPECT_THAT(error_of([] {
                matmul(zeros({2, 2, 3}), zeros({3, 3, 4}));
              }),
              HasSubstr("matmul: shapes (2) and (3) cannot be broadcast together"));
  EXPECT_THAT(error_of([] { matmul(zeros({3}), zeros({4})); }),
              HasSubstr("matmul: inner dimensions differ: (3) @ (4)"));
  EXPECT_THAT(error_of([] {
                matmul(zeros({2, 3}), zeros({4}));
              }),
              HasSubstr("matmul: inner dimensions differ: (2, 3) @ (4)"));
  EXPECT_THAT(error_of([] { matmul(scalar_tensor(1.0), zeros({3})); }),
              HasSubstr("matmul: expected tensors with at least one dimension, got shapes () and (3)"));
  EXPECT_THAT(error_of([] {
                matmul(zeros({2, 3}), zeros({3, 4}, kFloat64));
              }),
              HasSubstr("matmul: dtypes differ"));
  EXPECT_THAT(error_of([] {
                matmul(zeros({2, 3}, kInt64), zeros({3, 4}, kInt64));
              }),
              HasSubstr("matmul: expected a float32 or float64 tensor, got int64"));
}

// ------------------------------------------------------------------------------ linear

namespace {
std::vector<double> ref_linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  const int64_t in = w.size(1), out = w.size(0), N = x.numel() / in;
  const auto vx = x.to_vector<double>(), vw = w.to_vector<double>();
  const auto vb = b.defined() ? b.to_vector<double>() : std::vector<double>(out, 0.0);
  std::vector<double> y(N * out);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < out; ++o) {
      double acc = vb[o];
      for (int64_t i = 0; i < in; ++i) acc += vx[n * in + i] * vw[o * in + i];
      y[n * out + o] = acc;
    }
  return y;
}
}  // namespace

TEST(Linear, ValuesWithAndWithoutBias) {
  for (DType dt : {kFloat32, kFloat64}) {
    const double tol = dt == kFloat32 ? 1e-5 : 1e-13;
    Tensor w = values({5, 3}, 1, dt), b = values({5}, 2, dt);
    for (const Shape& xs : {Shape{4, 3}, Shape{3}, Shape{2, 4, 3}, Shape{1, 3}}) {
      Tensor x = values(xs, 3, dt);
      Tensor y = linear(x, w, b);
      std::vector<int64_t> ys(xs.begin(), xs.end() - 1);
      ys.push_back(5);
      EXPECT_EQ(y.shape(), Shape(ys)) << xs;
      EXPECT_TRUE(values_near(y, ref_linear(x, w, b), tol, tol)) << xs << " " << dt;
      EXPECT_TRUE(values_near(linear(x, w, Tensor()), ref_linear(x, w, Tensor()), tol, tol)) << xs;
    }
    // Transposed input and transposed weight storage.
    Tensor xt = values({3, 4}, 4, dt).t();
    Tensor wt = values({3, 5}, 5, dt).t();
    EXPECT_TRUE(values_near(linear(xt, wt, b), ref_linear(xt.contiguous(), wt.contiguous(), b), tol, tol));
  }
}

TEST(Linear, Gradcheck) {
  Tensor x = leaf({4, 3}, 1), w = leaf({5, 3}, 2), b = leaf({5}, 3);
  auto f = [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); };
  EXPECT_TRUE(gradcheck_ok(f, {x, w, b}));
  EXPECT_TRUE(
      gradcheck_ok([](const std::vector<Tensor>& in) { return linear(in[0], in[1], Tensor()); }, {x, w}));
  Tensor x3 = leaf({2, 2, 3}, 4);
  EXPECT_TRUE(gradcheck_ok(f, {x3, w, b}));
  Tensor x1 = leaf({3}, 5);
  EXPECT_TRUE(gradcheck_ok(f, {x1, w, b}));
  Tensor xs = leaf({3, 4}, 6);
  EXPECT_TRUE(gradcheck_ok([](const std::vector<Tensor>& in) { return linear(in[0].t(), in[1], in[2]); },
                           {xs, w, b}));
  // Only the weight requires grad (a first layer).
  Tensor xd = values({4, 3}, 7);
  EXPECT_TRUE(
      gradcheck_ok([&xd](const std::vector<Tensor>& in) { return linear(xd, in[0], in[1]); }, {w, b}));
  EXPECT_FALSE(xd.grad().defined());
}

TEST(Linear, Errors) {
  Tensor w = zeros({5, 3}), b = zeros({5});
  EXPECT_THAT(error_of([&] {
                linear(zeros({2, 4}), w, b);
              }),
              HasSubstr("linear(in_features=3, out_features=5): expected input (N, 3), got (2, 4)"));
  EXPECT_THAT(error_of([&] {
                linear(zeros({2, 3}), w, zeros({4}));
              }),
              HasSubstr("linear(out_features=5): expected bias (5), got (4)"));
  EXPECT_THAT(error_of([&] {
                linear(zeros({2, 3}), zeros({5, 3, 1}), b);
              }),
              HasSubstr("linear: expected weight (out_features, in_features), got (5, 3, 1)"));
  EXPECT_THAT(error_of([&] { linear(zeros({2, 3}, kFloat64), w, b); }), HasSubstr("linear: dtypes differ"));
  EXPECT_THAT(error_of([&] { linear(scalar_tensor(1.0), w, b); }), HasSubstr("linear(in_features=3"));
}

TEST(Matmul, Float32BackwardMatchesFloat64) {
  // gradcheck runs in float64 (reference GEMM); this checks the float32 path (oneDNN sgemm with
  // transposed operands in backward) on sizes large enough for threaded kernels.
  auto grads = [](DType dt, const Shape& sa, const Shape& sb, bool transpose_a) {
    Tensor a = values(sa, 31, kFloat64).to(dt).set_requires_grad();
    Tensor b = values(sb, 32, kFloat64).to(dt).set_requires_grad();
    Tensor y = matmul(transpose_a ? a.transpose(-1, -2) : a, b);
    sum(mul(y, values(y.shape(), 34, kFloat64).to(dt))).backward();  // the same weights for both dtypes
    return std::make_pair(a.grad().to(kFloat64).to_vector<double>(),
                          b.grad().to(kFloat64).to_vector<double>());
  };
  const std::vector<std::tuple<Shape, Shape, bool>> cases = {
      {{96, 80}, {80, 70}, false},
      {{3, 40, 50}, {50, 30}, false},
      {{2, 1, 20, 30}, {3, 30, 25}, false},
      {{80, 96}, {80, 70}, true},
  };
  for (const auto& [sa, sb, ta] : cases) {
    const auto f = grads(kFloat32, sa, sb, ta), d = grads(kFloat64, sa, sb, ta);
    for (size_t i = 0; i < d.first.size(); ++i)
      ASSERT_NEAR(f.first[i], d.first[i], 1e-4 * (1 + std::abs(d.first[i]))) << sa;
    for (size_t i = 0; i < d.second.size(); ++i)
      ASSERT_NEAR(f.second[i], d.second[i], 1e-4 * (1 + std::abs(d.second[i]))) << sb;
  }
}

TEST(Linear, Float32BackwardMatchesFloat64) {
  auto grads = [](DType dt) {
    Tensor x = values({64, 100}, 41, kFloat64).to(dt).set_requires_grad();
    Tensor w = values({50, 100}, 42, kFloat64).to(dt).set_requires_grad();
    Tensor b = values({50}, 43, kFloat64).to(dt).set_requires_grad();
    manual_seed(44);
    Tensor t = randint(0, 50, {64});
    cross_entropy(relu(linear(x, w, b)), t).backward();
    std::vector<double> all;
    for (const Tensor& p : {x, w, b}) {
      const auto v = p.grad().to_vector<double>();
      all.insert(all.end(), v.begin(), v.end());
    }
    return all;
  };
  const auto f = grads(kFloat32), d = grads(kFloat64);
  ASSERT_EQ(f.size(), d.size());
  for (size_t i = 0; i < d.size(); ++i) ASSERT_NEAR(f[i], d[i], 1e-5 + 1e-4 * std::abs(d[i])) << i;
}
