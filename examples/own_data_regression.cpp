// Your own data, from NumPy or a CSV table to ONNX: loads a regression data set saved with
//   np.savez("data.npz", x_train=X, y_train=y, x_test=Xt, y_test=yt)
// or a table data.csv whose last column is the target (the other columns numeric features; 20% of
// the rows, drawn with a fixed seed, for the test), standardises the inputs with the training set's statistics, trains an MLP on the mean squared
// error, reports the test RMSE, and exports the model, normalisation included, as an ONNX file.
// Build: cmake --build build --target example_own_data_regression
// Run:   build/examples/example_own_data_regression data.npz|data.csv [epochs]
#include <cmath>
#include <iostream>

#include <magmadnn/magmadnn.h>

using namespace magmadnn;

int main(int argc, char** argv) try {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " data.npz|data.csv [epochs]\n";
    return 2;
  }
  manual_seed(0);
  const int64_t epochs = argc > 2 ? std::stoll(argv[2]) : 20;

  // Inputs become float32 (N, C, H, W): (N, features) -> (N, features, 1, 1); floating targets
  // (N,) or (N, K) make a regression with K outputs (integer labels would make classes). A table's
  // last column is the target, read as a regression whatever its values.
  const std::string path = argv[1];
  data::CsvDatasetOptions table;
  table.task = data::Task::Regression;
  data::UserDataset d = path.size() > 4 && path.compare(path.size() - 4, 4, ".csv") == 0
                            ? data::load_csv_dataset(path, table)
                            : data::load_npz_dataset(path);
  if (d.task != data::Task::Regression) MAGMADNN_ERROR(argv[1], " holds class labels; this example regresses");
  const data::Normalize normalize = data::fit_normalize(d.train->inputs());  // x_train's statistics only
  data::normalize_inplace(*d.train, normalize);
  data::normalize_inplace(*d.test, normalize);
  std::cout << d.train->size() << " training samples of shape " << d.sample_shape << ", " << d.num_outputs
            << " target(s)\n";

  // mlp:64,64 from the zoo: Flatten, Linear + ReLU per hidden width, Linear to the outputs.
  models::ModelConfig config;
  config.in_channels = d.sample_shape[0];
  config.height = d.sample_shape[1];
  config.width = d.sample_shape[2];
  config.num_classes = d.num_outputs;
  auto model = models::make_model("mlp:64,64", config);
  auto optimizer = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions(1e-2));
  optim::CosineAnnealingLR schedule(*optimizer, epochs);

  data::DataLoader train_loader(d.train, data::DataLoaderOptions(64).shuffle(true));
  data::DataLoader test_loader(d.test, data::DataLoaderOptions(1000).shuffle(false));
  train::TrainerOptions options;
  options.epochs = epochs;
  options.loss = [](const Tensor& out, const Tensor& target) { return mse_loss(out, target); };
  options.accuracy = false;  // a regression: no accuracy in the progress lines
  options.progress = train::ProgressMode::None;
  train::Trainer trainer(model, optimizer, options);
  trainer.on_epoch_end([&](const train::EpochMetrics&) {
    schedule.step();
    return true;
  });
  trainer.fit(train_loader);
  const train::EvalMetrics test = train::evaluate(*model, test_loader, options.loss);
  std::cout << "test RMSE after " << epochs << " epochs: " << std::sqrt(test.loss) << "\n";

  // The ONNX file takes raw inputs like x_train's and normalises them itself.
  onnx::ExportOptions export_options;
  export_options.input_mean = normalize.mean;
  export_options.input_std = normalize.std;
  onnx::export_onnx(*model, Shape({1, config.in_channels, config.height, config.width}), "regression.onnx",
                    export_options);
  std::cout << "wrote regression.onnx\n";
  return 0;
} catch (const Error& e) {
  std::cerr << "error: " << e.what() << "\n";
  return 1;
}
