// NumPy-archive data sets (see data/npz_dataset.h): read with io::load_npz, checked array by
// array, inputs brought to (N, C, H, W) float32, targets to int64 labels or float32 values.
#include "magmadnn/data/npz_dataset.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "magmadnn/io/numpy.h"

namespace magmadnn::data {

namespace {

// Classes beyond this are taken for a mistake (e.g. regression values stored as integers).
constexpr int64_t kMaxClasses = 100000;

bool is_integer_dtype(const std::string& dtype) {
  return dtype == "b1" || dtype[0] == 'i' || dtype[0] == 'u';
}

const io::NpyArray& find_array(const std::map<std::string, io::NpyArray>& arrays, const std::string& name,
                               const std::string& path) {
  auto it = arrays.find(name);
  if (it != arrays.end()) return it->second;
  std::string held;
  for (const auto& [k, v] : arrays) held += (held.empty() ? "" : ", ") + k + " " + io::shape_str(v.shape);
  MAGMADNN_ERROR("load_npz_dataset: ", path, ": no array '", name, "' (the archive holds: ",
                 held.empty() ? "nothing" : held,
                 "); expected x_train, y_train, x_test, y_test as np.savez(path, x_train=..., y_train=..., "
                 "x_test=..., y_test=...) writes them");
}

Tensor load_inputs(const io::NpyArray& a, const std::string& name, const std::string& path) {
  MAGMADNN_CHECK(!a.shape.empty(), "load_npz_dataset: ", path, ": ", name, " is a 0-d array; expected samples (N, ...)");
  const Tensor x = npz_inputs_as_nchw(io::to_tensor(a, kFloat32), "load_npz_dataset: " + path + ": " + name);
  const int64_t bad = first_non_finite_sample(x);
  MAGMADNN_CHECK(bad < 0, "load_npz_dataset: ", path, ": ", name, "[", bad, "] has a NaN or infinite value");
  return x;
}

struct Targets {
  Tensor values;
  bool integer = false;
};

Targets load_targets(const io::NpyArray& a, const std::string& name, int64_t n, const std::string& path) {
  const std::string where = "load_npz_dataset: " + path + ": " + name;
  MAGMADNN_CHECK(!a.shape.empty() && a.shape[0] == n, where, " has shape ", io::shape_str(a.shape), " but x",
                 name.substr(1), " has ", n, " samples");
  Targets t;
  t.integer = is_integer_dtype(a.dtype);
  if (t.integer) {
    MAGMADNN_CHECK(a.shape.size() == 1 || (a.shape.size() == 2 && a.shape[1] == 1), where, ": class labels of shape ",
                   io::shape_str(a.shape), "; expected (N,) (floating targets make a regression)");
    t.values = io::to_tensor(a, kInt64).reshape({n});
    const int64_t* p = t.values.data<int64_t>();
    for (int64_t i = 0; i < n; ++i) {
      MAGMADNN_CHECK(p[i] >= 0, where, "[", i, "] = ", p[i], ": class labels must be 0, 1, 2, ...");
      MAGMADNN_CHECK(p[i] < kMaxClasses, where, "[", i, "] = ", p[i], ": more than ", kMaxClasses,
                     " classes; store regression targets as floating point");
    }
    return t;
  }
  MAGMADNN_CHECK(a.shape.size() <= 2, where, ": regression targets of shape ", io::shape_str(a.shape),
                 "; expected (N,) or (N, K)");
  t.values = io::to_tensor(a, kFloat32);
  if (a.shape.size() == 1) t.values = t.values.reshape({n, 1});
  const int64_t bad = first_non_finite_sample(t.values);
  MAGMADNN_CHECK(bad < 0, where, "[", bad, "] has a NaN or infinite value");
  return t;
}

}  // namespace

Tensor npz_inputs_as_nchw(const Tensor& x, const std::string& what) {
  const Shape& s = x.shape();
  MAGMADNN_CHECK(s.dim() >= 1 && s.dim() <= 4, what, ": inputs of shape ", s,
                 "; expected (N,), (N, features), (N, H, W) or (N, C, H, W)");
  MAGMADNN_CHECK(s[0] > 0, what, " holds no samples (shape ", s, ")");
  for (int64_t d = 1; d < s.dim(); ++d) MAGMADNN_CHECK(s[d] > 0, what, ": inputs of shape ", s, " are empty");
  switch (s.dim()) {
    case 1: return x.reshape({s[0], 1, 1, 1});
    case 2: return x.reshape({s[0], s[1], 1, 1});
    case 3: return x.reshape({s[0], 1, s[1], s[2]});
    default: return x;
  }
}

UserDataset load_npz_dataset(const std::string& path) {
  const std::map<std::string, io::NpyArray> arrays = io::load_npz(path);
  UserDataset d;
  const Tensor x_train = load_inputs(find_array(arrays, "x_train", path), "x_train", path);
  const Tensor x_test = load_inputs(find_array(arrays, "x_test", path), "x_test", path);
  const Shape sample({x_train.size(1), x_train.size(2), x_train.size(3)});
  MAGMADNN_CHECK(Shape({x_test.size(1), x_test.size(2), x_test.size(3)}) == sample, "load_npz_dataset: ", path,
                 ": x_train has samples of shape ", io::shape_str(find_array(arrays, "x_train", path).shape),
                 " but x_test ", io::shape_str(find_array(arrays, "x_test", path).shape),
                 " (the sizes after the first must agree)");
  const Targets y_train = load_targets(find_array(arrays, "y_train", path), "y_train", x_train.size(0), path);
  const Targets y_test = load_targets(find_array(arrays, "y_test", path), "y_test", x_test.size(0), path);
  MAGMADNN_CHECK(y_train.integer == y_test.integer, "load_npz_dataset: ", path, ": y_train holds ",
                 y_train.integer ? "integer labels" : "floating targets", " but y_test ",
                 y_test.integer ? "integer labels" : "floating targets");
  if (y_train.integer) {
    d.task = Task::Classification;
    int64_t k = 0;
    for (const Tensor* y : {&y_train.values, &y_test.values})
      for (int64_t v : y->to_vector<int64_t>()) k = std::max(k, v + 1);
    MAGMADNN_CHECK(k >= 2, "load_npz_dataset: ", path, ": every label is 0; a classification needs two classes or more");
    d.num_outputs = k;
  } else {
    d.task = Task::Regression;
    MAGMADNN_CHECK(y_train.values.size(1) == y_test.values.size(1), "load_npz_dataset: ", path, ": y_train has ",
                   y_train.values.size(1), " targets per sample but y_test ", y_test.values.size(1));
    d.num_outputs = y_train.values.size(1);
  }
  d.sample_shape = sample;
  d.train = std::make_shared<TensorDataset>(x_train, y_train.values);
  d.test = std::make_shared<TensorDataset>(x_test, y_test.values);
  return d;
}

}  // namespace magmadnn::data
