// nn::init: PyTorch's initialisation formulas on top of the backend's random kernels.
#include "magmadnn/nn/init.h"

#include <cmath>

#include "magmadnn/backend/backend.h"
#include "magmadnn/core/rng.h"

namespace magmadnn::nn::init {

namespace {
// The backend's random kernels want contiguous tensors; a strided view is filled via a temporary.
template <class Fill>
Tensor& fill_random(Tensor& t, const char* op, Fill&& fill) {
  MAGMADNN_CHECK(t.defined(), "nn::init::", op, ": undefined tensor");
  MAGMADNN_CHECK(is_floating(t.dtype()), "nn::init::", op, ": expected a floating tensor, got ", t.dtype());
  if (t.numel() == 0) return t;
  Backend& be = backend_for(t.device());
  if (t.is_contiguous()) {
    fill(be, t);
  } else {
    Tensor tmp = Tensor::empty(t.shape(), t.dtype(), t.device());
    fill(be, tmp);
    t.copy_(tmp);
  }
  return t;
}

int64_t fan(const Tensor& t, FanMode mode) {
  auto [in, out] = calculate_fan_in_and_fan_out(t);
  return mode == FanMode::FanIn ? in : out;
}
}  // namespace

double calculate_gain(Nonlinearity nl, std::optional<double> param) {
  switch (nl) {
    case Nonlinearity::Linear:
    case Nonlinearity::Conv1d:
    case Nonlinearity::Conv2d:
    case Nonlinearity::Conv3d:
    case Nonlinearity::ConvTranspose1d:
    case Nonlinearity::ConvTranspose2d:
    case Nonlinearity::ConvTranspose3d:
    case Nonlinearity::Sigmoid:
      return 1.0;
    case Nonlinearity::Tanh:
      return 5.0 / 3.0;
    case Nonlinearity::Relu:
      return std::sqrt(2.0);
    case Nonlinearity::LeakyRelu: {
      const double slope = param.value_or(0.01);
      return std::sqrt(2.0 / (1.0 + slope * slope));
    }
    case Nonlinearity::Selu:
      return 3.0 / 4.0;
  }
  MAGMADNN_ERROR("nn::init::calculate_gain: unknown nonlinearity");
}

std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& t) {
  MAGMADNN_CHECK(t.dim() >= 2,
                 "nn::init: fan in and fan out need a tensor with at least 2 dimensions, got shape ",
                 t.shape());
  int64_t receptive = 1;
  for (int64_t d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  return {t.size(1) * receptive, t.size(0) * receptive};
}

Tensor& uniform_(Tensor& t, double a, double b) {
  MAGMADNN_CHECK(a <= b, "nn::init::uniform_: expected a <= b, got a=", a, ", b=", b);
  return fill_random(t, "uniform_",
                     [&](Backend& be, Tensor& dst) { be.uniform(dst, a, b, default_generator()); });
}

Tensor& normal_(Tensor& t, double mean, double std) {
  MAGMADNN_CHECK(std >= 0, "nn::init::normal_: expected std >= 0, got ", std);
  return fill_random(t, "normal_",
                     [&](Backend& be, Tensor& dst) { be.normal(dst, mean, std, default_generator()); });
}

Tensor& constant_(Tensor& t, double value) {
  return t.fill_(value);
}
Tensor& zeros_(Tensor& t) {
  return t.fill_(0.0);
}
Tensor& ones_(Tensor& t) {
  return t.fill_(1.0);
}

Tensor& xavier_uniform_(Tensor& t, double gain) {
  if (t.defined() && t.numel() == 0) return t;  // PyTorch: a no-op, and the fans may be 0
  auto [in, out] = calculate_fan_in_and_fan_out(t);
  const double bound = std::sqrt(3.0) * gain * std::sqrt(2.0 / static_cast<double>(in + out));
  return uniform_(t, -bound, bound);
}

Tensor& xavier_normal_(Tensor& t, double gain) {
  if (t.defined() && t.numel() == 0) return t;  // PyTorch: a no-op, and the fans may be 0
  auto [in, out] = calculate_fan_in_and_fan_out(t);
  return normal_(t, 0.0, gain * std::sqrt(2.0 / static_cast<double>(in + out)));
}

Tensor& kaiming_uniform_(Tensor& t, double a, FanMode mode, Nonlinearity nl) {
  if (t.defined() && t.numel() == 0) return t;  // PyTorch: a no-op, and the fans may be 0
  const double std = calculate_gain(nl, a) / std::sqrt(static_cast<double>(fan(t, mode)));
  const double bound = std::sqrt(3.0) * std;
  return uniform_(t, -bound, bound);
}

Tensor& kaiming_normal_(Tensor& t, double a, FanMode mode, Nonlinearity nl) {
  if (t.defined() && t.numel() == 0) return t;  // PyTorch: a no-op, and the fans may be 0
  const double std = calculate_gain(nl, a) / std::sqrt(static_cast<double>(fan(t, mode)));
  return normal_(t, 0.0, std);
}

}  // namespace magmadnn::nn::init
