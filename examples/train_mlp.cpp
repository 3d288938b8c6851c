// Trains a 784-128-10 MLP on Fashion-MNIST with the library API: the smallest complete program.
// Build: cmake --build build --target example_train_mlp; run: build/examples/example_train_mlp [data dir]
#include <iostream>

#include <magmadnn/magmadnn.h>

using namespace magmadnn;

int main(int argc, char** argv) try {
  manual_seed(0);  // every initialiser, shuffle and dropout mask draws from this seed

  // Data: (N, 1, 28, 28) float images in [0, 1] and int64 labels, normalised once up front.
  const std::string dir = argc > 1 ? argv[1] : data::kFashionMnistDir;
  auto train_set = data::load_mnist(dir, /*train=*/true);
  auto test_set = data::load_mnist(dir, /*train=*/false);
  data::Normalize normalize({data::kFashionMnistMean}, {data::kFashionMnistStd});
  data::normalize_inplace(*train_set, normalize);
  data::normalize_inplace(*test_set, normalize);
  data::DataLoader train_loader(train_set, data::DataLoaderOptions(128).shuffle(true));
  data::DataLoader test_loader(test_set, data::DataLoaderOptions(1000).shuffle(false));

  // Model: modules own their parameters; Sequential names them "1.weight", "3.bias", ...
  auto model = std::make_shared<nn::Sequential>(std::make_shared<nn::Flatten>(),
                                                std::make_shared<nn::Linear>(784, 128), std::make_shared<nn::ReLU>(),
                                                std::make_shared<nn::Linear>(128, 10));
  std::cout << *model << "\n";

  // A hand-written training step, to show what Trainer does for you:
  auto optimizer = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions(0.05).momentum(0.9));
  for (const data::Example& batch : train_loader) {
    optimizer->zero_grad();
    Tensor loss = cross_entropy((*model)(batch.input), batch.target);  // fused log-softmax + NLL
    loss.backward();                                                    // fills every parameter's .grad()
    optimizer->step();
    break;  // one step here; the Trainer below runs whole epochs
  }

  // The same loop with progress, evaluation and metrics.
  train::TrainerOptions options;
  options.epochs = 2;
  train::Trainer trainer(model, optimizer, options);
  const auto history = trainer.fit(train_loader, &test_loader);
  std::cout << "test accuracy after " << history.size() << " epochs: " << history.back().test_accuracy << "\n";

  io::save_module(*model, "mlp_example.safetensors");  // atomic; load with io::load_module
  return 0;
} catch (const Error& e) {
  std::cerr << "error: " << e.what() << "\n";
  return 1;
}
