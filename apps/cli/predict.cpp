// `magmadnn predict`: class predictions (or regression values) of saved weights for the samples in
// a .npy or IDX file, as CSV. Inputs are preprocessed as training preprocessed its data set: for
// the built-in image sets uint8 pixels scaled to [0, 1] (floating inputs are taken to be in [0, 1]
// already), then normalised with the data set's mean and std; for a NumPy-archive data set the
// values as they are, standardised by its x_train's statistics. The model runs in evaluation mode
// on --device in batches of --batch-size.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "magmadnn/magmadnn.h"

namespace magmadnn::cli {

namespace {

// The file's images as a float32 (N, C, H, W) CPU tensor in [0, 1] (before normalisation).
// Accepted: (N, C, H, W), (N, H, W) when C is 1, and (N, H, W, C) (NumPy's image layout).
Tensor load_images(const std::string& path, const models::ModelConfig& c, const std::string& dataset) {
  Tensor raw;
  if (ends_with(path, ".npy")) {
    const io::NpyArray a = io::load_npy(path);
    if (a.dtype == "u1") {
      raw = Tensor::empty(Shape(a.shape), kUInt8);
      std::copy(a.bytes.begin(), a.bytes.end(), static_cast<uint8_t*>(raw.raw_data()));
    } else if (a.dtype == "f4") {
      raw = from_vector<float>(a.to_vector<float>(), Shape(a.shape));
    } else if (a.dtype == "f8") {
      raw = from_vector<double>(a.to_vector<double>(), Shape(a.shape));
    } else {
      MAGMADNN_ERROR("predict: ", path, ": expected uint8, float32 or float64 images, got NumPy dtype ", a.dtype);
    }
  } else {
    raw = data::read_idx(path);  // gzipped or not
    MAGMADNN_CHECK(raw.dtype() == kUInt8 || raw.dtype() == kFloat32 || raw.dtype() == kFloat64, "predict: ", path,
                   ": expected uint8, float32 or float64 images, got ", dtype_name(raw.dtype()));
  }
  const Shape s = raw.shape();
  const Shape nchw{c.in_channels, c.height, c.width};
  const auto expected = [&] {
    std::ostringstream os;
    os << "(N, " << c.in_channels << ", " << c.height << ", " << c.width << ")";
    if (c.in_channels == 1) os << " or (N, " << c.height << ", " << c.width << ")";
    os << " or (N, " << c.height << ", " << c.width << ", " << c.in_channels << ")";
    return os.str();
  };
  Tensor x;
  if (s.dim() == 4 && Shape{s[1], s[2], s[3]} == nchw) {
    x = raw;
  } else if (s.dim() == 3 && c.in_channels == 1 && s[1] == c.height && s[2] == c.width) {
    x = raw.reshape({s[0], 1, s[1], s[2]});
  } else if (s.dim() == 4 && s[1] == c.height && s[2] == c.width && s[3] == c.in_channels) {
    x = raw.permute({0, 3, 1, 2}).contiguous();
  } else {
    MAGMADNN_ERROR("predict: ", path, " holds images of shape ", s, "; ", dataset, " models take ", expected());
  }
  MAGMADNN_CHECK(x.size(0) > 0, "predict: ", path, " holds no images (shape ", s, ")");
  x = x.contiguous();
  Tensor f = x.dtype() == kFloat32 ? x : Tensor::empty(x.shape(), kFloat32);
  float* dst = f.data<float>();
  if (x.dtype() == kUInt8) {
    const uint8_t* src = static_cast<const uint8_t*>(x.raw_data());
    for (int64_t i = 0; i < f.numel(); ++i) dst[i] = static_cast<float>(src[i]) / 255.0f;  // as load_mnist does
    return f;
  }
  if (x.dtype() != kFloat32) backend_for(Device::cpu()).copy(x, f);  // float64 -> float32
  const int64_t bad = data::first_non_finite_sample(f);
  MAGMADNN_CHECK(bad < 0, "predict: ", path, ": image ", bad, " has a NaN or infinite value");
  return f;
}

// The samples of a .npy file for a NumPy-archive data set: any numeric dtype, the shapes
// data::npz_inputs_as_nchw takes, each sample of the archive's sample shape.
Tensor load_samples(const std::string& path, const models::ModelConfig& c, const std::string& dataset) {
  MAGMADNN_CHECK(ends_with(path, ".npy"), "predict: --dataset ", dataset, " takes its samples from a .npy file, got ",
                 path);
  const io::NpyArray a = io::load_npy(path);
  MAGMADNN_CHECK(!a.shape.empty(), "predict: ", path, " is a 0-d array; expected samples (N, ...)");
  const Tensor x = data::npz_inputs_as_nchw(io::to_tensor(a, kFloat32), "predict: " + path);
  MAGMADNN_CHECK(x.size(1) == c.in_channels && x.size(2) == c.height && x.size(3) == c.width, "predict: ", path,
                 " holds samples of shape ", io::shape_str(a.shape), "; ", dataset, "'s samples are (",
                 c.in_channels, ", ", c.height, ", ", c.width, ") as (C, H, W)");
  const int64_t bad = data::first_non_finite_sample(x);
  MAGMADNN_CHECK(bad < 0, "predict: ", path, ": sample ", bad, " has a NaN or infinite value");
  return x;
}

// The rows of a CSV table for a CSV-table data set: the data set's feature columns, found by name
// (other columns, the target's too, are left out), as (N, F, 1, 1).
Tensor load_table_samples(const std::string& path, const std::string& dataset) {
  MAGMADNN_CHECK(ends_with(path, ".csv"), "predict: --dataset ", dataset, " takes its samples from a .csv table, got ",
                 path);
  const Tensor x = data::load_csv_features(path, user_dataset(dataset).feature_names);
  return x.reshape({x.size(0), x.size(1), 1, 1});
}

// Regression: one CSV row per sample with the model's K outputs, headed by the targets' names
// (a table's columns; y0, y1, ... otherwise).
std::string regression_csv(nn::Module& model, const Tensor& samples, int64_t batch_size, Device device,
                           const std::vector<std::string>& target_names) {
  std::ostringstream csv;
  csv << "index";
  NoGradGuard no_grad;
  for (int64_t begin = 0; begin < samples.size(0); begin += batch_size) {
    const int64_t end = std::min(samples.size(0), begin + batch_size);
    const Tensor y = model.forward(samples.slice(0, begin, end).to(device)).to(Device::cpu()).contiguous();
    const int64_t k = y.size(1);
    if (begin == 0)
      for (int64_t j = 0; j < k; ++j)
        csv << "," << (j < static_cast<int64_t>(target_names.size()) ? io::csv_field(target_names[j]) : "y" + std::to_string(j));
    if (begin == 0) csv << "\n";
    const std::vector<float> v = y.to_vector<float>();
    for (int64_t i = 0; i < end - begin; ++i) {
      csv << begin + i;
      for (int64_t j = 0; j < k; ++j) {
        char num[32];
        std::snprintf(num, sizeof num, "%.7g", v[i * k + j]);
        csv << "," << num;
      }
      csv << "\n";
    }
  }
  return csv.str();
}

}  // namespace

int run_predict(const PredictArgs& a) {
  const Device device = setup(a);
  const models::ModelConfig config = config_for_dataset(a.dataset);
  const bool regression = is_regression(a.dataset);
  MAGMADNN_CHECK(!regression || a.top == 1, "predict: --top ranks classes; ", a.dataset, " holds regression targets");
  MAGMADNN_CHECK(a.top >= 1 && a.top <= config.num_classes, "predict: --top must be in [1, ", config.num_classes,
                 "], got ", a.top);
  auto model = make_model_for(a.model, a.dataset);
  io::load_module(*model, a.weights);  // before the input: a wrong file fails first and cheaply
  const Tensor images = normalization_for(a.dataset)(is_csv_dataset(a.dataset)   ? load_table_samples(a.input, a.dataset)
                                                     : is_npz_dataset(a.dataset) ? load_samples(a.input, config, a.dataset)
                                                                                 : load_images(a.input, config, a.dataset));
  model->eval();
  model->to(device);
  const int64_t n = images.size(0), k = a.top;
  if (regression) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::string csv = regression_csv(*model, images, a.batch_size, device, target_names(a.dataset));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (a.output.empty())
      std::cout << csv << std::flush;
    else
      io::write_file_atomic(a.output, csv, "predictions");
    (a.output.empty() ? std::cerr : std::cout) << "predicted " << n << " samples from " << a.input << " with "
                                               << a.model << " on " << device << " in " << std::fixed
                                               << std::setprecision(2) << seconds << "s" << std::endl;
    if (!a.metrics_out.empty())
      write_json_atomic(a.metrics_out, {{"command", "predict"}, {"model", a.model}, {"weights", a.weights},
                                        {"input", a.input}, {"device", device.str()}, {"samples", n},
                                        {"predict_seconds", seconds}});
    return 0;
  }
  const std::vector<std::string> names = class_names(a.dataset);

  std::ostringstream csv;
  csv << "index";
  for (int64_t j = 1; j <= k; ++j)
    csv << (k == 1 ? ",class,name,probability" : ",class_" + std::to_string(j) + ",name_" + std::to_string(j) +
                                                     ",probability_" + std::to_string(j));
  csv << "\n";
  std::vector<int64_t> counts(config.num_classes, 0);
  const auto t0 = std::chrono::steady_clock::now();
  {
    NoGradGuard no_grad;
    for (int64_t begin = 0; begin < n; begin += a.batch_size) {
      const int64_t end = std::min(n, begin + a.batch_size);
      // probabilities: (B, classes), read back per batch
      const Tensor p = softmax(model->forward(images.slice(0, begin, end).to(device)), 1).to(Device::cpu());
      const std::vector<float> probs = p.contiguous().to_vector<float>();
      const int64_t classes = p.size(1);
      std::vector<int64_t> order(classes);
      for (int64_t i = 0; i < end - begin; ++i) {
        const float* row = probs.data() + i * classes;
        for (int64_t c = 0; c < classes; ++c) order[c] = c;
        // Most probable first; ties to the lower class (as argmax).
        std::stable_sort(order.begin(), order.end(), [&](int64_t u, int64_t v) { return row[u] > row[v]; });
        ++counts[order[0]];
        csv << begin + i;
        for (int64_t j = 0; j < k; ++j) {
          char prob[32];
          std::snprintf(prob, sizeof prob, "%.6f", row[order[j]]);
          csv << "," << order[j] << "," << io::csv_field(names[order[j]]) << "," << prob;
        }
        csv << "\n";
      }
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (a.output.empty()) {
    std::cout << csv.str() << std::flush;
  } else {
    io::write_file_atomic(a.output, csv.str(), "predictions");
  }
  // The summary goes to stderr when the CSV is on stdout, so the CSV stays clean.
  std::ostream& summary = a.output.empty() ? std::cerr : std::cout;
  summary << "predicted " << n << " images from " << a.input << " with " << a.model << " on " << device << " in "
          << std::fixed << std::setprecision(2) << seconds << "s; classes:";
  for (int64_t c = 0; c < config.num_classes; ++c) summary << " " << c << "=" << counts[c];
  summary << std::endl;
  if (!a.metrics_out.empty()) {
    write_json_atomic(a.metrics_out, {{"command", "predict"}, {"model", a.model}, {"weights", a.weights},
                                      {"input", a.input}, {"device", device.str()}, {"samples", n},
                                      {"class_counts", counts}, {"predict_seconds", seconds}});
  }
  return 0;
}

}  // namespace magmadnn::cli
