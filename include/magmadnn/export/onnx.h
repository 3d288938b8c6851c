// ONNX export: a trained model as an ONNX file (opset 13, IR version 7) for inference runtimes
// (ONNX Runtime, TensorRT, OpenVINO, ...). The model is traced module by module in evaluation
// mode on an example input, so every node gets the shapes the real forward pass produced, and
// its weights become the graph's initializers (float32). The batch dimension is symbolic ("N").
//
// Layers with an ONNX form: Sequential, Linear (Gemm, or MatMul + Add above rank 2), Conv2d
// (zeros padding; a fused ReLU becomes a Relu node), BatchNorm1d/2d with running statistics
// (BatchNormalization), MaxPool2d, AvgPool2d, AdaptiveAvgPool2d (GlobalAveragePool, or an
// AveragePool where the input divides evenly), LayerNorm and GroupNorm (composed of ReduceMean,
// Sub, Mul, Sqrt, Div; opset 13 has neither), ReLU, LeakyReLU, Sigmoid, Tanh, GELU (as Erf),
// Softmax, LogSoftmax, Flatten, Dropout and Identity (nothing), and the model zoo's ResNet and
// BasicBlock (Add for the residual). Anything else is an Error naming the module.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "magmadnn/core/shape.h"
#include "magmadnn/nn/module.h"

namespace magmadnn::onnx {

struct ExportOptions {
  // Optional input normalisation folded into the graph's first nodes, (x - mean[c]) / std[c] per
  // channel (one value: every channel), so the exported model takes the data as the CLI reads it.
  std::vector<double> input_mean, input_std;
  std::string producer = "magmadnn";
  std::string graph_name = "model";
  // The model's metadata_props (key -> value), e.g. the class names a runtime should show.
  std::map<std::string, std::string> metadata;
};

// Writes `model` (switched to evaluation mode for the trace, its mode restored after) as an ONNX
// file at `path`, atomically. `input_shape` is an example input's shape, batch first (the batch
// size itself is not recorded: the file's batch dimension is "N"). The model must be on the CPU.
void export_onnx(nn::Module& model, const Shape& input_shape, const std::string& path,
                   const ExportOptions& options = {});

// The same file in memory.
std::vector<uint8_t> serialize_onnx(nn::Module& model, const Shape& input_shape, const ExportOptions& options = {});

}  // namespace magmadnn::onnx
