// A model's layer table, as torchinfo prints it: every leaf module in the order a forward pass
// reaches it, with its qualified name, output shape, parameter count and multiply-accumulates
// (Linear and Conv2d), and the totals. summarize() runs one forward pass on zeros of the given
// input shape, in eval mode without gradients, and leaves the model's mode as it was.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "magmadnn/core/shape.h"
#include "magmadnn/nn/module.h"

namespace magmadnn::nn {

struct LayerSummary {
  std::string name;  // qualified, e.g. "layers.0.conv1"
  std::string type;  // Module::name(), e.g. "Conv2d(in_channels=64, out_channels=64, ...)"
  Shape output;
  int64_t parameters = 0;  // the module's own (a shared tensor counts where it is first seen)
  int64_t macs = 0;        // multiply-accumulates of this call (Linear, Conv2d; 0 for the others)
};

struct ModelSummary {
  Shape input;
  std::vector<LayerSummary> layers;  // leaf modules, once per call, in forward order
  int64_t parameters = 0;            // of the whole model (num_parameters())
  int64_t trainable_parameters = 0;  // those that require gradients
  int64_t macs = 0;                  // sum over the layers
  int64_t parameter_bytes = 0;       // parameters and buffers

  // A fixed-width table followed by the totals.
  std::string table() const;
};

// Errors (a shape the model rejects) name the model and the input shape.
ModelSummary summarize(Module& model, const Shape& input, DType dtype = kFloat32);

}  // namespace magmadnn::nn
