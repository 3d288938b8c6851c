// The model zoo: networks by name, for the CLI, the benchmarks and the examples.
// "mlp": Flatten, Linear(C*H*W, 512), ReLU, Linear(512, 256), ReLU, Linear(256, classes).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "magmadnn/nn/module.h"

namespace magmadnn::models {

struct ModelConfig {
  int64_t in_channels = 1;
  int64_t height = 28;
  int64_t width = 28;
  int64_t num_classes = 10;
};

// Throws Error naming the known models when `name` is unknown.
std::shared_ptr<nn::Module> make_model(const std::string& name, const ModelConfig& config = {});
std::vector<std::string> model_names();

}  // namespace magmadnn::models
