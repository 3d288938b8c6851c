// The model zoo: networks by name, for the CLI, the benchmarks and the examples.
//   mlp       Flatten, Linear(C*H*W, 512), ReLU, Linear(512, 256), ReLU, Linear(256, classes)
//   mlp:W1,W2,...   the same with hidden widths W1, W2, ... ("mlp:" alone: one Linear layer)
//   lenet     conv(C->32, 3x3) ReLU maxpool2, conv(32->64, 3x3) ReLU maxpool2, flatten,
//             fc(->128) ReLU dropout(0.5) fc(->classes)
//   resnet18, resnet34   basic blocks [2,2,2,2] / [3,4,6,3], widths 64..512, 1x1 projection
//             shortcuts where the shape changes; CIFAR-style stem (3x3 conv, no max-pool) or
//             ImageNet-style stem (7x7 stride 2 + max-pool 3x3 stride 2); see models/resnet.h
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
  bool imagenet_stem = false;  // resnets: 7x7/2 conv + max-pool instead of a 3x3 conv
  int64_t base_width = 64;     // resnets: channels of the first stage (doubled at each later stage)
};

// Throws Error naming the known models when `name` is unknown. num_classes is the number of
// outputs (regression targets too).
std::shared_ptr<nn::Module> make_model(const std::string& name, const ModelConfig& config = {});
std::vector<std::string> model_names();  // the fixed names (not the mlp:W1,W2,... pattern)

}  // namespace magmadnn::models
