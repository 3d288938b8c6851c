// CSV-table data sets (see data/csv_dataset.h).
#include "magmadnn/data/csv_dataset.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "magmadnn/io/csv.h"
#include "magmadnn/ops/ops.h"

namespace magmadnn::data {

namespace {

// The table, with read_csv's errors under `who`'s name ("<who>: <path>: line L: <what>").
io::CsvTable read_table(const std::string& path, const char* who) {
  try {
    return io::read_csv(path);
  } catch (const Error& e) {
    const std::string m = e.what(), prefix = "read_csv: ";
    MAGMADNN_ERROR(who, ": ", m.compare(0, prefix.size(), prefix) == 0 ? m.substr(prefix.size()) : m);
  }
}

// Integer targets with at most this many distinct values classify when the task is left open.
constexpr size_t kMaxInferredClasses = 20;

std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ", ") + ("'" + n + "'");
  return s;
}

// The value of row r's field in column c, or one error naming the line, the column and the text.
float number_at(const io::CsvTable& t, size_t r, size_t c, const std::string& where, const char* role) {
  const std::string& text = t.rows[r][c];
  double v = 0;
  if (io::parse_number(text, v)) return static_cast<float>(v);
  MAGMADNN_ERROR(where, ": line ", t.lines[r], ", column '", t.columns[c], "': ",
                 text.empty() ? std::string("empty (missing values are not filled in)")
                              : "'" + text + "' is not a finite number",
                 " (", role, ")");
}

// Rows of each split, in file order: a fixed-seed Fisher-Yates permutation (its own, so the split
// is the same on every platform) puts round(n * fraction) rows in the test split.
void split_rows(int64_t n, double fraction, uint64_t seed, const std::string& where, std::vector<int64_t>& train,
                std::vector<int64_t>& test) {
  MAGMADNN_CHECK(fraction > 0 && fraction < 1, where, ": the test fraction must be in (0, 1), got ", fraction);
  const int64_t n_test = static_cast<int64_t>(std::llround(static_cast<double>(n) * fraction));
  MAGMADNN_CHECK(n_test >= 1 && n_test < n, where, ": ", n, " rows leave an empty ", n_test < 1 ? "test" : "training",
                 " split with test fraction ", fraction);
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 gen(seed);
  for (int64_t i = n - 1; i > 0; --i) std::swap(order[i], order[gen() % static_cast<uint64_t>(i + 1)]);
  test.assign(order.begin(), order.begin() + n_test);
  train.assign(order.begin() + n_test, order.end());
  std::sort(test.begin(), test.end());
  std::sort(train.begin(), train.end());
}

}  // namespace

UserDataset load_csv_dataset(const std::string& path, const CsvDatasetOptions& options) {
  const std::string where = "load_csv_dataset: " + path;
  const io::CsvTable t = read_table(path, "load_csv_dataset");
  const int64_t n = static_cast<int64_t>(t.rows.size());
  MAGMADNN_CHECK(n >= 2, where, ": ", n, " data rows; a training and a test split need two or more");
  // Target and feature columns.
  std::vector<std::string> target_names = options.targets;
  if (target_names.empty()) target_names.push_back(t.columns.back());
  std::vector<size_t> target_cols, feature_cols;
  for (const std::string& name : target_names) {
    const int64_t c = t.column(name);
    MAGMADNN_CHECK(c >= 0, where, ": no column '", name, "' for the target (the header names ", join(t.columns), ")");
    MAGMADNN_CHECK(std::find(target_cols.begin(), target_cols.end(), static_cast<size_t>(c)) == target_cols.end(),
                   where, ": target column '", name, "' is named twice");
    target_cols.push_back(static_cast<size_t>(c));
  }
  std::vector<size_t> ignored;
  for (const std::string& name : options.ignore) {
    const int64_t c = t.column(name);
    MAGMADNN_CHECK(c >= 0, where, ": no column '", name, "' to ignore (the header names ", join(t.columns), ")");
    MAGMADNN_CHECK(std::find(target_cols.begin(), target_cols.end(), static_cast<size_t>(c)) == target_cols.end(),
                   where, ": column '", name, "' is both the target and ignored");
    ignored.push_back(static_cast<size_t>(c));
  }
  for (size_t c = 0; c < t.columns.size(); ++c)
    if (std::find(target_cols.begin(), target_cols.end(), c) == target_cols.end() &&
        std::find(ignored.begin(), ignored.end(), c) == ignored.end())
      feature_cols.push_back(c);
  MAGMADNN_CHECK(!feature_cols.empty(), where, ": no feature columns are left (targets ", join(target_names),
                 options.ignore.empty() ? "" : ", ignored " + join(options.ignore), ")");

  // The task: what the targets' values allow, and what the options ask for.
  bool all_numeric = true, all_integer = true;
  std::map<std::string, int> distinct_text;
  std::map<double, int> distinct_value;
  for (size_t c : target_cols)
    for (int64_t r = 0; r < n; ++r) {
      MAGMADNN_CHECK(!t.rows[r][c].empty(), where, ": line ", t.lines[r], ", column '", t.columns[c],
                     "': empty (missing values are not filled in) (the target)");
      double v = 0;
      if (!io::parse_number(t.rows[r][c], v)) {
        all_numeric = false;
      } else {
        all_integer = all_integer && v == std::floor(v);
        distinct_value[v] = 0;
      }
      distinct_text[t.rows[r][c]] = 0;
    }
  Task task = Task::Regression;
  if (options.task) {
    task = *options.task;
  } else if (target_cols.size() == 1 &&
             (!all_numeric || (all_integer && distinct_value.size() <= kMaxInferredClasses))) {
    task = Task::Classification;
  }
  UserDataset d;
  d.task = task;
  d.target_names = target_names;
  for (size_t c : feature_cols) d.feature_names.push_back(t.columns[c]);
  const int64_t F = static_cast<int64_t>(feature_cols.size());
  d.sample_shape = Shape({F, 1, 1});

  // Inputs (N, F), then the targets.
  Tensor x = Tensor::empty({n, F});
  float* px = x.data<float>();
  for (int64_t r = 0; r < n; ++r)
    for (int64_t f = 0; f < F; ++f) px[r * F + f] = number_at(t, r, feature_cols[f], where, "a feature");
  Tensor y;
  if (task == Task::Classification) {
    MAGMADNN_CHECK(target_cols.size() == 1, where, ": a classification takes one target column, got ",
                   join(target_names), " (several numeric targets make a regression)");
    const size_t c = target_cols[0];
    // Class order: numeric when every label is a number, else by text; names as first written.
    std::map<double, std::string> by_value;
    std::vector<std::string> names;
    if (all_numeric) {
      for (int64_t r = 0; r < n; ++r) {
        double v = 0;
        io::parse_number(t.rows[r][c], v);
        by_value.emplace(v, t.rows[r][c]);
      }
      for (const auto& [v, text] : by_value) names.push_back(text);
    } else {
      for (const auto& [text, unused] : distinct_text) names.push_back(text);
    }
    MAGMADNN_CHECK(names.size() >= 2, where, ": every row of column '", t.columns[c], "' holds '", names[0],
                   "'; a classification needs two classes or more");
    y = Tensor::empty({n}, kInt64);
    int64_t* py = y.data<int64_t>();
    for (int64_t r = 0; r < n; ++r) {
      const std::string& text = t.rows[r][c];
      double v = 0;
      if (all_numeric) {
        io::parse_number(text, v);
        py[r] = std::distance(by_value.begin(), by_value.find(v));
      } else {
        py[r] = std::lower_bound(names.begin(), names.end(), text) - names.begin();
      }
    }
    d.num_outputs = static_cast<int64_t>(names.size());
    d.class_names = names;
  } else {
    const int64_t K = static_cast<int64_t>(target_cols.size());
    y = Tensor::empty({n, K});
    float* py = y.data<float>();
    for (int64_t r = 0; r < n; ++r)
      for (int64_t k = 0; k < K; ++k) py[r * K + k] = number_at(t, r, target_cols[k], where, "a regression target");
    d.num_outputs = K;
  }

  std::vector<int64_t> train_rows, test_rows;
  split_rows(n, options.test_fraction, options.split_seed, where, train_rows, test_rows);
  const auto pick = [](const Tensor& all, const std::vector<int64_t>& rows) {
    return index_select(all, 0, from_vector<int64_t>(rows, {static_cast<int64_t>(rows.size())}));
  };
  const auto inputs = [&](const std::vector<int64_t>& rows) {
    return pick(x, rows).reshape({static_cast<int64_t>(rows.size()), F, 1, 1});
  };
  d.train = std::make_shared<TensorDataset>(inputs(train_rows), pick(y, train_rows));
  d.test = std::make_shared<TensorDataset>(inputs(test_rows), pick(y, test_rows));
  return d;
}

Tensor load_csv_features(const std::string& path, const std::vector<std::string>& features) {
  const std::string where = "load_csv_features: " + path;
  const io::CsvTable t = read_table(path, "load_csv_features");
  std::vector<size_t> cols;
  std::vector<std::string> missing;
  for (const std::string& name : features) {
    const int64_t c = t.column(name);
    if (c < 0) missing.push_back(name);
    else cols.push_back(static_cast<size_t>(c));
  }
  MAGMADNN_CHECK(missing.empty(), where, ": no column ", join(missing), " (the model's features are ", join(features),
                 "; the header names ", join(t.columns), ")");
  const int64_t n = static_cast<int64_t>(t.rows.size()), F = static_cast<int64_t>(cols.size());
  MAGMADNN_CHECK(n >= 1, where, ": no data rows");
  Tensor x = Tensor::empty({n, F});
  float* px = x.data<float>();
  for (int64_t r = 0; r < n; ++r)
    for (int64_t f = 0; f < F; ++f) px[r * F + f] = number_at(t, r, cols[f], where, "a feature");
  return x;
}

}  // namespace magmadnn::data
