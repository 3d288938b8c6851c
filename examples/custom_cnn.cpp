// A model of your own: a small residual CNN written as an nn::Module, trained on Fashion-MNIST on
// the CPU or a GPU with a one-cycle learning rate, checkpointed, saved, and evaluated again from
// the saved file.
//
//   build/examples/example_custom_cnn [data dir] [cpu|cuda|cuda:N] [batches per epoch, 0 = all]
#include <algorithm>
#include <cstdlib>
#include <iostream>

#include <magmadnn/magmadnn.h>

using namespace magmadnn;

// conv-bn-relu-conv-bn plus the input, then relu: the shape is kept, so the sum is defined.
class ResidualBlock : public nn::Module {
 public:
  explicit ResidualBlock(int64_t channels) {
    // register_module names the children ("conv1", ...) for parameters() and the state dict.
    conv1_ = register_module("conv1", std::make_shared<nn::Conv2d>(nn::Conv2dOptions(channels, channels, 3).padding(1).bias(false)));
    bn1_ = register_module("bn1", std::make_shared<nn::BatchNorm2d>(channels));
    conv2_ = register_module("conv2", std::make_shared<nn::Conv2d>(nn::Conv2dOptions(channels, channels, 3).padding(1).bias(false)));
    bn2_ = register_module("bn2", std::make_shared<nn::BatchNorm2d>(channels));
  }
  // x: (N, C, H, W) -> (N, C, H, W)
  Tensor forward(const Tensor& x) override {
    Tensor y = relu(bn1_->forward(conv1_->forward(x)));
    y = bn2_->forward(conv2_->forward(y));
    return relu(y + x);  // autograd sends the gradient down both paths
  }
  std::string name() const override { return "ResidualBlock"; }

 private:
  std::shared_ptr<nn::Conv2d> conv1_, conv2_;
  std::shared_ptr<nn::BatchNorm2d> bn1_, bn2_;
};

std::shared_ptr<nn::Sequential> make_net() {
  // (N, 1, 28, 28) -> (N, 32, 28, 28) -> pool (N, 32, 14, 14) -> block -> pool (N, 32, 7, 7) -> 10
  return std::make_shared<nn::Sequential>(
      std::make_shared<nn::Conv2d>(nn::Conv2dOptions(1, 32, 3).padding(1)), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::MaxPool2d>(2), std::make_shared<ResidualBlock>(32), std::make_shared<nn::MaxPool2d>(2),
      std::make_shared<nn::Flatten>(), std::make_shared<nn::Dropout>(0.25), std::make_shared<nn::Linear>(32 * 7 * 7, 10));
}

int main(int argc, char** argv) try {
  const std::string dir = argc > 1 ? argv[1] : data::kFashionMnistDir;
  const Device device = Device::parse(argc > 2 ? argv[2] : "cpu");  // "cuda" needs a GPU build and a GPU
  const int64_t max_batches = argc > 3 ? std::atoll(argv[3]) : 0;
  manual_seed(0);  // same seed, same weights and dropout masks, on the CPU and on a GPU

  data::Normalize normalize({data::kFashionMnistMean}, {data::kFashionMnistStd});
  auto train_set = data::load_mnist(dir, true), test_set = data::load_mnist(dir, false);
  data::normalize_inplace(*train_set, normalize);
  data::normalize_inplace(*test_set, normalize);
  // Batches for a GPU are assembled in page-locked memory so their copies run asynchronously.
  data::DataLoader train_loader(train_set, data::DataLoaderOptions(64).shuffle(true).pin_memory(device.is_cuda()));
  data::DataLoader test_loader(test_set, data::DataLoaderOptions(1000).pin_memory(device.is_cuda()));

  auto net = make_net();
  net->to(device);  // move first, then make the optimizer over the moved parameters
  std::cout << *net << "\n" << net->num_parameters() << " parameters on " << device << "\n";
  auto adam = std::make_shared<optim::Adam>(net->parameters(), optim::AdamOptions(2e-3));

  train::TrainerOptions options;
  options.epochs = 2;
  options.max_batches = max_batches;
  options.checkpoint_path = "custom_cnn.ckpt";  // full state each epoch: Trainer::resume continues from it
  train::Trainer trainer(net, adam, options);
  // One cycle over the whole run, stepped after every batch; tracked, so checkpoints keep it.
  const int64_t steps_per_epoch =
      max_batches > 0 ? std::min(max_batches, train_loader.num_batches()) : train_loader.num_batches();
  optim::OneCycleLR schedule(*adam, 4e-3, options.epochs * steps_per_epoch);
  trainer.on_step_end([&](int64_t) { schedule.step(); });
  trainer.track("schedule", schedule);
  const auto history = trainer.fit(train_loader, &test_loader);
  std::cout << "test accuracy " << history.back().test_accuracy << "\n";

  // Weights alone (safetensors), loaded into a fresh model on the CPU: devices do not matter.
  io::save_module(*net, "custom_cnn.safetensors");
  auto again = make_net();
  io::load_module(*again, "custom_cnn.safetensors");
  again->eval();  // BatchNorm uses its running statistics, Dropout passes through
  data::DataLoader cpu_test(test_set, data::DataLoaderOptions(1000));
  std::cout << "reloaded on the cpu: test accuracy " << train::evaluate(*again, cpu_test).accuracy << "\n";
  return 0;
} catch (const Error& e) {
  std::cerr << "error: " << e.what() << "\n";
  return 1;
}
