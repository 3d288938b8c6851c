// The data sets --dataset names: the built-in image sets (fashion-mnist, mnist, cifar10, read from
// --data-dir) or the user's own data: a NumPy archive, a path ending in ".npz" that holds
// x_train, y_train, x_test, y_test (data/npz_dataset.h: integer labels make a classification,
// floating targets a regression), or a CSV table, a path ending in ".csv" (data/csv_dataset.h:
// --target, --ignore-columns, --task and --test-fraction choose the targets, the features, the
// task and the split). A regression
// trains on the mean squared error and reports RMSE, no accuracy.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "magmadnn/data/dataset.h"
#include "magmadnn/data/user_dataset.h"
#include "magmadnn/data/transforms.h"
#include "magmadnn/models/models.h"
#include "magmadnn/train/trainer.h"

namespace magmadnn::cli {

struct CommonArgs;

// The --dataset values this build knows, for help texts and the flag's check.
extern const char* const kDatasetHelp;
// Empty when `dataset` is a built-in name or a path ending in .npz; else why not.
std::string check_dataset_flag(const std::string& dataset);

// A CSV table's options (the flags --target, --ignore-columns, --task, --test-fraction), set once per process
// before the table is first read; `given`: some flag was passed (an error for other data sets).
struct TableOptions {
  std::string target;  // comma-separated column names; empty: the last column
  std::string ignore;  // comma-separated columns that are not features
  std::string task = "auto";  // auto, classification or regression
  double test_fraction = 0.2;
  bool given = false;
};
void set_table_options(const TableOptions& options);

bool is_npz_dataset(const std::string& dataset);   // a path ending in ".npz"
bool is_csv_dataset(const std::string& dataset);   // a path ending in ".csv"
bool is_file_dataset(const std::string& dataset);  // either: the user's own data
// The file data set as loaded (normalised inputs, names of classes, features and targets).
const data::UserDataset& user_dataset(const std::string& dataset);
// One line on a file data set's task, to show what was read or inferred: "classification into 3
// classes (setosa, versicolor, virginica) from 4 features (...)"; empty for the built-in sets.
std::string describe_task(const std::string& dataset);
// The table flags that were passed, as command-line text (" --target 'petal width'", shell-quoted
// where needed), for commands the tool prints for the user to run; empty for other data sets.
std::string table_flags_text(const std::string& dataset);
// Throws when a CSV table's flag was passed with another data set.
void check_table_flags(const std::string& dataset);
// File-name suffix test (".npz" data sets, predict's ".npy" inputs).
bool ends_with(const std::string& s, const std::string& suffix);
// "a,b,,c" -> {"a", "b", "c"}.
std::vector<std::string> split_list(const std::string& s);
// Floating targets: mean squared error, no accuracy.
bool is_regression(const std::string& dataset);
// The model configuration the data set's samples give: input (C, H, W) and outputs (classes or
// regression targets). An archive is read (once per process) to find them.
models::ModelConfig config_for_dataset(const std::string& dataset);
// The normalisation train, eval and predict apply alike: the built-in sets' published per-channel
// mean and std of pixels in [0, 1]; for an archive, the per-channel mean and std of x_train.
data::Normalize normalization_for(const std::string& dataset);
// The train or test split of --dataset, normalised (normalization_for).
std::shared_ptr<data::TensorDataset> load_split(const CommonArgs& a, const std::string& dir, bool train);
// The folder of a built-in set's files (--data-dir, or the default for fashion-mnist); the archive's
// path for an .npz data set.
std::string data_dir(const CommonArgs& a);
// The class names in label order (predict's CSV, eval --report): the built-in sets' names, a
// table's label values, "0" to "K-1" for an archive's labels; empty for a regression.
std::vector<std::string> class_names(const std::string& dataset);
// The model --model names, sized by config_for_dataset; for a file data set's regression it ends
// with nn::Rescaling by the training targets' std and mean, so the network learns standardised
// values and the model outputs the targets' units (train, eval, predict and export alike).
std::shared_ptr<nn::Module> make_model_for(const std::string& model, const std::string& dataset);
// A table's target column names (eval's per-target report, predict's CSV header); else empty.
std::vector<std::string> target_names(const std::string& dataset);
// The loss a data set trains and is evaluated with: cross-entropy (with label smoothing e > 0, as
// PyTorch) for classes, mean squared error for a regression (which refuses label smoothing).
train::LossFn loss_for(const std::string& dataset, double label_smoothing = 0);

}  // namespace magmadnn::cli
