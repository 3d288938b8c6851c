// Inference fusion: in eval mode a BatchNorm that directly follows a convolution is an affine
// map per output channel, so it can be folded into the convolution's weights and bias; a ReLU
// that follows is applied in place on the convolution's output. Results equal the unfused
// eval-mode model up to rounding. The model is changed in place and is for inference only.
#pragma once

#include "magmadnn/nn/conv.h"
#include "magmadnn/nn/normalization.h"

namespace magmadnn::nn {

// conv(x) followed by bn in eval mode == conv'(x), with
//   W' = W * gamma / sqrt(var + eps),  b' = (b - mean) * gamma / sqrt(var + eps) + beta.
void fold_batch_norm(Conv2d& conv, BatchNormBase& bn);

// Switches the model to eval mode and calls model.fuse_for_inference().
void fuse_for_inference(Module& model);

}  // namespace magmadnn::nn
