// `magmadnn export`: saved weights as an ONNX model (export/onnx.h) that takes the data as the
// CLI reads it (pixels in [0, 1], or an archive's raw values) and normalises them itself, so a
// runtime needs no preprocessing beyond that; --fuse folds batch norms into convolutions first.
#include <iomanip>
#include <iostream>

#include "cli/commands.h"
#include "magmadnn/magmadnn.h"
#include "magmadnn/nn/fusion.h"

#include <nlohmann/json.hpp>

namespace magmadnn::cli {

int run_export(const ExportArgs& a) {
  setup(a);
  const models::ModelConfig config = config_for_dataset(a.dataset);
  auto model = make_model_for(a.model, a.dataset);
  io::load_module(*model, a.weights);
  if (a.fuse) nn::fuse_for_inference(*model);
  const data::Normalize normalize = normalization_for(a.dataset);
  onnx::ExportOptions o;
  o.input_mean = normalize.mean;
  o.input_std = normalize.std;
  o.graph_name = a.model;
  // What a runtime needs to read the outputs: the task, the class names in output order, the input.
  const bool regression = is_regression(a.dataset);
  o.metadata["magmadnn.task"] = regression ? "regression" : "classification";
  o.metadata["magmadnn.dataset"] = a.dataset;
  // How the input is laid out: a table's feature columns in order, an archive's x_train values, pixels.
  std::string input = "pixels in [0, 1]";
  if (is_npz_dataset(a.dataset)) input = "raw values as in x_train";
  if (is_csv_dataset(a.dataset)) {
    const data::UserDataset& d = user_dataset(a.dataset);
    input = "raw values of the columns " + nlohmann::json(d.feature_names).dump();
    o.metadata["magmadnn.feature_names"] = nlohmann::json(d.feature_names).dump();
    if (regression) o.metadata["magmadnn.target_names"] = nlohmann::json(d.target_names).dump();
  }
  o.metadata["magmadnn.input"] = input;
  if (!regression) o.metadata["magmadnn.class_names"] = nlohmann::json(class_names(a.dataset)).dump();
  onnx::export_onnx(*model, Shape({1, config.in_channels, config.height, config.width}), a.output, o);
  std::cout << "exported " << a.model << " (" << model->num_parameters() << " parameters" << (a.fuse ? ", fused" : "")
            << ") to " << a.output << ": input (N, " << config.in_channels << ", " << config.height << ", "
            << config.width << ") float32 " << input
            << ", output (N, " << config.num_classes << ") "
            << (is_regression(a.dataset) ? "regression values" : "logits") << std::endl;
  if (!a.metrics_out.empty())
    write_json_atomic(a.metrics_out, {{"command", "export"}, {"model", a.model}, {"weights", a.weights},
                                      {"output", a.output}, {"fused", a.fuse},
                                      {"parameters", model->num_parameters()}});
  return 0;
}

}  // namespace magmadnn::cli
