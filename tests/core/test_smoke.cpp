// Smoke test of the core: a tiny MLP step with autograd on the CPU backend.
#include <gtest/gtest.h>

#include "magmadnn/magmadnn.h"

using namespace magmadnn;

TEST(Smoke, LinearReluCrossEntropyBackward) {
  manual_seed(0);
  Tensor x = randn({4, 3}, kFloat64);
  Tensor w = randn({5, 3}, kFloat64).set_requires_grad();
  Tensor b = randn({5}, kFloat64).set_requires_grad();
  Tensor y = from_vector<int64_t>({0, 1, 4, 2});
  auto r = autograd::gradcheck(
      [&](const std::vector<Tensor>& in) { return cross_entropy(relu(linear(x, in[0], in[1])), y); }, {w, b});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(Smoke, MatmulBroadcastGradcheck) {
  manual_seed(1);
  Tensor a = randn({2, 3, 4}, kFloat64).set_requires_grad();
  Tensor b = randn({4, 5}, kFloat64).set_requires_grad();
  auto r = autograd::gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {a, b});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(Smoke, Print) {
  Tensor t = arange(0, 6, 1).reshape({2, 3});
  EXPECT_EQ(t.str(), "tensor([[0.0000, 1.0000, 2.0000],\n        [3.0000, 4.0000, 5.0000]], shape=(2, 3), dtype=float32)");
}
