// Reductions (sum, mean, max, min, argmax): values against a reference loop over every
// combination of axes, with and without keepdim, on contiguous and permuted inputs; float64
// gradchecks; the tie rule of max/min gradients; errors.
#include "ops/ops_test_util.h"

using namespace optest;

namespace {

enum class Kind { Sum, Mean, Max, Min };

Tensor run(Kind k, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, bool all) {
  switch (k) {
    case Kind::Sum:
      return all ? sum(x) : sum(x, dims, keepdim);
    case Kind::Mean:
      return all ? mean(x) : mean(x, dims, keepdim);
    case Kind::Max:
      return all ? max(x) : max(x, dims, keepdim);
    case Kind::Min:
      return all ? min(x) : min(x, dims, keepdim);
  }
  return {};
}
const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Sum:
      return "sum";
    case Kind::Mean:
      return "mean";
    case Kind::Max:
      return "max";
    case Kind::Min:
      return "min";
  }
  return "";
}

// Reference: reduces the given (wrapped) axes of a row-major tensor; returns the keepdim shape.
std::vector<double> ref_reduce(Kind k, const Tensor& x, std::vector<int64_t> axes, Shape* kept_shape) {
  const Shape s = x.shape();
  if (axes.empty())
    for (int64_t d = 0; d < s.dim(); ++d) axes.push_back(d);
  std::vector<int64_t> kept(s.begin(), s.end());
  for (int64_t& a : axes) {
    if (a < 0) a += s.dim();
    kept[a] = 1;
  }
  const Shape ks(kept);
  const auto v = x.to_vector<double>();
  std::vector<double> out(ks.numel(), k == Kind::Max ? -INFINITY : (k == Kind::Min ? INFINITY : 0.0));
  std::vector<int64_t> count(ks.numel(), 0);
  for (int64_t i = 0; i < s.numel(); ++i) {
    auto idx = unravel(i, s);
    for (int64_t a : axes) idx[a] = 0;
    int64_t o = 0;
    for (int64_t d = 0; d < ks.dim(); ++d) o = o * ks[d] + idx[d];
    if (k == Kind::Max)
      out[o] = std::max(out[o], v[i]);
    else if (k == Kind::Min)
      out[o] = std::min(out[o], v[i]);
    else
      out[o] += v[i];
    ++count[o];
  }
  if (k == Kind::Mean)
    for (size_t o = 0; o < out.size(); ++o) out[o] /= count[o];
  *kept_shape = ks;
  return out;
}

Shape dropped(const Shape& kept, const Shape& full, std::vector<int64_t> axes) {
  std::vector<int64_t> out;
  for (int64_t& a : axes)
    if (a < 0) a += full.dim();
  for (int64_t d = 0; d < full.dim(); ++d)
    if (std::find(axes.begin(), axes.end(), d) == axes.end()) out.push_back(kept[d]);
  return Shape(out);
}

const std::vector<std::vector<int64_t>> kAxes = {{0},    {1},    {2},    {-1},     {0, 1},
                                                 {0, 2}, {1, 2}, {2, 0}, {0, 1, 2}};
const Kind kKinds[] = {Kind::Sum, Kind::Mean, Kind::Max, Kind::Min};

}  // namespace

TEST(Reduce, ValuesOverEveryAxisCombination) {
  for (DType dt : {kFloat32, kFloat64}) {
    Tensor base = values({2, 3, 4}, 5, dt, -3, 3);
    // The same values, stored permuted, reach the kernels as a strided view.
    Tensor stored = values({4, 2, 3}, 6, dt, -3, 3);
    Tensor permuted = stored.permute({1, 2, 0});
    for (const Tensor& x : {base, permuted}) {
      for (Kind k : kKinds) {
        for (const auto& axes : kAxes) {
          for (bool keepdim : {false, true}) {
            Shape ks;
            const auto expected = ref_reduce(k, x, axes, &ks);
            Tensor y = run(k, x, axes, keepdim, false);
            EXPECT_EQ(y.shape(), keepdim ? ks : dropped(ks, x.shape(), axes)) << kind_name(k);
            EXPECT_EQ(y.dtype(), dt);
            const double tol = dt == kFloat32 ? 1e-5 : 1e-13;
            EXPECT_TRUE(values_near(y, expected, tol, tol))
                << kind_name(k) << " axes " << Shape(axes) << " keepdim " << keepdim << " " << dt;
          }
        }
        Shape ks;
        Tensor all = run(k, x, {}, false, true);
        EXPECT_EQ(all.shape(), Shape{});
        EXPECT_TRUE(values_near(all, ref_reduce(k, x, {}, &ks), 1e-5, 1e-5)) << kind_name(k);
      }
    }
  }
}

TEST(Reduce, SizeOneAxesAndScalars) {
  Tensor x = values({3, 1, 4}, 8);
  Shape ks;
  EXPECT_TRUE(values_near(sum(x, {1}), x.to_vector<double>()));
  EXPECT_TRUE(values_near(sum(x, {0, 2}, true), ref_reduce(Kind::Sum, x, {0, 2}, &ks)));
  EXPECT_EQ(sum(x, {0, 2}, true).shape(), Shape({1, 1, 1}));
  EXPECT_TRUE(values_near(max(x, {1, 2}), ref_reduce(Kind::Max, x, {1, 2}, &ks)));
  Tensor s = scalar_tensor(2.5, kFloat64);
  EXPECT_DOUBLE_EQ(sum(s).item<double>(), 2.5);
  EXPECT_DOUBLE_EQ(mean(s, {0}).item<double>(), 2.5);
  EXPECT_DOUBLE_EQ(max(s, {-1}, true).item<double>(), 2.5);
  EXPECT_EQ(sum(s, {0}).dim(), 0);
  // Empty reductions: sum is 0, mean is NaN (as NumPy/PyTorch).
  EXPECT_TRUE(values_near(sum(zeros({0, 3}), {0}), {0, 0, 0}));
  EXPECT_TRUE(std::isnan(mean(zeros({0})).item<double>()));
}

TEST(Reduce, LongRowsAndColumnsInFloat32) {
  // Big enough for the threaded paths; float32 data summed against a double reference.
  Tensor row = values({100000}, 9, kFloat32, 0, 1);
  Shape ks;
  EXPECT_TRUE(values_near(sum(row), ref_reduce(Kind::Sum, row, {}, &ks), 1e-3, 1e-5));
  EXPECT_TRUE(values_near(max(row), ref_reduce(Kind::Max, row, {}, &ks)));
  Tensor m = values({300, 700}, 10, kFloat32, -1, 1);
  EXPECT_TRUE(values_near(sum(m, {0}), ref_reduce(Kind::Sum, m, {0}, &ks), 1e-4, 1e-4));
  EXPECT_TRUE(values_near(mean(m, {1}), ref_reduce(Kind::Mean, m, {1}, &ks), 1e-5, 1e-4));
  EXPECT_TRUE(values_near(min(m.t(), {1}), ref_reduce(Kind::Min, m, {0}, &ks)));
}

TEST(Reduce, Gradcheck) {
  for (Kind k : kKinds) {
    // Distinct values: max/min have a unique winner, so finite differences agree.
    Tensor x = leaf({2, 3, 4}, 11, -2, 2);
    for (const auto& axes : kAxes)
      for (bool keepdim : {false, true})
        EXPECT_TRUE(gradcheck_ok(
            [&](const std::vector<Tensor>& in) { return run(k, in[0], axes, keepdim, false); }, {x}))
            << kind_name(k) << " axes " << Shape(axes) << " keepdim " << keepdim;
    EXPECT_TRUE(
        gradcheck_ok([&](const std::vector<Tensor>& in) { return run(k, in[0], {}, false, true); }, {x}))
        << kind_name(k) << " all";
    // Through a permuted view.
    EXPECT_TRUE(gradcheck_ok(
        [&](const std::vector<Tensor>& in) {
          return run(k, in[0].permute({2, 0, 1}), {0, 2}, false, false);
        },
        {x}))
        << kind_name(k) << " permuted";
  }
}

TEST(Reduce, MaxMinTiesShareTheGradient) {
  Tensor x = from_vector<double>({1, 3, 3, 2}).set_requires_grad();
  max(x).backward();
  EXPECT_TRUE(values_near(x.grad(), {0, 0.5, 0.5, 0}));
  Tensor y = from_vector<double>({5, 1, 1, 1, 7, 7}, {2, 3}).set_requires_grad();
  Tensor g = from_vector<double>({2, 6}, {2, 1});
  min(y, {1}, true).backward(g);
  EXPECT_TRUE(values_near(y.grad(), {0, 1, 1, 6, 0, 0}));  // row 0 ties twice; row 1 has one minimum
}

TEST(Reduce, MaxTiesPerAxis) {
  // Column 0 ties in all rows, column 1 has one winner.
  Tensor x = from_vector<double>({4, 1, 4, 9, 4, 2}, {3, 2}).set_requires_grad();
  sum(max(x, {0})).backward();
  EXPECT_TRUE(values_near(x.grad(), {1.0 / 3, 0, 1.0 / 3, 1, 1.0 / 3, 0}));
  Tensor m = from_vector<double>({2, 2, 2, 2}).set_requires_grad();
  min(m).backward();
  EXPECT_TRUE(values_near(m.grad(), {0.25, 0.25, 0.25, 0.25}));
}

TEST(Reduce, SumMeanGradientValues) {
  Tensor x = leaf({2, 3}, 12);
  mean(x, {1}).backward(from_vector<double>({3, 6}));
  EXPECT_TRUE(values_near(x.grad(), {1, 1, 1, 2, 2, 2}));
  x.zero_grad();
  sum(x, {0}, true).backward(from_vector<double>({1, 2, 3}, {1, 3}));
  EXPECT_TRUE(values_near(x.grad(), {1, 2, 3, 1, 2, 3}));
}

TEST(Argmax, FirstIndexOnTiesAndKeepdim) {
  Tensor x = from_vector<float>({1, 5, 5, 2, 0, 0, 7, 3}, {2, 4});
  Tensor a = argmax(x, 1);
  EXPECT_EQ(a.dtype(), kInt64);
  EXPECT_EQ(a.shape(), Shape({2}));
  EXPECT_THAT(a.to_vector<int64_t>(), ::testing::ElementsAre(1, 2));
  EXPECT_THAT(argmax(x, 0).to_vector<int64_t>(), ::testing::ElementsAre(0, 0, 1, 1));
  EXPECT_EQ(argmax(x, -1, true).shape(), Shape({2, 1}));
  EXPECT_THAT(argmax(x.t(), 0).to_vector<int64_t>(), ::testing::ElementsAre(1, 2));
  EXPECT_EQ(argmax(scalar_tensor(3.0), 0).item<int64_t>(), 0);
  Tensor b = values({3, 5, 4}, 13);
  Tensor am = argmax(b, 1);
  const auto bv = b.to_vector<double>();
  const auto av = am.to_vector<int64_t>();
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t k = 0; k < 4; ++k) {
      int64_t best = 0;
      for (int64_t j = 1; j < 5; ++j)
        if (bv[(i * 5 + j) * 4 + k] > bv[(i * 5 + best) * 4 + k]) best = j;
      EXPECT_EQ(av[i * 4 + k], best);
    }
}

TEST(ReduceErrors, Messages) {
  Tensor x = zeros({2, 3});
  EXPECT_THAT(error_of([&] { sum(x, {0, -2}); }), HasSubstr("sum: repeated dimension in reduction"));
  EXPECT_THAT(error_of([&] { mean(x, {2}); }),
              HasSubstr("mean: dimension 2 out of range for a tensor with 2 dimensions"));
  EXPECT_THAT(error_of([&] {
                max(zeros({2, 0}), {1});
              }),
              HasSubstr("max: cannot reduce over empty dimension 1 of shape (2, 0)"));
  EXPECT_THAT(error_of([&] { min(zeros({0})); }),
              HasSubstr("min: cannot reduce over empty dimension 0 of shape (0)"));
  EXPECT_THAT(error_of([&] { sum(zeros({2}, kInt64)); }),
              HasSubstr("sum: expected a float32 or float64 tensor, got int64 of shape (2)"));
  EXPECT_THAT(error_of([&] {
                argmax(zeros({2, 0}), 1);
              }),
              HasSubstr("argmax: cannot reduce over empty dimension 1"));
  EXPECT_THAT(error_of([&] { argmax(x, 3); }), HasSubstr("argmax: dimension 3 out of range"));
}
