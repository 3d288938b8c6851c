// Autograd engine behaviour: accumulation over consumers and over backward calls, non-scalar
// roots, no_grad, detach, zero_grad, requires_grad rules, the errors of misuse (no grad,
// freed graph, wrong gradient), deep graphs, and that gradcheck itself catches a wrong backward.
#include <thread>

#include "ops/ops_test_util.h"

using namespace optest;

TEST(Autograd, AccumulatesOverSeveralConsumers) {
  // y = x*x + 2x + exp(x): x feeds three ops (and mul twice).
  Tensor x = from_vector<double>({-1, 0.5, 2}).set_requires_grad();
  Tensor y = add(add(mul(x, x), mul(x, 2.0)), exp(x));
  sum(y).backward();
  EXPECT_TRUE(values_near(x.grad(), ref_unary(x, [](double v) { return 2 * v + 2 + std::exp(v); }), 1e-14));
  // A diamond: b and c both depend on a; a must wait for both before propagating.
  Tensor w = from_vector<double>({3}).set_requires_grad();
  Tensor a = mul(w, 2.0);
  Tensor b = mul(a, 3.0);
  Tensor c = square(a);
  sum(add(b, c)).backward();
  EXPECT_DOUBLE_EQ(w.grad().item<double>(), 2 * 3 + 2 * (2 * 6.0));  // d/dw (6w + 4w^2) = 6 + 8w
}

TEST(Autograd, AccumulatesOverTwoBackwardCalls) {
  Tensor x = from_vector<double>({1, 2}).set_requires_grad();
  sum(mul(x, 3.0)).backward();
  sum(square(x)).backward();
  EXPECT_TRUE(values_near(x.grad(), {3 + 2, 3 + 4}));
  // Two leaves fed the same gradient tensor keep separate gradients that accumulate independently.
  Tensor a = from_vector<double>({1, 1}).set_requires_grad(),
         b = from_vector<double>({1, 1}).set_requires_grad();
  sum(add(a, b)).backward();
  sum(add(a, b)).backward();
  sum(b).backward();
  EXPECT_TRUE(values_near(a.grad(), {2, 2}));
  EXPECT_TRUE(values_near(b.grad(), {3, 3}));
  EXPECT_FALSE(a.grad().shares_storage(b.grad()));
}

TEST(Autograd, BackwardWithGradientOnNonScalarRoot) {
  Tensor x = from_vector<double>({1, 2, 3, 4}, {2, 2}).set_requires_grad();
  Tensor y = mul(x, x);
  Tensor g = from_vector<double>({1, 0.5, -1, 2}, {2, 2});
  y.backward(g);
  EXPECT_TRUE(values_near(x.grad(), {2, 2, -6, 16}));
  EXPECT_TRUE(values_near(g, {1, 0.5, -1, 2}));  // the caller's gradient is not modified
  // On a leaf, the gradient is copied, never aliased: later accumulation leaves g alone.
  Tensor leaf_x = zeros({2, 2}, kFloat64).set_requires_grad();
  leaf_x.backward(g);
  leaf_x.backward(g);
  EXPECT_TRUE(values_near(leaf_x.grad(), {2, 1, -2, 4}));
  EXPECT_TRUE(values_near(g, {1, 0.5, -1, 2}));
  g.fill_(0);
  EXPECT_TRUE(values_near(leaf_x.grad(), {2, 1, -2, 4}));
}

TEST(Autograd, BackwardErrors) {
  Tensor x = from_vector<double>({1, 2}).set_requires_grad();
  Tensor y = mul(x, 2.0);
  EXPECT_THAT(error_of([&] { y.backward(); }),
              HasSubstr("backward(): called without a gradient on a tensor of shape (2); pass a gradient"));
  EXPECT_THAT(error_of([&] { y.backward(ones({3}, kFloat64)); }),
              HasSubstr("backward(): gradient shape (3) differs from tensor shape (2)"));
  EXPECT_THAT(error_of([&] { y.backward(ones({2}, kFloat32)); }),
              HasSubstr("backward(): gradient dtype float32 differs from tensor dtype float64"));
  EXPECT_THAT(error_of([] {
                sum(from_vector<double>({1, 2})).backward();
              }),
              HasSubstr("backward(): tensor does not require grad and has no grad_fn"));
}

TEST(Autograd, SecondBackwardThroughFreedGraphIsAnError) {
  Tensor x = from_vector<double>({1, 2}).set_requires_grad();
  Tensor loss = sum(exp(x));
  loss.backward();
  EXPECT_THAT(error_of([&] { loss.backward(); }),
              HasSubstr("backward: the graph was already freed by an earlier backward()"));
  // Also when a new op sits on top of the freed part.
  Tensor e = exp(x);
  Tensor first = sum(e);
  first.backward();
  EXPECT_THAT(error_of([&] { sum(mul(e, 2.0)).backward(); }), HasSubstr("already freed"));
}

TEST(Autograd, NoGradGuardStopsRecording) {
  Tensor x = from_vector<double>({1, 2}).set_requires_grad();
  EXPECT_TRUE(autograd::grad_mode_enabled());
  {
    NoGradGuard guard;
    EXPECT_FALSE(autograd::grad_mode_enabled());
    Tensor y = mul(x, 2.0);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
    EXPECT_TRUE(values_near(y, {2, 4}));
    { NoGradGuard nested; }
    EXPECT_FALSE(autograd::grad_mode_enabled());  // nested guard restores "off", not "on"
    // Grad mode is per thread: another thread still records.
    bool other_thread_records = false;
    std::thread t([&] { other_thread_records = mul(x, 2.0).requires_grad(); });
    t.join();
    EXPECT_TRUE(other_thread_records);
  }
  EXPECT_TRUE(autograd::grad_mode_enabled());
  EXPECT_TRUE(mul(x, 2.0).requires_grad());
}

TEST(Autograd, DetachSharesStorageWithoutHistory) {
  Tensor x = from_vector<double>({1, 2}).set_requires_grad();
  Tensor y = mul(x, 3.0);
  Tensor d = y.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.is_leaf());
  EXPECT_TRUE(d.shares_storage(y));
  // Gradient does not flow through the detached branch.
  sum(add(mul(d, x), y)).backward();
  EXPECT_TRUE(values_near(x.grad(), {3 + 3, 6 + 3}));
}

TEST(Autograd, ZeroGradDropsTheGradient) {
  Tensor x = from_vector<double>({1, 2}).set_requires_grad();
  sum(x).backward();
  EXPECT_TRUE(x.grad().defined());
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
  sum(mul(x, 5.0)).backward();
  EXPECT_TRUE(values_near(x.grad(), {5, 5}));
  x.set_grad(ones({2}, kFloat64));
  EXPECT_TRUE(values_near(x.grad(), {1, 1}));
  EXPECT_THAT(error_of([&] { x.set_grad(ones({3}, kFloat64)); }),
              HasSubstr("set_grad: gradient shape (3) differs from tensor shape (2)"));
}

TEST(Autograd, RequiresGradRules) {
  EXPECT_THAT(error_of([] { zeros({2}, kInt64).set_requires_grad(); }),
              HasSubstr("requires_grad: only float tensors can require gradients, got int64"));
  EXPECT_THAT(error_of([] { zeros({2}, kUInt8).requires_grad_(); }),
              HasSubstr("only float tensors can require gradients, got uint8"));
  Tensor x = zeros({2}, kFloat32).set_requires_grad();
  EXPECT_TRUE(x.requires_grad());
  EXPECT_TRUE(x.is_leaf());
  Tensor y = mul(x, 2.0);
  EXPECT_FALSE(y.is_leaf());
  EXPECT_THAT(error_of([&] { y.set_requires_grad(false); }),
              HasSubstr("requires_grad: can only be changed on leaf tensors"));
  zeros({2}, kInt64).set_requires_grad(false);  // turning it off is always fine on a leaf
  x.set_requires_grad(false);
  EXPECT_FALSE(mul(x, 2.0).requires_grad());
  // Views of a leaf are recorded (not leaves); only the leaf accumulates.
  Tensor z = from_vector<double>({1, 2, 3, 4}).set_requires_grad();
  Tensor v = z.reshape({2, 2});
  EXPECT_FALSE(v.is_leaf());
  sum(v).backward();
  EXPECT_TRUE(values_near(z.grad(), {1, 1, 1, 1}));
  EXPECT_FALSE(v.grad().defined());
}

TEST(Autograd, OnlyRequestedInputsGetGradients) {
  Tensor a = leaf({2, 3}, 1), b = values({3, 4}, 2);
  sum(matmul(a, b)).backward();
  EXPECT_TRUE(a.grad().defined());
  EXPECT_FALSE(b.grad().defined());
  EXPECT_EQ(a.grad().shape(), a.shape());
  EXPECT_EQ(a.grad().dtype(), kFloat64);
}

TEST(Autograd, DeepGraphDoesNotOverflowTheStack) {
  // A long chain of nodes, with and without a backward pass: both must build, run and be freed.
  for (bool run_backward : {false, true}) {
    Tensor x = ones({1}, kFloat64).set_requires_grad();
    {
      Tensor y = x;
      for (int i = 0; i < 300000; ++i) y = mul(y, 1.0);
      if (run_backward) sum(y).backward();
    }
    EXPECT_EQ(x.grad().defined(), run_backward);
  }
}

TEST(Autograd, CustomRecordedOp) {
  // An op defined outside the library with autograd::record, as an extension would.
  auto cube = [](const Tensor& x) {
    Tensor out = mul(mul(x.detach(), x.detach()), x.detach());
    autograd::record("cube", {x}, out, [x = x.detach()](const Tensor& g, const autograd::NeedsGrad&) {
      return std::vector<Tensor>{mul(g, mul(square(x), 3.0))};
    });
    return out;
  };
  EXPECT_TRUE(gradcheck_ok([&](const std::vector<Tensor>& in) { return cube(in[0]); }, {leaf({3}, 4)}));
  EXPECT_EQ(cube(leaf({1}, 5)).grad_fn()->name(), "cube");
  // A backward returning the wrong number of gradients is reported by name.
  Tensor x = leaf({2}, 6);
  Tensor out = mul(x.detach(), 1.0);
  autograd::record("broken", {x}, out, [](const Tensor& g, const autograd::NeedsGrad&) {
    return std::vector<Tensor>{g, g};
  });
  EXPECT_THAT(error_of([&] { sum(out).backward(); }),
              HasSubstr("broken backward: returned 2 gradients for 1 inputs"));
}

TEST(Gradcheck, CatchesAWrongBackward) {
  // square with a backward off by a factor of 2: gradcheck must fail and name the element.
  auto bad_square = [](const Tensor& x) {
    Tensor out = mul(x.detach(), x.detach());
    autograd::record("bad_square", {x}, out, [x = x.detach()](const Tensor& g, const autograd::NeedsGrad&) {
      return std::vector<Tensor>{mul(g, x)};
    });
    return out;
  };
  Tensor x = from_vector<double>({0.5, -1.0, 2.0}).set_requires_grad();
  const autograd::GradcheckResult r =
      autograd::gradcheck([&](const std::vector<Tensor>& in) { return bad_square(in[0]); }, {x});
  EXPECT_FALSE(r.ok);
  EXPECT_THAT(r.message, HasSubstr("input 0 element 0"));
  EXPECT_GT(r.max_abs_error, 0.1);
  EXPECT_THAT(error_of([] {
                autograd::gradcheck([](const std::vector<Tensor>& in) { return in[0]; },
                                    {zeros({2}, kFloat32).set_requires_grad()});
              }),
              HasSubstr("gradcheck: inputs must be contiguous float64 leaves that require grad"));
}

TEST(Autograd, BackwardFreesSavedTensors) {
  // exp saves its (2000-element) output; once backward has run, the graph must let it go even
  // while the loss tensor is still alive, leaving only x's gradient.
  Allocator& a = cpu_allocator();
  Tensor x = values({1000}, 15).set_requires_grad();
  const size_t base = a.stats().bytes_in_use;
  Tensor loss = sum(exp(concat({x, x}, 0)));
  const size_t with_graph = a.stats().bytes_in_use;
  EXPECT_EQ(with_graph - base, allocation_size_class(16000) + allocation_size_class(8));
  loss.backward();
  EXPECT_EQ(a.stats().bytes_in_use, base + allocation_size_class(8) + allocation_size_class(8000));
  loss = Tensor();
  EXPECT_EQ(a.stats().bytes_in_use, base + allocation_size_class(8000));
}
