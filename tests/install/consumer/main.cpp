// Uses the installed library: one training step of a tiny model; prints the loss before/after.
#include <iostream>

#include <magmadnn/magmadnn.h>

int main() {
  using namespace magmadnn;
  manual_seed(0);
  auto model = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(4, 8), std::make_shared<nn::ReLU>(),
                                                std::make_shared<nn::Linear>(8, 3));
  optim::SGD opt(model->parameters(), optim::SGDOptions(0.1));
  Tensor x = randn({16, 4});
  Tensor y = randint(0, 3, {16});
  double first = 0, last = 0;
  for (int i = 0; i < 50; ++i) {
    opt.zero_grad();
    Tensor loss = cross_entropy((*model)(x), y);
    if (i == 0) first = loss.item<double>();
    last = loss.item<double>();
    loss.backward();
    opt.step();
  }
  std::cout << "magmadnn " << version() << " loss " << first << " -> " << last << "\n";
  return last < first ? 0 : 1;
}
