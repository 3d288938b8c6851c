// The differentiable functions on tensors. Each op checks its arguments (errors name the op
// and the shapes), allocates its output on the inputs' device, calls that device's backend,
// and records its backward for autograd. Implementations: src/ops/<family>.cpp.
#pragma once

#include <optional>
#include <vector>

#include "magmadnn/backend/backend.h"
#include "magmadnn/core/tensor.h"

namespace magmadnn {

// --- elementwise binary, NumPy broadcasting (src/ops/elementwise.cpp) ---
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
// Comparisons give 0/1 in a's dtype and are not differentiable.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
// With a scalar.
Tensor add(const Tensor& a, double b);
Tensor sub(const Tensor& a, double b);
Tensor mul(const Tensor& a, double b);
Tensor div(const Tensor& a, double b);
Tensor pow(const Tensor& a, double exponent);

// --- elementwise unary (src/ops/elementwise.cpp) ---
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor square(const Tensor& x);
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max);

// --- activations (src/ops/activation.cpp) ---
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor gelu(const Tensor& x);
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

// --- linear algebra (src/ops/linalg.cpp) ---
// 1-D/2-D operands, or batched (..., M, K) @ (..., K, N) with broadcast batch dimensions.
Tensor matmul(const Tensor& a, const Tensor& b);
// y = x @ weight^T + bias; x (N, in), weight (out, in), bias (out) or undefined.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);

// --- shape and indexing (src/ops/shape.cpp, src/ops/index.cpp) ---
// Differentiable versions of the Tensor view methods.
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor contiguous(const Tensor& x);
Tensor concat(const std::vector<Tensor>& xs, int64_t dim);
Tensor stack(const std::vector<Tensor>& xs, int64_t dim);
// out = x selected along `dim` at the int64 indices (1-D).
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
// out[i][j] = x[i][index[i][j]] along dim (index has x's rank).
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
// Sums `grad` down to `shape` (the inverse of broadcasting); used by backward functions.
Tensor sum_to(const Tensor& grad, const Shape& shape);
Tensor expand(const Tensor& x, const Shape& shape);  // differentiable broadcast (materialised)

// --- reductions (src/ops/reduce.cpp) ---
Tensor sum(const Tensor& x);
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
// Gradient flows to the maximal elements, split evenly between ties.
Tensor max(const Tensor& x);
Tensor max(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor min(const Tensor& x);
Tensor min(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);  // int64, not differentiable

// --- losses (src/ops/loss.cpp) ---
// Fused log-softmax + negative log-likelihood: logits (N, C), int64 targets (N) in [0, C),
// optional class weights (C). Mean reduction divides by the summed weights of the targets.
// label_smoothing e in [0, 1) mixes the one-hot target with the uniform distribution, as PyTorch:
// loss_i = (1 - e) * w_t * nll_i + e / C * sum_c w_c * (-log p_ic).
Tensor cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight = Tensor(),
                     Reduction reduction = Reduction::Mean, double label_smoothing = 0.0);
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);

// --- convolution, pooling, normalization, dropout (src/ops/conv.cpp, pool.cpp, norm.cpp, dropout.cpp) ---
// NCHW layout. A (height, width) pair; one number means the same for both.
struct Size2 {
  int64_t h = 0, w = 0;
  Size2() = default;
  Size2(int64_t v) : h(v), w(v) {}  // NOLINT: implicit, so `stride = 2` reads naturally
  Size2(int64_t h_, int64_t w_) : h(h_), w(w_) {}
  bool operator==(const Size2& o) const { return h == o.h && w == o.w; }
};
enum class PaddingMode { Zeros, Circular };
struct Conv2dArgs {
  Size2 stride{1, 1}, padding{0, 0}, dilation{1, 1};
  int64_t groups = 1;
  PaddingMode padding_mode = PaddingMode::Zeros;  // Circular wraps around, as for periodic lattices
};
// x (N, C, H, W), weight (O, C/groups, kH, kW), bias (O) or undefined -> (N, O, OH, OW).
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), const Conv2dArgs& args = {});
// Pads H by pad_h on both sides and W by pad_w, wrapping around (PyTorch's mode='circular').
Tensor pad_circular(const Tensor& x, int64_t pad_h, int64_t pad_w);
// Output sizes follow PyTorch, including ceil_mode (a window must start inside the input or the
// left padding). stride defaults to the kernel size.
Tensor max_pool2d(const Tensor& x, Size2 kernel, std::optional<Size2> stride = std::nullopt, Size2 padding = {0, 0},
                  bool ceil_mode = false);
Tensor avg_pool2d(const Tensor& x, Size2 kernel, std::optional<Size2> stride = std::nullopt, Size2 padding = {0, 0},
                  bool ceil_mode = false, bool count_include_pad = true);
Tensor adaptive_avg_pool2d(const Tensor& x, Size2 output_size);
// x (N, C) or (N, C, H, W); running_mean/var (C) (may be undefined in training), weight/bias (C)
// or undefined. Training normalises with the batch statistics and updates the running buffers in
// place: running = (1 - momentum) * running + momentum * stat, unbiased variance for running_var.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum = 0.1, double eps = 1e-5);
// Layer normalisation (PyTorch's layer_norm): every sample normalised over its last
// normalized_shape.size() dimensions, which must equal normalized_shape (mean 0, biased variance
// 1, eps added to the variance), then multiplied by weight and shifted by bias (each of shape
// normalized_shape, or undefined). Composed of differentiable ops, so it runs and differentiates
// on every backend.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);
// Group normalisation (PyTorch's group_norm): x (N, C, *) with its C channels split into
// num_groups groups of C / num_groups; every (sample, group) normalised over its channels and
// positions as layer_norm does, then per-channel weight and bias (C), either may be undefined.
Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight = Tensor(), const Tensor& bias = Tensor(),
                  double eps = 1e-5);
// Inverted dropout: zeroes each element with probability p, scales the rest by 1 / (1 - p); the
// mask is drawn from default_generator(). Identity when !training or p == 0.
Tensor dropout(const Tensor& x, double p, bool training);

// --- operators ---
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator+(const Tensor& a, double b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, double b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, double b) { return div(a, b); }
inline Tensor operator+(double a, const Tensor& b) { return add(b, a); }
inline Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
Tensor operator-(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);

}  // namespace magmadnn
