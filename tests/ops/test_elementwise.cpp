// Elementwise ops (ops/ops.h): binary ops with NumPy broadcasting, scalar variants and unary
// ops, each against a plain reference loop in float32 and float64, with float64 gradchecks
// (broadcast gradients included) and the errors for bad shapes and dtypes.
#include "ops/ops_test_util.h"

using namespace optest;

namespace {

struct BinaryCase {
  const char* name;
  Tensor (*op)(const Tensor&, const Tensor&);
  std::function<double(double, double)> ref;
  bool positive_a;  // pow needs a positive base
};

std::vector<BinaryCase> binary_cases() {
  return {
      {"add", [](const Tensor& a, const Tensor& b) { return add(a, b); },
       [](double x, double y) { return x + y; }, false},
      {"sub", [](const Tensor& a, const Tensor& b) { return sub(a, b); },
       [](double x, double y) { return x - y; }, false},
      {"mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); },
       [](double x, double y) { return x * y; }, false},
      {"div", [](const Tensor& a, const Tensor& b) { return div(a, b); },
       [](double x, double y) { return x / y; }, false},
      {"pow", [](const Tensor& a, const Tensor& b) { return pow(a, b); },
       [](double x, double y) { return std::pow(x, y); }, true},
      {"maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); },
       [](double x, double y) { return std::max(x, y); }, false},
      {"minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); },
       [](double x, double y) { return std::min(x, y); }, false},
  };
}

// Shape pairs: equal, (3,1)+(1,4), trailing vector, scalar tensor on either side, size-1 middle dims.
const std::vector<std::pair<Shape, Shape>> kShapePairs = {
    {{2, 3}, {2, 3}}, {{3, 1}, {1, 4}},    {{2, 3, 4}, {4}}, {{}, {2, 3}},
    {{2, 3}, {}},     {{2, 1, 3}, {4, 1}}, {{1}, {5}},       {{4, 1, 2}, {1, 3, 1}},
};

// Second operand bounded away from zero (div) and ties (maximum/minimum).
Tensor operand_b(const Shape& s, uint64_t seed, DType dt) {
  Tensor v = values(s, seed, dt, 0.5, 2.0);
  return v;
}

}  // namespace

TEST(Binary, ForwardMatchesReferenceWithBroadcasting) {
  for (const BinaryCase& c : binary_cases()) {
    for (DType dt : {kFloat32, kFloat64}) {
      uint64_t seed = 10;
      for (const auto& [sa, sb] : kShapePairs) {
        Tensor a = c.positive_a ? values(sa, ++seed, dt, 0.2, 3.0) : values(sa, ++seed, dt, -2.0, 2.0);
        Tensor b = operand_b(sb, ++seed, dt);
        Shape expected_shape;
        const auto expected = ref_binary(a, b, c.ref, &expected_shape);
        Tensor out = c.op(a, b);
        EXPECT_EQ(out.shape(), expected_shape) << c.name << " " << sa << " " << sb;
        EXPECT_EQ(out.dtype(), dt);
        const double tol = dt == kFloat32 ? 1e-5 : 1e-13;
        EXPECT_TRUE(values_near(out, expected, tol, tol)) << c.name << " " << sa << " " << sb << " " << dt;
      }
    }
  }
}

TEST(Binary, StridedAndOffsetOperands) {
  // Transposed, sliced-with-step and expanded operands go through the strided loop.
  Tensor base = values({4, 6}, 3, kFloat32, -1, 1);
  Tensor a = base.t();  // (6, 4), strides (1, 6)
  Tensor b = values({8, 4}, 4, kFloat32, 0.5, 1.5).slice(0, 1, 8, 1).slice(0, 0, 7, 1).slice(0, 0, 6, 1);
  Tensor c = values({12, 4}, 5, kFloat32, 0.5, 1.5).slice(0, 1, 12, 2);  // (6, 4), row stride 8
  for (const BinaryCase& bc : binary_cases()) {
    if (bc.positive_a) continue;
    EXPECT_TRUE(values_near(bc.op(a, c), ref_binary(a, c, bc.ref), 1e-6, 1e-6)) << bc.name;
    EXPECT_TRUE(values_near(bc.op(c, a), ref_binary(c, a, bc.ref), 1e-6, 1e-6)) << bc.name;
    EXPECT_TRUE(values_near(bc.op(a, b), ref_binary(a, b, bc.ref), 1e-6, 1e-6)) << bc.name;
  }
  // Large enough to take the parallel paths.
  Tensor big = values({300, 200}, 6, kFloat32);
  Tensor row = values({200}, 7, kFloat32, 0.5, 1.5);
  EXPECT_TRUE(values_near(div(big.t().contiguous().t(), row),
                          ref_binary(big, row, [](double x, double y) { return x / y; }), 1e-6, 1e-6));
}

TEST(Binary, Comparisons) {
  Tensor a = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = from_vector<float>({2, 2, 5});
  EXPECT_TRUE(values_near(eq(a, b), {0, 1, 0, 0, 0, 0}));
  EXPECT_TRUE(values_near(gt(a, b), {0, 0, 0, 1, 1, 1}));
  EXPECT_TRUE(values_near(lt(a, b), {1, 0, 1, 0, 0, 0}));
  EXPECT_EQ(gt(a, b).dtype(), kFloat32);
  Tensor x = leaf({3}, 1);
  EXPECT_FALSE(gt(x, x.detach()).requires_grad());  // not differentiable
}

TEST(Binary, OperatorsAndScalarForms) {
  Tensor a = from_vector<double>({1, 2, 4});
  Tensor b = from_vector<double>({2, 8, 0.5});
  EXPECT_TRUE(values_near(a + b, {3, 10, 4.5}));
  EXPECT_TRUE(values_near(a - b, {-1, -6, 3.5}));
  EXPECT_TRUE(values_near(a * b, {2, 16, 2}));
  EXPECT_TRUE(values_near(a / b, {0.5, 0.25, 8}));
  EXPECT_TRUE(values_near(a + 1.5, {2.5, 3.5, 5.5}));
  EXPECT_TRUE(values_near(a - 1.0, {0, 1, 3}));
  EXPECT_TRUE(values_near(a * -2.0, {-2, -4, -8}));
  EXPECT_TRUE(values_near(a / 4.0, {0.25, 0.5, 1}));
  EXPECT_TRUE(values_near(3.0 + a, {4, 5, 7}));
  EXPECT_TRUE(values_near(3.0 * a, {3, 6, 12}));
  EXPECT_TRUE(values_near(3.0 - a, {2, 1, -1}));
  EXPECT_TRUE(values_near(8.0 / a, {8, 4, 2}));
  EXPECT_TRUE(values_near(-a, {-1, -2, -4}));
  EXPECT_TRUE(values_near(pow(a, 2.0), {1, 4, 16}));
  EXPECT_TRUE(values_near(pow(a, 0.5), {1, std::sqrt(2.0), 2}));
  EXPECT_TRUE(values_near(pow(a, -1.0), {1, 0.5, 0.25}));
  EXPECT_EQ((from_vector<float>({1}) * 2.0).dtype(), kFloat32);
}

TEST(Binary, Gradcheck) {
  for (const BinaryCase& c : binary_cases()) {
    uint64_t seed = 100;
    for (const auto& [sa, sb] : kShapePairs) {
      Tensor a = c.positive_a ? leaf(sa, ++seed, 0.3, 2.0) : leaf(sa, ++seed, -2.0, 2.0);
      Tensor b = leaf(sb, ++seed, 0.5, 2.0);
      EXPECT_TRUE(gradcheck_ok([&c](const std::vector<Tensor>& in) { return c.op(in[0], in[1]); }, {a, b}))
          << c.name << " " << sa << " " << sb;
    }
  }
}

TEST(Binary, GradientOnlyToInputsThatRequireIt) {
  Tensor a = leaf({2, 3}, 1);
  Tensor b = values({3}, 2);
  Tensor y = sum(mul(a, b));
  y.backward();
  EXPECT_TRUE(a.grad().defined());
  EXPECT_FALSE(b.grad().defined());
  EXPECT_TRUE(
      values_near(a.grad(), ref_binary(ones({2, 3}, kFloat64), b, [](double, double y) { return y; })));
}

TEST(Binary, MaximumMinimumSplitTies) {
  Tensor a = from_vector<double>({1, 2, 3}).set_requires_grad();
  Tensor b = from_vector<double>({3, 2, 1}).set_requires_grad();
  sum(maximum(a, b)).backward();
  EXPECT_TRUE(values_near(a.grad(), {0, 0.5, 1}));
  EXPECT_TRUE(values_near(b.grad(), {1, 0.5, 0}));
  a.zero_grad();
  b.zero_grad();
  sum(minimum(a, b)).backward();
  EXPECT_TRUE(values_near(a.grad(), {1, 0.5, 0}));
  EXPECT_TRUE(values_near(b.grad(), {0, 0.5, 1}));
  // With broadcasting, a scalar against a vector collects the gradient of every position it wins.
  Tensor s = scalar_tensor(2.0, kFloat64).set_requires_grad();
  Tensor v = from_vector<double>({1, 2, 5}).set_requires_grad();
  sum(maximum(s, v)).backward();
  EXPECT_DOUBLE_EQ(s.grad().item<double>(), 1.5);
  EXPECT_TRUE(values_near(v.grad(), {0, 0.5, 1}));
}

TEST(Binary, ScalarFormsGradcheck) {
  const std::vector<std::pair<const char*, std::function<Tensor(const Tensor&)>>> fns = {
      {"add", [](const Tensor& x) { return x + 2.5; }},
      {"sub", [](const Tensor& x) { return x - 1.0; }},
      {"mul", [](const Tensor& x) { return x * -3.0; }},
      {"div", [](const Tensor& x) { return x / 4.0; }},
      {"rsub", [](const Tensor& x) { return 2.0 - x; }},
      {"rdiv", [](const Tensor& x) { return 3.0 / x; }},
      {"radd", [](const Tensor& x) { return 2.0 + x; }},
      {"rmul", [](const Tensor& x) { return 2.0 * x; }},
      {"pow2", [](const Tensor& x) { return pow(x, 2.0); }},
      {"pow1.5", [](const Tensor& x) { return pow(x, 1.5); }},
      {"pow-2", [](const Tensor& x) { return pow(x, -2.0); }},
  };
  for (const auto& [name, fn] : fns) {
    Tensor x = leaf({2, 3}, 7, 0.5, 2.0);
    EXPECT_TRUE(gradcheck_ok([&fn = fn](const std::vector<Tensor>& in) { return fn(in[0]); }, {x})) << name;
    Tensor s = leaf({}, 8, 0.5, 2.0);  // scalar tensor
    EXPECT_TRUE(gradcheck_ok([&fn = fn](const std::vector<Tensor>& in) { return fn(in[0]); }, {s})) << name;
  }
}

// ------------------------------------------------------------------------------ unary

namespace {
struct UnaryCase {
  const char* name;
  std::function<Tensor(const Tensor&)> op;
  std::function<double(double)> ref;
  double lo, hi;  // input range for the test (away from kinks and outside domains)
};
std::vector<UnaryCase> unary_cases() {
  constexpr double inf = std::numeric_limits<double>::infinity();
  (void)inf;
  return {
      {"neg", [](const Tensor& x) { return neg(x); }, [](double v) { return -v; }, -2, 2},
      {"exp", [](const Tensor& x) { return exp(x); }, [](double v) { return std::exp(v); }, -2, 2},
      {"log", [](const Tensor& x) { return log(x); }, [](double v) { return std::log(v); }, 0.1, 3},
      {"sqrt", [](const Tensor& x) { return sqrt(x); }, [](double v) { return std::sqrt(v); }, 0.1, 3},
      {"abs", [](const Tensor& x) { return abs(x); }, [](double v) { return std::abs(v); }, -2, 2},
      {"square", [](const Tensor& x) { return square(x); }, [](double v) { return v * v; }, -2, 2},
      {"clamp", [](const Tensor& x) { return clamp(x, -0.5, 0.7); },
       [](double v) { return std::min(std::max(v, -0.5), 0.7); }, -2, 2},
      {"clamp_min", [](const Tensor& x) { return clamp(x, -0.5, std::nullopt); },
       [](double v) { return std::max(v, -0.5); }, -2, 2},
      {"clamp_max", [](const Tensor& x) { return clamp(x, std::nullopt, 0.3); },
       [](double v) { return std::min(v, 0.3); }, -2, 2},
  };
}
}  // namespace

TEST(Unary, ForwardMatchesReference) {
  for (const UnaryCase& c : unary_cases()) {
    for (DType dt : {kFloat32, kFloat64}) {
      Tensor x = values({3, 5}, 21, dt, c.lo, c.hi);
      const double tol = dt == kFloat32 ? 1e-6 : 1e-14;
      Tensor y = c.op(x);
      EXPECT_EQ(y.shape(), x.shape());
      EXPECT_EQ(y.dtype(), dt);
      EXPECT_TRUE(values_near(y, ref_unary(x, c.ref), tol, tol)) << c.name << " " << dt;
      Tensor xt = x.t();  // strided input
      EXPECT_TRUE(values_near(c.op(xt), ref_unary(xt, c.ref), tol, tol)) << c.name << " transposed";
    }
  }
  EXPECT_TRUE(
      values_near(clamp(from_vector<double>({-1, 0.5, 3}), std::nullopt, std::nullopt), {-1, 0.5, 3}));
  EXPECT_TRUE(values_near(abs(from_vector<double>({-0.0, 0.0})), {0, 0}));
}

TEST(Unary, Gradcheck) {
  for (const UnaryCase& c : unary_cases()) {
    // Values near the clamp bounds or abs's kink would make finite differences straddle them.
    Tensor x = from_vector<double>({-1.7, -1.2, -0.8, -0.31, 0.12, 0.43, 0.9, 1.4, 1.9}, {3, 3});
    if (c.lo > 0) x = from_vector<double>({0.15, 0.3, 0.55, 0.8, 1.1, 1.6, 2.0, 2.4, 2.9}, {3, 3});
    x.set_requires_grad();
    EXPECT_TRUE(gradcheck_ok([&c](const std::vector<Tensor>& in) { return c.op(in[0]); }, {x})) << c.name;
  }
}

TEST(Binary, PowScalarZeroExponentHasZeroGradient) {
  // d/dx x^0 = 0 everywhere, x = 0 included (not 0 * 0^-1 = NaN).
  Tensor x = from_vector<double>({0, 2}).set_requires_grad();
  sum(pow(x, 0.0)).backward();
  EXPECT_TRUE(values_near(x.grad(), {0, 0}));
  Tensor y = from_vector<double>({0, 3}).set_requires_grad();
  sum(pow(y, 1.0)).backward();
  EXPECT_TRUE(values_near(y.grad(), {1, 1}));
}

TEST(Unary, ClampGradientIsZeroOutsideTheBounds) {
  Tensor x = from_vector<double>({-2, -0.5, 0, 0.7, 3}).set_requires_grad();
  sum(clamp(x, -0.5, 0.7)).backward();
  EXPECT_TRUE(values_near(x.grad(), {0, 1, 1, 1, 0}));  // bounds included, as PyTorch
  Tensor y = from_vector<double>({-2, 1}).set_requires_grad();
  sum(clamp(y, 0.0, std::nullopt)).backward();
  EXPECT_TRUE(values_near(y.grad(), {0, 1}));
}

// ------------------------------------------------------------------------------ errors

TEST(ElementwiseErrors, ShapesDtypesAndUndefined) {
  Tensor a = zeros({2, 3}), b = zeros({4});
  EXPECT_THAT(error_of([&] { add(a, b); }),
              HasSubstr("add: shapes (2, 3) and (4) cannot be broadcast together"));
  EXPECT_THAT(error_of([&] {
                mul(zeros({2, 3, 4}), zeros({3, 1, 5}));
              }),
              HasSubstr("mul: shapes (2, 3, 4) and (3, 1, 5) cannot be broadcast together"));
  EXPECT_THAT(error_of([&] { div(a, zeros({3}, kFloat64)); }),
              HasSubstr("div: dtypes differ (float32 for shape (2, 3), float64 for shape (3))"));
  EXPECT_THAT(error_of([&] { sub(zeros({2}, kInt64), zeros({2}, kInt64)); }),
              HasSubstr("sub: expected a float32 or float64 tensor, got int64 of shape (2)"));
  EXPECT_THAT(error_of([&] { exp(zeros({2}, kInt32)); }),
              HasSubstr("exp: expected a float32 or float64 tensor, got int32 of shape (2)"));
  EXPECT_THAT(error_of([&] { mul(zeros({2}, kUInt8), 2.0); }),
              HasSubstr("mul: expected a float32 or float64 tensor"));
  EXPECT_THAT(error_of([&] { add(Tensor(), a); }), HasSubstr("add: got an undefined tensor"));
  EXPECT_THAT(error_of([&] { clamp(a, 1.0, 0.0); }), HasSubstr("clamp: min 1 is greater than max 0"));
  EXPECT_THAT(error_of([&] { pow(a, zeros({5})); }),
              HasSubstr("pow: shapes (2, 3) and (5) cannot be broadcast"));
  EXPECT_THAT(error_of([&] { maximum(a, b); }), HasSubstr("maximum: shapes (2, 3) and (4)"));
  EXPECT_THAT(error_of([&] { gt(a, b); }), HasSubstr("gt: shapes (2, 3) and (4)"));
}

TEST(Elementwise, EmptyTensors) {
  Tensor a = zeros({0, 3}), b = zeros({3});
  EXPECT_EQ(add(a, b).shape(), Shape({0, 3}));
  EXPECT_EQ(exp(a).numel(), 0);
  Tensor x = zeros({0}, kFloat64).set_requires_grad();
  sum(mul(x, 2.0)).backward();
  EXPECT_EQ(x.grad().shape(), Shape({0}));
}
