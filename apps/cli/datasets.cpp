// The CLI's data sets (see cli/datasets.h).
#include "cli/datasets.h"

#include <map>
#include <sstream>

#include "cli/commands.h"
#include "magmadnn/magmadnn.h"

namespace magmadnn::cli {

namespace {

const char* const kBuiltin[] = {"fashion-mnist", "mnist", "cifar10"};

TableOptions table_options;  // set_table_options

// A file data set read once per process, normalised in place by its own training statistics (the
// raw inputs are not kept: the statistics are all later calls need of them).
struct LoadedFile {
  data::UserDataset data;
  data::Normalize normalize{{0.0}, {1.0}};
  data::Normalize targets{{0.0}, {1.0}};  // a regression's per-target mean and std (training split)
};

data::CsvDatasetOptions csv_options() {
  data::CsvDatasetOptions o;
  o.targets = split_list(table_options.target);
  o.ignore = split_list(table_options.ignore);
  if (table_options.task == "classification") o.task = data::Task::Classification;
  if (table_options.task == "regression") o.task = data::Task::Regression;
  o.test_fraction = table_options.test_fraction;
  return o;
}

const LoadedFile& user_data(const std::string& path) {
  static std::map<std::string, LoadedFile> cache;
  auto it = cache.find(path);
  if (it != cache.end()) return it->second;
  LoadedFile a;
  a.data = is_csv_dataset(path) ? data::load_csv_dataset(path, csv_options()) : data::load_npz_dataset(path);
  a.normalize = data::fit_normalize(a.data.train->inputs());
  if (a.data.task == data::Task::Regression) a.targets = data::fit_normalize(a.data.train->targets());
  data::normalize_inplace(*a.data.train, a.normalize);
  data::normalize_inplace(*a.data.test, a.normalize);
  cpu_allocator().empty_cache();  // the raw copies
  return cache.emplace(path, std::move(a)).first->second;
}

}  // namespace

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

const char* const kDatasetHelp =
    "fashion-mnist, mnist, cifar10, or your own data: a NumPy archive FILE.npz holding x_train, y_train, "
    "x_test, y_test (np.savez; inputs (N,), (N, features), (N, H, W) or (N, C, H, W) of any numeric "
    "dtype, standardised per channel by x_train's statistics; integer labels 0..K-1 make a "
    "classification, floating targets (N,) or (N, K) a regression), or a CSV table FILE.csv with a "
    "header row (numeric feature columns, standardised, less any --ignore-columns; the --target "
    "column(s), by default the last: "
    "text labels or integers with at most 20 distinct values classify, other numbers regress, or "
    "--task says; --test-fraction of the rows, chosen with a fixed seed, is the test split)";

std::string check_dataset_flag(const std::string& dataset) {
  for (const char* name : kBuiltin)
    if (dataset == name) return "";
  if (is_file_dataset(dataset)) return "";
  return "--dataset " + dataset +
         ": expected fashion-mnist, mnist, cifar10, a NumPy archive FILE.npz or a CSV table FILE.csv";
}

void set_table_options(const TableOptions& options) { table_options = options; }

bool is_npz_dataset(const std::string& dataset) { return ends_with(dataset, ".npz"); }
bool is_csv_dataset(const std::string& dataset) { return ends_with(dataset, ".csv"); }
bool is_file_dataset(const std::string& dataset) { return is_npz_dataset(dataset) || is_csv_dataset(dataset); }

const data::UserDataset& user_dataset(const std::string& dataset) {
  MAGMADNN_CHECK(is_file_dataset(dataset), "--dataset ", dataset, " is not a file data set");
  return user_data(dataset).data;
}

bool is_regression(const std::string& dataset) {
  return is_file_dataset(dataset) && user_data(dataset).data.task == data::Task::Regression;
}

void check_table_flags(const std::string& dataset) {
  MAGMADNN_CHECK(!table_options.given || is_csv_dataset(dataset),
                 "--target, --ignore-columns, --task and --test-fraction are for CSV tables; --dataset ", dataset,
                 " is not one");
}

std::string describe_task(const std::string& dataset) {
  if (!is_file_dataset(dataset)) return "";
  const data::UserDataset& d = user_data(dataset).data;
  const auto list = [](const std::vector<std::string>& names) {
    std::string s;
    for (size_t i = 0; i < names.size() && i < 8; ++i) s += (i ? ", " : "") + names[i];
    return names.size() > 8 ? s + ", ..." : s;
  };
  std::ostringstream os;
  if (d.task == data::Task::Classification) {
    os << "classification into " << d.num_outputs << " classes";
    if (!d.class_names.empty()) os << " (" << list(d.class_names) << ")";
  } else {
    os << "regression of " << d.num_outputs << (d.num_outputs == 1 ? " target" : " targets");
    if (!d.target_names.empty()) os << " (" << list(d.target_names) << ")";
  }
  if (!d.feature_names.empty()) os << " from " << d.feature_names.size() << " features (" << list(d.feature_names) << ")";
  return os.str();
}

std::string table_flags_text(const std::string& dataset) {
  if (!is_csv_dataset(dataset)) return "";
  const auto quoted = [](const std::string& v) {
    const bool plain = !v.empty() && v.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                         "0123456789_-.,/:=+") == std::string::npos;
    if (plain) return v;
    std::string q = "'";
    for (char c : v) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
  };
  std::ostringstream os;
  if (!table_options.target.empty()) os << " --target " << quoted(table_options.target);
  if (!table_options.ignore.empty()) os << " --ignore-columns " << quoted(table_options.ignore);
  if (table_options.task != "auto") os << " --task " << table_options.task;
  if (table_options.test_fraction != TableOptions().test_fraction) os << " --test-fraction " << table_options.test_fraction;
  return os.str();
}

models::ModelConfig config_for_dataset(const std::string& dataset) {
  check_table_flags(dataset);
  models::ModelConfig c;
  if (dataset == "cifar10") {
    c.in_channels = 3;
    c.height = c.width = 32;
  }
  if (is_file_dataset(dataset)) {
    const data::UserDataset& d = user_data(dataset).data;
    c.in_channels = d.sample_shape[0];
    c.height = d.sample_shape[1];
    c.width = d.sample_shape[2];
    c.num_classes = d.num_outputs;
  }
  return c;
}

data::Normalize normalization_for(const std::string& dataset) {
  if (is_file_dataset(dataset)) return user_data(dataset).normalize;
  if (dataset == "cifar10") return data::Normalize(data::kCifar10Mean, data::kCifar10Std);
  if (dataset == "fashion-mnist") return data::Normalize({data::kFashionMnistMean}, {data::kFashionMnistStd});
  return data::Normalize({data::kMnistMean}, {data::kMnistStd});
}

std::shared_ptr<data::TensorDataset> load_split(const CommonArgs& a, const std::string& dir, bool train) {
  if (is_file_dataset(a.dataset)) {
    const data::UserDataset& d = user_data(a.dataset).data;
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
  check_table_flags(a.dataset);
  if (is_file_dataset(a.dataset)) {
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
  if (is_file_dataset(dataset)) {
    if (is_regression(dataset)) return {};
    const data::UserDataset& d = user_data(dataset).data;
    if (!d.class_names.empty()) return d.class_names;
    classes = d.num_outputs;
  }
  std::vector<std::string> names;
  for (int64_t c = 0; c < classes; ++c) names.push_back(std::to_string(c));
  return names;
}

std::shared_ptr<nn::Module> make_model_for(const std::string& model, const std::string& dataset) {
  auto m = models::make_model(model, config_for_dataset(dataset));
  if (!is_file_dataset(dataset) || !is_regression(dataset)) return m;
  const data::Normalize& t = user_data(dataset).targets;
  auto rescale = std::make_shared<nn::Rescaling>(t.std, t.mean);
  if (auto seq = std::dynamic_pointer_cast<nn::Sequential>(m)) {
    seq->push_back(rescale);
    return seq;
  }
  return std::make_shared<nn::Sequential>(m, rescale);
}

std::vector<std::string> target_names(const std::string& dataset) {
  return is_file_dataset(dataset) ? user_data(dataset).data.target_names : std::vector<std::string>{};
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
