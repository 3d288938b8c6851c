// Activations (relu, leaky_relu, sigmoid, tanh, gelu), softmax / log_softmax on several dims,
// and the losses (cross_entropy with weights and each reduction, mse, l1): values against
// reference formulas and torch 1.13 golden numbers, float64 gradchecks, errors.
#include "ops/ops_test_util.h"

using namespace optest;

namespace {
struct ActCase {
  const char* name;
  std::function<Tensor(const Tensor&)> op;
  std::function<double(double)> ref;
};
std::vector<ActCase> act_cases() {
  return {
      {"relu", [](const Tensor& x) { return relu(x); }, [](double v) { return v > 0 ? v : 0.0; }},
      {"leaky_relu", [](const Tensor& x) { return leaky_relu(x); },
       [](double v) { return v > 0 ? v : 0.01 * v; }},
      {"leaky_relu_0.2", [](const Tensor& x) { return leaky_relu(x, 0.2); },
       [](double v) { return v > 0 ? v : 0.2 * v; }},
      {"leaky_relu_0", [](const Tensor& x) { return leaky_relu(x, 0.0); },
       [](double v) { return v > 0 ? v : 0.0; }},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); },
       [](double v) { return 1 / (1 + std::exp(-v)); }},
      {"tanh", [](const Tensor& x) { return tanh(x); }, [](double v) { return std::tanh(v); }},
      {"gelu", [](const Tensor& x) { return gelu(x); },
       [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }},
  };
}
}  // namespace

TEST(Activation, ForwardMatchesReference) {
  for (const ActCase& c : act_cases()) {
    for (DType dt : {kFloat32, kFloat64}) {
      Tensor x = values({4, 5}, 3, dt, -4, 4);
      const double tol = dt == kFloat32 ? 1e-6 : 1e-14;
      EXPECT_TRUE(values_near(c.op(x), ref_unary(x, c.ref), tol, tol)) << c.name << " " << dt;
      EXPECT_TRUE(values_near(c.op(x.t()), ref_unary(x.t(), c.ref), tol, tol)) << c.name << " transposed";
    }
  }
  // Saturation without NaN or inf.
  Tensor big = from_vector<float>({-100, 100});
  EXPECT_TRUE(values_near(sigmoid(big), {0, 1}, 1e-30, 0));
  EXPECT_TRUE(values_near(tanh(big), {-1, 1}));
  EXPECT_TRUE(values_near(gelu(big), {0, 100}, 1e-30, 0));
}

TEST(Activation, Gradcheck) {
  for (const ActCase& c : act_cases()) {
    // Away from relu's kink at 0, where finite differences are undefined.
    Tensor x =
        from_vector<double>({-2.5, -1.1, -0.4, -0.05, 0.07, 0.3, 0.8, 1.6, 3.0}, {3, 3}).set_requires_grad();
    EXPECT_TRUE(gradcheck_ok([&c](const std::vector<Tensor>& in) { return c.op(in[0]); }, {x})) << c.name;
  }
}

TEST(Activation, ReluGradientAtZeroIsZero) {
  Tensor x = from_vector<double>({-1, 0, 2}).set_requires_grad();
  sum(relu(x)).backward();
  EXPECT_TRUE(values_near(x.grad(), {0, 0, 1}));
  Tensor y = from_vector<double>({-1, 0, 2}).set_requires_grad();
  sum(leaky_relu(y, 0.1)).backward();
  EXPECT_TRUE(values_near(y.grad(), {0.1, 0.1, 1}));  // PyTorch: slope at 0
}

TEST(Activation, Errors) {
  EXPECT_THAT(error_of([] { relu(zeros({2}, kInt64)); }),
              HasSubstr("relu: expected a float32 or float64 tensor, got int64 of shape (2)"));
  EXPECT_THAT(error_of([] { leaky_relu(zeros({2}), -0.1); }),
              HasSubstr("leaky_relu: negative_slope must be non-negative, got -0.1"));
  EXPECT_THAT(error_of([] { softmax(zeros({2, 3}), 2); }), HasSubstr("softmax: dimension 2 out of range"));
  EXPECT_THAT(error_of([] { log_softmax(zeros({2}, kInt32), 0); }),
              HasSubstr("log_softmax: expected a float32"));
}

// ------------------------------------------------------------------------------ softmax

namespace {
std::vector<double> ref_softmax(const Tensor& x, int64_t dim, bool log) {
  const Shape s = x.shape();
  if (dim < 0) dim += s.dim();
  const auto v = x.to_vector<double>();
  std::vector<double> out(v.size());
  int64_t outer = 1, inner = 1;
  const int64_t C = s[dim];
  for (int64_t d = 0; d < dim; ++d) outer *= s[d];
  for (int64_t d = dim + 1; d < s.dim(); ++d) inner *= s[d];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      double m = -INFINITY, z = 0;
      for (int64_t c = 0; c < C; ++c) m = std::max(m, v[(o * C + c) * inner + i]);
      for (int64_t c = 0; c < C; ++c) z += std::exp(v[(o * C + c) * inner + i] - m);
      for (int64_t c = 0; c < C; ++c) {
        const double e = v[(o * C + c) * inner + i] - m;
        out[(o * C + c) * inner + i] = log ? e - std::log(z) : std::exp(e) / z;
      }
    }
  return out;
}
}  // namespace

TEST(Softmax, ValuesOnEachDim) {
  for (DType dt : {kFloat32, kFloat64}) {
    Tensor x = values({2, 3, 4}, 5, dt, -3, 3);
    const double tol = dt == kFloat32 ? 1e-6 : 1e-14;
    for (int64_t d : {0, 1, 2, -1, -3}) {
      EXPECT_TRUE(values_near(softmax(x, d), ref_softmax(x, d, false), tol, tol)) << d << " " << dt;
      EXPECT_TRUE(values_near(log_softmax(x, d), ref_softmax(x, d, true), tol, tol)) << d << " " << dt;
    }
    Tensor xt = x.transpose(0, 2);  // non-contiguous input
    EXPECT_TRUE(values_near(softmax(xt, -1), ref_softmax(xt.contiguous(), -1, false), tol, tol));
    EXPECT_TRUE(values_near(log_softmax(xt, 0), ref_softmax(xt.contiguous(), 0, true), tol, tol));
  }
  // Large logits stay finite; a row of equal values is uniform.
  Tensor big = from_vector<float>({1000, 1001, 1002, -5, -5, -5}, {2, 3});
  EXPECT_TRUE(values_near(softmax(big, 1), ref_softmax(big.to(kFloat64), 1, false), 1e-6, 1e-6));
  EXPECT_TRUE(values_near(log_softmax(big, 1), ref_softmax(big.to(kFloat64), 1, true), 1e-4, 1e-6));
  EXPECT_DOUBLE_EQ(softmax(scalar_tensor(3.0, kFloat64), 0).item<double>(), 1.0);
  EXPECT_EQ(softmax(scalar_tensor(3.0, kFloat64), 0).dim(), 0);
}

TEST(Softmax, Gradcheck) {
  Tensor x = leaf({2, 3, 4}, 6, -2, 2);
  for (int64_t d : {0, 1, -1}) {
    EXPECT_TRUE(gradcheck_ok([d](const std::vector<Tensor>& in) { return softmax(in[0], d); }, {x})) << d;
    EXPECT_TRUE(gradcheck_ok([d](const std::vector<Tensor>& in) { return log_softmax(in[0], d); }, {x})) << d;
  }
  Tensor m = leaf({3, 5}, 7, -2, 2);
  EXPECT_TRUE(gradcheck_ok([](const std::vector<Tensor>& in) { return softmax(in[0].t(), 0); }, {m}));
  EXPECT_TRUE(gradcheck_ok([](const std::vector<Tensor>& in) { return log_softmax(in[0].t(), -1); }, {m}));
  Tensor s = leaf({}, 8);
  EXPECT_TRUE(gradcheck_ok([](const std::vector<Tensor>& in) { return log_softmax(in[0], 0); }, {s}));
}

// ------------------------------------------------------------------------------ cross_entropy

namespace {
// The fixture of the golden numbers below.
Tensor ce_logits() {
  return from_vector<double>({1.0, 2.0, 0.5, -1.0, 0.0, 0.3, -0.2, 2.5, 1.1, -3.0, 0.0, 0.0, 0.0, 0.0, 0.0},
                             {3, 5});
}
Tensor ce_target() {
  return from_vector<int64_t>({1, 2, 4});
}
Tensor ce_weight() {
  return from_vector<double>({0.5, 1.0, 2.0, 1.5, 3.0});
}
}  // namespace

TEST(CrossEntropy, MatchesTorchGoldenValues) {
  // From torch 1.13 (python3-torch), float64:
  //   x = torch.tensor([[1.0, 2.0, 0.5, -1.0, 0.0], [0.3, -0.2, 2.5, 1.1, -3.0], [0.0] * 5],
  //   dtype=torch.float64) t = torch.tensor([1, 2, 4]); w = torch.tensor([0.5, 1.0, 2.0, 1.5, 3.0],
  //   dtype=torch.float64) F.cross_entropy(x, t, reduction=r) and F.cross_entropy(x, t, weight=w,
  //   reduction=r), r in mean/sum/none
  Tensor x = ce_logits(), t = ce_target(), w = ce_weight();
  EXPECT_NEAR(cross_entropy(x, t).item<double>(), 0.8468784923175345, 1e-13);
  EXPECT_NEAR(cross_entropy(x, t, Tensor(), Reduction::Sum).item<double>(), 2.5406354769526036, 1e-13);
  EXPECT_TRUE(values_near(cross_entropy(x, t, Tensor(), Reduction::None),
                          {0.5744379396277962, 0.3567596248907073, 1.6094379124341003}, 1e-13));
  EXPECT_NEAR(cross_entropy(x, t, w).item<double>(), 1.019378487785252, 1e-13);
  EXPECT_NEAR(cross_entropy(x, t, w, Reduction::Sum).item<double>(), 6.116270926711512, 1e-13);
  EXPECT_TRUE(values_near(cross_entropy(x, t, w, Reduction::None),
                          {0.5744379396277962, 0.7135192497814146, 4.828313737302301}, 1e-13));
  // A row of equal logits costs log(C), by hand.
  EXPECT_NEAR(cross_entropy(zeros({1, 5}, kFloat64), from_vector<int64_t>({3})).item<double>(), std::log(5.0),
              1e-15);
  // float32 gives the same numbers to float precision.
  EXPECT_NEAR(cross_entropy(x.to(kFloat32), t, w.to(kFloat32)).item<float>(), 1.019378487785252, 1e-6);
  EXPECT_EQ(cross_entropy(x, t).shape(), Shape{});
  EXPECT_EQ(cross_entropy(x, t, w, Reduction::None).shape(), Shape({3}));
}

TEST(CrossEntropy, LabelSmoothingMatchesTorch) {
  // torch 1.13, same fixture: F.cross_entropy(x, t, [weight=w,] reduction=r, label_smoothing=0.1),
  // and the gradient of the weighted mean.
  Tensor x = ce_logits(), t = ce_target(), w = ce_weight();
  EXPECT_NEAR(cross_entropy(x, t, Tensor(), Reduction::Mean, 0.1).item<double>(), 0.9755451589842012, 1e-13);
  EXPECT_NEAR(cross_entropy(x, t, Tensor(), Reduction::Sum, 0.1).item<double>(), 2.9266354769526037, 1e-13);
  EXPECT_TRUE(values_near(cross_entropy(x, t, Tensor(), Reduction::None, 0.1),
                          {0.7244379396277961, 0.5927596248907072, 1.6094379124341003}, 1e-13));
  EXPECT_NEAR(cross_entropy(x, t, w, Reduction::Mean, 0.1).item<double>(), 1.106524251725463, 1e-13);
  EXPECT_NEAR(cross_entropy(x, t, w, Reduction::Sum, 0.1).item<double>(), 6.639145510352778, 1e-13);
  EXPECT_TRUE(values_near(cross_entropy(x, t, w, Reduction::None, 0.1),
                          {0.8889042160054639, 1.1472488647857864, 4.602992429561526}, 1e-13));
  Tensor xg = ce_logits().set_requires_grad(true);
  cross_entropy(xg, t, w, Reduction::Mean, 0.1).backward();
  EXPECT_TRUE(values_near(xg.grad(),
                          {0.03492522871585113, -0.05386624904616076, 0.015527439779827519, -4.7825474242453295e-05,
                           0.0034614060247245295, 0.023668176742690047, 0.012033025953460058, -0.07801936289117264,
                           0.051383730924471044, -0.009065570729448495, 0.09366666666666666, 0.092,
                           0.08866666666666666, 0.09033333333333333, -0.36466666666666664},
                          1e-13));
  EXPECT_THAT(error_of([&] { cross_entropy(x, t, Tensor(), Reduction::Mean, 1.0); }),
              ::testing::HasSubstr("cross_entropy: label_smoothing must be in [0, 1), got 1"));
}

TEST(CrossEntropy, GradientMatchesTorch) {
  // torch 1.13: F.cross_entropy(x, t, weight=w).backward(); x.grad (same fixture as above).
  Tensor x = ce_logits().set_requires_grad();
  cross_entropy(x, ce_target(), ce_weight()).backward();
  EXPECT_TRUE(
      values_near(x.grad(),
                  {0.03452065602124321, -0.07282979469763592, 0.020937836270277538, 0.0046718627601486295,
                   0.012699439645966539, 0.02585188102995583, 0.015679958455911622, -0.100019758052217,
                   0.05753441931068474, 0.000953499255664802, 0.1, 0.1, 0.1, 0.1, -0.4},
                  1e-13, 1e-12));
}

TEST(CrossEntropy, Gradcheck) {
  Tensor t = from_vector<int64_t>({1, 0, 3, 3});
  Tensor w = from_vector<double>({0.2, 1.0, 2.5, 0.7});
  for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    Tensor x = leaf({4, 4}, 9, -2, 2);
    EXPECT_TRUE(gradcheck_ok(
        [&](const std::vector<Tensor>& in) { return cross_entropy(in[0], t, Tensor(), r); }, {x}))
        << static_cast<int>(r);
    EXPECT_TRUE(
        gradcheck_ok([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], t, w, r); }, {x}))
        << static_cast<int>(r) << " weighted";
    // Non-contiguous logits.
    Tensor xt = leaf({4, 4}, 10, -2, 2);
    EXPECT_TRUE(
        gradcheck_ok([&](const std::vector<Tensor>& in) { return cross_entropy(in[0].t(), t, w, r); }, {xt}))
        << static_cast<int>(r) << " transposed";
    // Label smoothing, with and without class weights.
    EXPECT_TRUE(gradcheck_ok(
        [&](const std::vector<Tensor>& in) { return cross_entropy(in[0], t, Tensor(), r, 0.2); }, {x}))
        << static_cast<int>(r) << " smoothed";
    EXPECT_TRUE(
        gradcheck_ok([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], t, w, r, 0.2); }, {x}))
        << static_cast<int>(r) << " weighted, smoothed";
  }
}

TEST(CrossEntropy, EqualsLogSoftmaxPlusNll) {
  Tensor x = values({5, 7}, 11, kFloat64, -3, 3);
  manual_seed(12);
  Tensor t = randint(0, 7, {5});
  Tensor lp = log_softmax(x, 1);
  const auto vl = lp.to_vector<double>();
  const auto vt = t.to_vector<int64_t>();
  double nll = 0;
  for (int64_t i = 0; i < 5; ++i) nll -= vl[i * 7 + vt[i]];
  EXPECT_NEAR(cross_entropy(x, t).item<double>(), nll / 5, 1e-14);
}

TEST(CrossEntropy, Errors) {
  Tensor x = zeros({3, 5});
  EXPECT_THAT(error_of([&] {
                cross_entropy(x, from_vector<int64_t>({0, 7, 1}));
              }),
              HasSubstr("cross_entropy: target 7 at position 1 is out of range for 5 classes"));
  EXPECT_THAT(error_of([&] {
                cross_entropy(x, from_vector<int64_t>({0, 1, -1}));
              }),
              HasSubstr("cross_entropy: target -1 at position 2 is out of range for 5 classes"));
  EXPECT_THAT(error_of([&] {
                cross_entropy(x, from_vector<int32_t>({0, 1, 2}));
              }),
              HasSubstr("cross_entropy: expected int64 class indices as target, got int32 of shape (3)"));
  EXPECT_THAT(error_of([&] {
                cross_entropy(x, from_vector<float>({0, 1, 2}));
              }),
              HasSubstr("cross_entropy: expected int64 class indices as target, got float32"));
  EXPECT_THAT(error_of([&] {
                cross_entropy(x, from_vector<int64_t>({0, 1}));
              }),
              HasSubstr("cross_entropy: logits (3, 5) need a target of shape (3), got (2)"));
  EXPECT_THAT(error_of([&] { cross_entropy(zeros({3}), from_vector<int64_t>({0})); }),
              HasSubstr("cross_entropy: expected logits (N, C), got (3)"));
  EXPECT_THAT(error_of([&] {
                cross_entropy(x, from_vector<int64_t>({0, 1, 2}), zeros({4}));
              }),
              HasSubstr("cross_entropy: expected class weights of shape (5), got (4)"));
  EXPECT_THAT(error_of([&] {
                cross_entropy(zeros({3, 5}, kInt64), from_vector<int64_t>({0, 1, 2}));
              }),
              HasSubstr("cross_entropy: expected a float32 or float64 tensor, got int64"));
}

// ------------------------------------------------------------------------------ mse / l1

TEST(RegressionLosses, Values) {
  Tensor a = from_vector<double>({1, 2, 3, 4}, {2, 2});
  Tensor b = from_vector<double>({0, 2, 5, 3.5}, {2, 2});
  EXPECT_DOUBLE_EQ(mse_loss(a, b).item<double>(), (1 + 0 + 4 + 0.25) / 4);
  EXPECT_DOUBLE_EQ(mse_loss(a, b, Reduction::Sum).item<double>(), 5.25);
  EXPECT_TRUE(values_near(mse_loss(a, b, Reduction::None), {1, 0, 4, 0.25}));
  EXPECT_DOUBLE_EQ(l1_loss(a, b).item<double>(), (1 + 0 + 2 + 0.5) / 4);
  EXPECT_DOUBLE_EQ(l1_loss(a, b, Reduction::Sum).item<double>(), 3.5);
  EXPECT_TRUE(values_near(l1_loss(a, b, Reduction::None), {1, 0, 2, 0.5}));
  EXPECT_EQ(l1_loss(a, b, Reduction::None).shape(), Shape({2, 2}));
}

TEST(RegressionLosses, Gradcheck) {
  for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    Tensor a = leaf({3, 4}, 13), b = leaf({3, 4}, 14);
    EXPECT_TRUE(
        gradcheck_ok([r](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1], r); }, {a, b}));
    EXPECT_TRUE(
        gradcheck_ok([r](const std::vector<Tensor>& in) { return l1_loss(in[0], in[1], r); }, {a, b}));
  }
}

TEST(RegressionLosses, Errors) {
  EXPECT_THAT(error_of([] {
                mse_loss(zeros({2, 3}), zeros({3}));
              }),
              HasSubstr("mse_loss: input shape (2, 3) differs from target (3)"));
  EXPECT_THAT(error_of([] { l1_loss(zeros({2}), zeros({3})); }),
              HasSubstr("l1_loss: input shape (2) differs from target (3)"));
  EXPECT_THAT(error_of([] { mse_loss(zeros({2}), zeros({2}, kFloat64)); }),
              HasSubstr("mse_loss: dtypes differ"));
}
