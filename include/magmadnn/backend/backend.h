// The backend interface: every kernel a device must provide. Ops (ops/) compute output shapes,
// check arguments and record autograd; they then call backend_for(device).<kernel>(...).
// Kernels receive tensors whose shapes already agree (broadcast inputs arrive as stride-0
// views) and write into preallocated outputs. A new device adds a Backend subclass and
// registers it; no op, nn or optim code changes.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "magmadnn/core/allocator.h"
#include "magmadnn/core/rng.h"
#include "magmadnn/core/tensor.h"

namespace magmadnn {

enum class UnaryOp {
  Neg, Exp, Log, Sqrt, Rsqrt, Abs, Sign, Square, Reciprocal,
  Relu, LeakyRelu,  // alpha = negative slope
  Sigmoid, Tanh, Gelu,  // exact (erf) GELU, as PyTorch's default
  Clamp,      // alpha = min, beta = max (use +-inf for one-sided)
  PowScalar,  // x ** alpha
  AddScalar,  // x + alpha
  MulScalar,  // x * alpha
  RSubScalar, // alpha - x
  RDivScalar, // alpha / x
};

enum class BinaryOp {
  Add, Sub, Mul, Div, Pow, Maximum, Minimum,
  Eq, Ne, Lt, Le, Gt, Ge,  // 1 or 0 in the output dtype
  // Backward helpers: a = incoming gradient, b = saved forward tensor.
  ReluBackward,       // b = input x: a * (x > 0)
  LeakyReluBackward,  // b = input x, alpha = slope
  SigmoidBackward,    // b = output y: a * y * (1 - y)
  TanhBackward,       // b = output y: a * (1 - y^2)
  GeluBackward,       // b = input x
  ClampBackward,      // b = input x, alpha/beta = bounds: a where min <= x <= max
  AbsBackward,        // b = input x: a * sign(x)
};

enum class ReduceOp { Sum, Mean, Max, Min };

enum class Reduction { None, Mean, Sum };

struct SgdParams {
  double lr, momentum, dampening, weight_decay;
  bool nesterov, first_step;  // first_step: the momentum buffer is initialised with the gradient
};
struct AdamParams {
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled_weight_decay;  // AdamW
  bool amsgrad;
  int64_t step;  // 1-based step count after increment
};
struct AdagradParams {
  double lr, lr_decay, weight_decay, eps;
  int64_t step;
};
struct RmspropParams {
  double lr, alpha, eps, weight_decay, momentum;
  bool centered;
};

// --- fused optimizer updates over a list of parameters (PyTorch's foreach / multi_tensor_apply) ---
// One entry per parameter of a *_step_group call. State a variant does not use (momentum_buffer
// without momentum, max_exp_avg_sq without amsgrad, grad_avg when not centered) may be undefined.
// All tensors of a list are contiguous and share the first parameter's dtype and device, and the
// *Params (first_step and step included) hold for every entry: callers put parameters with
// different step counts in separate calls (the parameters of a group normally share them).
struct SgdTensors {
  Tensor param, grad, momentum_buffer;
};
struct AdamTensors {
  Tensor param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq;
};
struct AdagradTensors {
  Tensor param, grad, sum;
};
struct RmspropTensors {
  Tensor param, grad, square_avg, momentum_buffer, grad_avg;
};

// --- convolution, pooling, normalization: parameter structs (kernels in Backend below) ---
// 2-D convolution geometry; padding is symmetric zero padding (circular padding is done by the
// op before the kernel), dilation 1 means a dense kernel.
struct Conv2dParams {
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1, groups = 1;
};
enum class PoolKind { Max, AvgIncludePad, AvgExcludePad };
// Pooling window; the output size comes from the output tensor, so ceil_mode shows up as extra
// implicit padding on the bottom/right that never counts as an element (PyTorch's rule).
struct Pool2dParams {
  PoolKind kind = PoolKind::Max;
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // One line for `magmadnn info`: libraries and versions, threads or devices.
  virtual std::string describe() const { return name(); }
  virtual Allocator& allocator() = 0;

  // --- memory ---
  // dst = src elementwise with dtype conversion; src may be strided or broadcast, or on the CPU
  // while dst is on this device (and the reverse).
  virtual void copy(const Tensor& src, Tensor& dst) = 0;
  virtual void fill(Tensor& dst, double value) = 0;
  virtual void arange(Tensor& dst, double start, double step) = 0;  // contiguous dst
  virtual void uniform(Tensor& dst, double low, double high, Generator& gen) = 0;
  virtual void normal(Tensor& dst, double mean, double std, Generator& gen) = 0;
  virtual void bernoulli(Tensor& dst, double p, Generator& gen) = 0;  // 1 with probability p

  // --- elementwise: out may alias an input; inputs have out's shape (broadcast views) ---
  virtual void unary(UnaryOp op, const Tensor& x, Tensor& out, double alpha = 0, double beta = 0) = 0;
  virtual void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out, double alpha = 0,
                      double beta = 0) = 0;

  // --- reductions ---
  // out has x's rank with size 1 on each reduced axis (keepdim form), contiguous.
  virtual void reduce(ReduceOp op, const Tensor& x, const std::vector<int64_t>& axes, Tensor& out) = 0;
  // Index of the maximum along `axis` (first on ties); out is int64 in keepdim form.
  virtual void argmax(const Tensor& x, int64_t axis, Tensor& out) = 0;

  // --- linear algebra ---
  // out(B, M, N) = a(B, M, K) @ b(B, K, N) (+ out if accumulate). a and b may be transposed
  // views (unit stride in either of the last two dims) and may have batch stride 0.
  virtual void matmul(const Tensor& a, const Tensor& b, Tensor& out, bool accumulate = false) = 0;

  // --- softmax family: contiguous x viewed as (outer, axis, inner) ---
  virtual void softmax(const Tensor& x, int64_t axis, bool log, Tensor& out) = 0;
  // grad_x from the saved output y and grad_y.
  virtual void softmax_backward(const Tensor& y, const Tensor& grad_y, int64_t axis, bool log, Tensor& grad_x) = 0;
  // logits (N, C) contiguous, target int64 (N); weight (C) or undefined. Writes log-probabilities
  // (N, C) and the loss: a scalar for Mean/Sum, (N) for None. Throws on labels outside [0, C).
  virtual void cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight,
                             Reduction reduction, Tensor& log_probs, Tensor& loss) = 0;
  // grad_logits (N, C) from the saved log-probabilities and grad_loss (scalar or (N)).
  virtual void cross_entropy_backward(const Tensor& log_probs, const Tensor& target, const Tensor& weight,
                                      Reduction reduction, const Tensor& grad_loss, Tensor& grad_logits) = 0;

  // --- indexing (index tensors are int64, checked against the indexed size) ---
  virtual void index_select(const Tensor& x, int64_t axis, const Tensor& index, Tensor& out) = 0;
  // out[..., index[i], ...] += src[..., i, ...]
  virtual void index_add(Tensor& out, int64_t axis, const Tensor& index, const Tensor& src) = 0;
  virtual void gather(const Tensor& x, int64_t axis, const Tensor& index, Tensor& out) = 0;
  // out[i][index[i][j]] += src[i][j] along axis
  virtual void scatter_add(Tensor& out, int64_t axis, const Tensor& index, const Tensor& src) = 0;

  // --- fused optimizer updates, one call per parameter (contiguous tensors) ---
  virtual void sgd_step(Tensor& param, const Tensor& grad, Tensor& momentum_buffer, const SgdParams& p) = 0;
  virtual void adam_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq,
                         Tensor& max_exp_avg_sq, const AdamParams& p) = 0;
  virtual void adagrad_step(Tensor& param, const Tensor& grad, Tensor& sum, const AdagradParams& p) = 0;
  virtual void rmsprop_step(Tensor& param, const Tensor& grad, Tensor& square_avg, Tensor& momentum_buffer,
                            Tensor& grad_avg, const RmspropParams& p) = 0;

  // --- fused optimizer updates over a list of parameters (see SgdTensors above) ---
  // Each result equals the single-tensor kernel's on that entry. The defaults call it once per
  // entry; a GPU backend updates the whole list in a few launches. Empty lists are allowed.
  virtual void sgd_step_group(std::vector<SgdTensors>& tensors, const SgdParams& p);
  virtual void adam_step_group(std::vector<AdamTensors>& tensors, const AdamParams& p);
  virtual void adagrad_step_group(std::vector<AdagradTensors>& tensors, const AdagradParams& p);
  virtual void rmsprop_step_group(std::vector<RmspropTensors>& tensors, const RmspropParams& p);

  // --- convolution, pooling, normalization ---
  // NCHW tensors, contiguous. x (N, C, H, W), weight (O, C/groups, kH, kW), bias (O) or
  // undefined, out (N, O, OH, OW).
  virtual void conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& out,
                      const Conv2dParams& p) = 0;
  virtual void conv2d_backward_data(const Tensor& grad_out, const Tensor& weight, Tensor& grad_x,
                                    const Conv2dParams& p) = 0;
  // grad_bias may be undefined (no bias); both outputs are overwritten, not accumulated.
  virtual void conv2d_backward_weights(const Tensor& x, const Tensor& grad_out, Tensor& grad_weight,
                                       Tensor& grad_bias, const Conv2dParams& p) = 0;
  // Both gradients in one call (grad_x or grad_weight may be undefined when not needed), so a
  // backend can share work such as re-laying out grad_out; the default runs the two kernels.
  virtual void conv2d_backward(const Tensor& x, const Tensor& grad_out, const Tensor& weight, Tensor& grad_x,
                               Tensor& grad_weight, Tensor& grad_bias, const Conv2dParams& p) {
    if (grad_x.defined()) conv2d_backward_data(grad_out, weight, grad_x, p);
    if (grad_weight.defined()) conv2d_backward_weights(x, grad_out, grad_weight, grad_bias, p);
  }
  // x (N, C, H, W) -> out (N, C, OH, OW). For Max the kernel sets `workspace` to an opaque
  // tensor (argmax record) that pool2d_backward needs back.
  virtual void pool2d(const Tensor& x, Tensor& out, Tensor& workspace, const Pool2dParams& p) = 0;
  virtual void pool2d_backward(const Tensor& grad_out, const Tensor& workspace, Tensor& grad_x,
                               const Pool2dParams& p) = 0;
  // Adaptive average pooling (PyTorch's bins: start = floor(i*H/OH), end = ceil((i+1)*H/OH)).
  virtual void adaptive_avg_pool2d(const Tensor& x, Tensor& out) = 0;
  virtual void adaptive_avg_pool2d_backward(const Tensor& grad_out, Tensor& grad_x) = 0;
  // x (N, C) or (N, C, H, W); weight, bias (C) (the op passes ones/zeros when absent); mean,
  // var (C) in x's dtype. training: writes the batch mean and biased variance into mean/var;
  // else normalises with them as given (running statistics).
  virtual void batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& mean, Tensor& var,
                          bool training, double eps, Tensor& out) = 0;
  // The batch mean and biased variance per channel of x (N, C) or (N, C, ...), into mean and var
  // (C) of x's dtype, without normalising: two passes (the variance around the mean), no
  // cancellation. For statistics combined across processes (SyncBatchNorm). The default uses the
  // reductions and maps above with one temporary of x's size; the CPU reads x twice and nothing else.
  virtual void batch_norm_stats(const Tensor& x, Tensor& mean, Tensor& var);
  // Gradients for x, weight, bias from the forward's mean/var. training: the full batch-norm
  // backward (statistics depend on x); else mean/var are constants. grad_weight and grad_bias
  // may be undefined when not needed.
  virtual void batch_norm_backward(const Tensor& x, const Tensor& grad_out, const Tensor& weight,
                                   const Tensor& mean, const Tensor& var, bool training, double eps,
                                   Tensor& grad_x, Tensor& grad_weight, Tensor& grad_bias) = 0;
  // The running statistics after a training batch, in place: running_mean = (1 - momentum) *
  // running_mean + momentum * mean, and likewise running_var with var * var_scale (n / (n - 1):
  // PyTorch's unbiased running variance). All (C), one dtype, contiguous. The default is six
  // unary/binary maps (src/backend/norm_defaults.cpp); a GPU backend fuses them into one launch.
  virtual void batch_norm_update_running(const Tensor& mean, const Tensor& var, Tensor& running_mean,
                                         Tensor& running_var, double momentum, double var_scale);
  // counter += 1 in place, for a one-element tensor of any dtype (BatchNorm's int64
  // num_batches_tracked), with no read to the host. The default converts through float64.
  virtual void increment(Tensor& counter);

  // --- sparse (CSR) ---
  // out(B, rows, F) = A @ x(B, cols, F) (+ c) for every b, with A a CSR matrix (rows x cols):
  // row_offsets int64 (rows + 1), col_indices int64 (nnz), values (nnz) in x's dtype. x, out and
  // the CSR arrays are contiguous; c is undefined or has out's shape with any strides (a bias
  // arrives as a stride-0 view), read in the same pass. The op has validated the structure. A
  // CUDA backend maps this onto cuSPARSE SpMM (beta = 1 after copying c).
  virtual void spmm_csr(const Tensor& row_offsets, const Tensor& col_indices, const Tensor& values, const Tensor& x,
                        const Tensor& c, Tensor& out) = 0;

  // Waits for queued work on this device (no-op on the CPU).
  virtual void synchronize() {}
};

// The backend for a device; throws Error when none is registered (e.g. cuda without a CUDA build).
Backend& backend_for(Device device);
bool has_backend(DeviceType type);
void register_backend(DeviceType type, std::unique_ptr<Backend> backend);

// Throws Error naming the optimizer, the entry's index and shape when a *_step_group list does not
// fit its contract (undefined or missing tensors, shapes, dtypes, devices, non-contiguous tensors).
// Backends call these before updating anything, so a bad list changes no tensor.
void check_step_group(const std::vector<SgdTensors>& tensors, const SgdParams& p);
void check_step_group(const std::vector<AdamTensors>& tensors, const AdamParams& p);
void check_step_group(const std::vector<AdagradTensors>& tensors, const AdagradParams& p);
void check_step_group(const std::vector<RmspropTensors>& tensors, const RmspropParams& p);

// Whether the CPU backend may use Winograd for dense 3x3 stride-1 convolutions with at least 32
// input and output channels (default on, or MAGMADNN_CONV_WINOGRAD=0 in the environment). It is
// ~1.5x faster there; results differ from direct convolution by ~1e-6 of the outputs' magnitude.
void set_conv_winograd(bool enabled);
bool conv_winograd_enabled();

// bf16 math for float32 on the CPU (the CPU's counterpart of set_allow_tf32 on CUDA): when
// allowed and the CPU has bf16 dot-product instructions (AVX512_BF16 or AMX-BF16), float32
// convolutions (forward and both backward passes) and matmuls round their inputs to bfloat16
// (8-bit significand, round to nearest even) and accumulate and write in float32. About 2x the
// float32 throughput of those kernels; each product carries a relative error up to 2^-8, so sums
// of many terms are accurate to ~1e-3..1e-2 of their magnitude. Parameters, activations,
// gradients and optimizer state stay float32 (no loss scaling is needed: bf16 has fp32's range).
// Default off. Without the instructions nothing changes (cpu_has_bf16() says which). float64 is
// never affected. Applies to calls made after the change.
void set_allow_bf16(bool enabled);
bool allow_bf16();
bool cpu_has_bf16();
// Whether float32 convolutions and matmuls run in bf16 now: allow_bf16() && cpu_has_bf16().
bool cpu_bf16_active();

// Threads used by CPU kernels (OpenMP and oneDNN).
void set_num_threads(int n);
int get_num_threads();

}  // namespace magmadnn
