// Tensors and autograd in a few lines: views, broadcasting, backward, no_grad, gradcheck.
#include <iostream>

#include <magmadnn/magmadnn.h>

using namespace magmadnn;

int main() {
  manual_seed(42);
  Tensor x = arange(0, 6, 1).reshape({2, 3});   // float32 [[0, 1, 2], [3, 4, 5]]
  Tensor xt = x.t();                            // a view: shares x's storage, strides swapped
  std::cout << "x = " << x << "\nx^T = " << xt << "\n";

  // Leaves that require grad collect gradients in .grad() after backward().
  Tensor w = randn({3, 2}).set_requires_grad();
  Tensor b = zeros({2}).set_requires_grad();
  Tensor y = relu(matmul(x, w) + b);           // (2, 3) @ (3, 2) + (2) broadcast
  Tensor loss = mean(y * y);
  loss.backward();
  std::cout << "dloss/dw = " << w.grad() << "\ndloss/db = " << b.grad() << "\n";

  {
    NoGradGuard no_grad;                       // nothing inside is recorded
    Tensor z = matmul(x, w);
    std::cout << "requires_grad under no_grad: " << z.requires_grad() << "\n";
  }

  // Check an op's gradient against finite differences (in float64).
  Tensor a = randn({4, 5}, kFloat64).set_requires_grad();
  auto result = autograd::gradcheck([](const std::vector<Tensor>& in) { return log_softmax(in[0], 1); }, {a});
  std::cout << "gradcheck(log_softmax): " << (result.ok ? "ok" : result.message) << "\n";
  return result.ok ? 0 : 1;
}
