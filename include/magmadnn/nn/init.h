// nn::init: in-place initialisers with PyTorch's formulas (torch.nn.init), drawing from
// magmadnn::default_generator() so that manual_seed makes them reproducible.
#pragma once

#include <optional>
#include <utility>

#include "magmadnn/core/tensor.h"

namespace magmadnn::nn::init {

enum class FanMode { FanIn, FanOut };
enum class Nonlinearity {
  Linear,
  Conv1d,
  Conv2d,
  Conv3d,
  ConvTranspose1d,
  ConvTranspose2d,
  ConvTranspose3d,
  Sigmoid,
  Tanh,
  Relu,
  LeakyRelu,
  Selu
};

// Recommended gain for a nonlinearity; `param` is LeakyRelu's negative slope (0.01 when absent).
double calculate_gain(Nonlinearity nonlinearity, std::optional<double> param = std::nullopt);
// (fan_in, fan_out) of a weight: (out, in) for Linear, (out, in, k...) for convolutions, where the
// receptive field multiplies both. Needs at least 2 dimensions.
std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& t);

Tensor& uniform_(Tensor& t, double a = 0.0, double b = 1.0);
Tensor& normal_(Tensor& t, double mean = 0.0, double std = 1.0);
Tensor& constant_(Tensor& t, double value);
Tensor& zeros_(Tensor& t);
Tensor& ones_(Tensor& t);
// U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)).
Tensor& xavier_uniform_(Tensor& t, double gain = 1.0);
// N(0, s^2) with s = gain * sqrt(2 / (fan_in + fan_out)).
Tensor& xavier_normal_(Tensor& t, double gain = 1.0);
// U(-b, b) with b = gain(nl, a) * sqrt(3 / fan); Linear's default is a = sqrt(5).
Tensor& kaiming_uniform_(Tensor& t, double a = 0.0, FanMode mode = FanMode::FanIn,
                         Nonlinearity nonlinearity = Nonlinearity::LeakyRelu);
// N(0, s^2) with s = gain(nl, a) / sqrt(fan).
Tensor& kaiming_normal_(Tensor& t, double a = 0.0, FanMode mode = FanMode::FanIn,
                        Nonlinearity nonlinearity = Nonlinearity::LeakyRelu);

}  // namespace magmadnn::nn::init
