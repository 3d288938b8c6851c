// End to end: the zoo's LeNet learns Fashion-MNIST. 2000 training images, 3 epochs of SGD
// (lr 0.05, momentum 0.9, batch 32), then accuracy on 1000 test images must reach 0.70
// (measured 0.746-0.772 over seeds 0-6; PyTorch's same model and schedule: 0.72-0.75).
// Skips where the data set (Debian's dataset-fashion-mnist) is not installed.
#include <gtest/gtest.h>

#include <filesystem>

#include "magmadnn/magmadnn.h"

using namespace magmadnn;

TEST(LeNetConvergence, LearnsAFashionMnistSubset) {
  const std::string dir = data::kFashionMnistDir;
  if (!std::filesystem::exists(dir + "/train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "Fashion-MNIST not installed in " << dir;
  manual_seed(0);
  auto subset = [](const data::TensorDataset& d, int64_t n) {
    return std::make_shared<data::TensorDataset>(d.inputs().narrow(0, 0, n).contiguous(),
                                                 d.targets().narrow(0, 0, n).contiguous());
  };
  auto train = subset(*data::load_mnist(dir, true), 2000);
  auto test = subset(*data::load_mnist(dir, false), 1000);
  ASSERT_EQ(train->inputs().shape(), Shape({2000, 1, 28, 28}));
  auto model = models::make_model("lenet");
  auto opt = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions(0.05).momentum(0.9));
  data::DataLoader train_loader(train, data::DataLoaderOptions(32).seed(0));
  data::DataLoader test_loader(test, data::DataLoaderOptions(500).shuffle(false));
  train::TrainerOptions options;
  options.epochs = 3;
  options.progress = train::ProgressMode::None;
  train::Trainer trainer(model, opt, options);
  const auto history = trainer.fit(train_loader, &test_loader);
  ASSERT_EQ(history.size(), 3u);
  EXPECT_LT(history.back().train_loss, history.front().train_loss);
  EXPECT_GE(history.back().test_accuracy, 0.70);
  // Inference fusion (ReLUs into the convolutions) keeps the accuracy.
  nn::fuse_for_inference(*model);
  EXPECT_NEAR(train::evaluate(*model, test_loader).accuracy, history.back().test_accuracy, 1e-9);
}
