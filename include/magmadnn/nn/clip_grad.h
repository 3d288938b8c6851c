// Gradient clipping, as torch.nn.utils: clip_grad_norm_ rescales all gradients together so their
// total norm is at most max_norm; clip_grad_value_ clamps each element. Both work on the
// parameters' device without reading anything back to the host (unless asked to check for
// non-finite norms), so they fit between backward() and the optimizer step of any backend.
#pragma once

#include <functional>
#include <vector>

#include "magmadnn/core/tensor.h"

namespace magmadnn::nn::utils {

// total = (sum over the gradients g of sum(|g|^p))^(1/p) (the largest |g| for p = inf), over the
// parameters whose .grad() is defined; each of those gradients is multiplied in place by
// min(1, max_norm / (total + 1e-6)). Returns total as a float64 scalar on the gradients' device
// (0 when no parameter has a gradient). norm_type > 0 or infinity. With error_if_nonfinite a NaN or
// infinite total is an Error (a host read) and no gradient is changed; otherwise a non-finite
// total leaves NaN gradients, as in PyTorch.
// `combine`, when given, receives this process's float64 sum of |g|^p before the root is taken and
// must add the other processes' in place (e.g. all_reduce Sum over a pipeline's stages, each of
// which holds part of the model's gradients); every process calls it, with or without gradients.
// Finite norm types only.
Tensor clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false, const std::function<void(Tensor&)>& combine = nullptr);

// Multiplies every defined gradient by `factor` (a tensor on the gradients' device that
// broadcasts to each of them, e.g. a scalar), in place where the gradient is contiguous (the storage optimizers and DDP buckets see);
// a gradient that is a broadcast view is replaced by the product.
void scale_grad_(const std::vector<Tensor>& parameters, const Tensor& factor);

// Replaces every defined gradient by its elements clamped to [-clip_value, clip_value].
void clip_grad_value_(const std::vector<Tensor>& parameters, double clip_value);

}  // namespace magmadnn::nn::utils
