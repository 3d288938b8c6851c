// The CLI's data sets (see cli/datasets.h).
#include "cli/datasets.h"

#include <map>

#include "cli/commands.h"
#include "magmadnn/magmadnn.h"

namespace magmadnn::cli {

namespace {

const char* const kBuiltin[] = {"fashion-mnist", "mnist", "cifar10"};

// An archive read once per process, normalised in place by its own training statistics (the
// raw inputs are not kept: the statistics are all later calls need of them).
struct LoadedArchive {
  data::NpzDataset data;
  data::Normalize normalize{{0.0}, {1.0}};
};

const LoadedArchive& archive(const std::string& path) {
  static std::map<std::string, LoadedArchive> cache;
  auto it = cache.find(path);
  if (it != cache.end()) return it->second;
  LoadedArchive a;
  a.data = data::load_npz_dataset(path);
  a.normalize = data::fit_normalize(a.data.train->inputs());
  data::normalize_inplace(*a.data.train, a.normalize);
  data::normalize_inplace(*a.data.test, a.normalize);
  cpu_allocator().empty_cache();  // the raw copies
  return cache.emplace(path, std::move(a)).first->second;
}

}  // namespace

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

const char* const kDatasetHelp =
    "fashion-mnist, mnist, cifar10, or your own data: a NumPy archive FILE.npz holding x_train, y_train, "
    "x_test, y_test (np.savez; inputs (N,), (N, features), (N, H, W) or (N, C, H, W) of any numeric "
    "dtype, standardised per channel by x_train's statistics; integer labels 0..K-1 make a "
    "classification, floating targets (N,) or (N, K) a regression)";

std::string check_dataset_flag(const std::string& dataset) {
  for (const char* name : kBuiltin)
    if (dataset == name) return "";
  if (is_npz_dataset(dataset)) return "";
  return "--dataset " + dataset + ": expected fashion-mnist, mnist, cifar10 or a NumPy archive FILE.npz";
}

bool is_npz_dataset(const std::string& dataset) { return ends_with(dataset, ".npz"); }

bool is_regression(const std::string& dataset) {
  return is_npz_dataset(dataset) && archive(dataset).data.task == data::Task::Regression;
}

models::ModelConfig config_for_dataset(const std::string& dataset) {
  models::ModelConfig c;
  if (dataset == "cifar10") {
    c.in_channels = 3;
    c.height = c.width = 32;
  }
  if (is_npz_dataset(dataset)) {
    const data::NpzDataset& d = archive(dataset).data;
    c.in_channels = d.sample_shape[0];
    c.height = d.sample_shape[1];
    c.width = d.sample_shape[2];
    c.num_classes = d.num_outputs;
  }
  return c;
}

data::Normalize normalization_for(const std::string& dataset) {
  if (is_npz_dataset(dataset)) return archive(dataset).normalize;
  if (dataset == "cifar10") return data::Normalize(data::kCifar10Mean, data::kCifar10Std);
  if (dataset == "fashion-mnist") return data::Normalize({data::kFashionMnistMean}, {data::kFashionMnistStd});
  return data::Normalize({data::kMnistMean}, {data::kMnistStd});
}

std::shared_ptr<data::TensorDataset> load_split(const CommonArgs& a, const std::string& dir, bool train) {
  if (is_npz_dataset(a.dataset)) {
    const data::NpzDataset& d = archive(a.dataset).data;
    return train ? d.train : d.test;
  }
  std::shared_ptr<data::TensorDataset> ds;
  ds = a.dataset == "cifar10" ? data::load_cifar10(dir, train) : data::load_mnist(dir, train);
  data::normalize_inplace(*ds, normalization_for(a.dataset));
  // Loading and normalising left the raw and unnormalised copies in the allocator's cache:
  // return them to the OS, they are never needed again.
  cpu_allocator().empty_cache();
  return ds;
}

std::string data_dir(const CommonArgs& a) {
  if (is_npz_dataset(a.dataset)) {
    MAGMADNN_CHECK(a.data_dir.empty(), "--data-dir is for the built-in data sets; --dataset ", a.dataset,
                   " is the file itself");
    return a.dataset;
  }
  if (!a.data_dir.empty()) return a.data_dir;
  MAGMADNN_CHECK(a.dataset == "fashion-mnist", "--dataset ", a.dataset, " needs --data-dir DIR (a folder with ",
                 a.dataset == "cifar10" ? "the CIFAR-10 binary batches" : "the MNIST IDX files", ")");
  return data::kFashionMnistDir;
}

std::vector<std::string> class_names(const std::string& dataset) {
  if (dataset == "fashion-mnist")
    return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
  if (dataset == "cifar10") return data::cifar10_class_names();
  int64_t classes = 10;  // mnist
  if (is_npz_dataset(dataset)) {
    if (is_regression(dataset)) return {};
    classes = archive(dataset).data.num_outputs;
  }
  std::vector<std::string> names;
  for (int64_t c = 0; c < classes; ++c) names.push_back(std::to_string(c));
  return names;
}

train::LossFn loss_for(const std::string& dataset, double label_smoothing) {
  if (is_regression(dataset)) {
    MAGMADNN_CHECK(label_smoothing == 0, "--label-smoothing is for classes; ", dataset,
                   " holds regression targets (mean squared error)");
    return [](const Tensor& out, const Tensor& target) { return mse_loss(out, target); };
  }
  if (label_smoothing <= 0) return train::cross_entropy_loss();
  return [label_smoothing](const Tensor& out, const Tensor& target) {
    return cross_entropy(out, target, Tensor(), Reduction::Mean, label_smoothing);
  };
}

}  // namespace magmadnn::cli
